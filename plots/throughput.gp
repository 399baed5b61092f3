# throughput.gp — tokens/s against size (parameters or executed FLOPs per token), log axes, every shape a
# point, named where the name fits (labels_<size>.tsv from labels.c), the Pareto frontier (no other shape
# both bigger and faster) as a step line.
# Expects style.gp's variables, plus: xcol (the name of a shapes.tsv column, e.g. 'PARAMS_M'), xlabel,
# frontier (a file under datadir: size and tokens/s of the frontier points in increasing size), labelfile
# (a file under datadir: x, y, name, placement r/l/a), by_knob
# (1: colour points by the scaling knob, from `knobs`, the knobs present), subject (the title's first line).
load scriptdir.'/style.gp'
set title subject."\n".machine
set xlabel xlabel
set ylabel 'throughput (tokens/s)'
set autoscale fix
set offsets graph 0.08, graph 0.25, graph 0.1, graph 0.1
xc = value(xcol)
# Shapes without a measured throughput (skipped) would stretch the axis without showing a point.
sized(k) = valid(TOKENS_PER_S) && (k eq 'any' || strcol(SCALING) eq k) ? column(xc) : NaN
@log_x
@log_y
front = datadir.'/'.frontier
names = datadir.'/'.labelfile
at(p) = strcol(4) eq p ? strcol(3) : ''
if (by_knob) {
    plot front using 1:2 with fsteps lw 3 lc rgb '#ff8c00' title 'Pareto frontier', \
         for [k in knobs] shapes using (sized(k)):TOKENS_PER_S:SHAPE with labels hypertext point pt 7 \
             lc rgb knob_colour(k) title knob_title(k), \
         @names_r, @names_l, @names_a
} else {
    plot front using 1:2 with fsteps lw 3 lc rgb '#ff8c00' title 'Pareto frontier', \
         shapes using (sized('any')):TOKENS_PER_S:SHAPE with labels hypertext point pt 7 lc rgb '#1f77b4' \
             title 'shape', \
         @names_r, @names_l, @names_a
}
