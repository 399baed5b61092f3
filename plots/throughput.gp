# throughput.gp — tokens/s against size (parameters or executed FLOPs per token), log axes, every shape a
# point, named where the name fits (labels_<size>.tsv from labels.c), the Pareto frontier (no other shape
# both bigger and faster) as a step line through ringed points, drawn even when it is a single shape. Error
# bars: the 95 % interval of the median repetition.
# Expects style.gp's variables, plus: xcol (the name of a shapes.tsv column, e.g. 'PARAMS_M'), xlabel,
# frontier (a file under datadir: size and tokens/s of the frontier points in increasing size), labelfile
# (a file under datadir: x, y, name, placement r/l/a), by_knob
# (1: colour points by the scaling knob, from `knobs`, the knobs present), subject (the title's first line).
load scriptdir.'/style.gp'
set title heading(subject)
set xlabel xlabel
set ylabel 'throughput (tokens/s)'
xc = value(xcol)
# Shapes without a measured throughput (skipped) would stretch the axis without showing a point; on log axes
# only positive values are drawn (as plots/labels.c places names).
drawn(k) = valid(xc) && valid(TOKENS_PER_S) && column(xc) > 0 && column(TOKENS_PER_S) > 0 && \
           (k eq 'any' || strcol(SCALING) eq k)
sized(k) = drawn(k) ? column(xc) : NaN
speed(k) = drawn(k) ? column(TOKENS_PER_S) : NaN
# The axes' geometry is plots/labels.c's for the throughput pictures.
@free_y
stats shapes using (sized('any')) nooutput
x_lo = STATS_min; x_hi = STATS_max
stats shapes using (speed('any')) nooutput
axis_name = 'y'; axis_lo = STATS_min; axis_hi = STATS_max; axis_log = 10; axis_pad_lo = 0.1; axis_pad_hi = 0.1
axis_tics = 8
load scriptdir.'/axis.gp'
axis_name = 'x'; axis_lo = x_lo; axis_hi = x_hi; axis_log = 10; axis_pad_lo = 0.08; axis_pad_hi = 0.25
load scriptdir.'/axis.gp'
front = datadir.'/'.frontier
names = datadir.'/'.labelfile
at(p) = strcol(4) eq p ? strcol(3) : ''
if (by_knob) {
    plot keyentry with linespoints lw 3 pt 6 ps 3 lc rgb '#ff8c00' title 'Pareto frontier', \
         front using 1:2 with fsteps lw 3 lc rgb '#ff8c00' notitle, \
         front using 1:2 with points pt 6 ps 3 lw 2 lc rgb '#ff8c00' notitle, \
         for [k in knobs] shapes using (sized(k)):TOKENS_PER_S:TOKENS_LO:TOKENS_HI with yerrorbars pt 7 ps 0 \
             lc rgb knob_colour(k) notitle, \
         for [k in knobs] shapes using (sized(k)):TOKENS_PER_S:SHAPE with labels hypertext point pt 7 \
             lc rgb knob_colour(k) title knob_title(k), \
         @names_r, @names_l, @names_a
} else {
    plot keyentry with linespoints lw 3 pt 6 ps 3 lc rgb '#ff8c00' title 'Pareto frontier', \
         front using 1:2 with fsteps lw 3 lc rgb '#ff8c00' notitle, \
         front using 1:2 with points pt 6 ps 3 lw 2 lc rgb '#ff8c00' notitle, \
         shapes using (sized('any')):TOKENS_PER_S:TOKENS_LO:TOKENS_HI with yerrorbars pt 7 ps 0 \
             lc rgb '#1f77b4' notitle, \
         shapes using (sized('any')):TOKENS_PER_S:SHAPE with labels hypertext point pt 7 lc rgb '#1f77b4' \
             title 'shape', \
         @names_r, @names_l, @names_a
}
