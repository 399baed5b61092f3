# speedup.gp — bf16 products against fp32: each shape's speed-up per repetition (fp32 seconds / bf16
# seconds) against its parameters, coloured by scaling knob, for the mode most pairs were measured in. The
# dashed line is the machine's bf16 dot-product peak over its fp32 FMA peak: the most bf16's arithmetic can
# give; products too small to run at either peak gain less. Error bars: the speed-ups the two medians' 95 %
# intervals allow (fp32's slowest over bf16's fastest, and back).
# Expects style.gp's variables, plus mode, knobs, ceiling (0: not measured). Reads precision.tsv, and the
# names that fit from labels_precision.tsv (plots/labels.c, in the geometry set here).
load scriptdir.'/style.gp'
set title heading('bf16 speed-up over fp32 vs parameters')
set xlabel 'parameters (millions)'
set ylabel 'speed-up: fp32 seconds / bf16 seconds'
set key outside right top box opaque
pairs = datadir.'/precision.tsv'
speedup(k) = strcol(2) eq k ? pair(4) : NaN
@free_y
pair(c) = strcol(5) eq mode && valid(4) && column(3) > 0 ? column(c) : NaN
stats pairs using (pair(3)) nooutput
x_lo = STATS_min; x_hi = STATS_max
# The range holds 1 (no gain) and the peak ratio, the two reference lines (plots/draw.c's extent too).
stats pairs using (pair(4)) nooutput
top = ceiling > 1 ? ceiling : 1
axis_name = 'y'; axis_lo = STATS_min < 1 ? STATS_min : 1; axis_hi = STATS_max > top ? STATS_max : top
axis_log = 0; axis_pad_lo = 0.1; axis_pad_hi = 0.1; axis_tics = 8
load scriptdir.'/axis.gp'
axis_name = 'x'; axis_lo = x_lo; axis_hi = x_hi; axis_log = 10; axis_pad_lo = 0.05; axis_pad_hi = 0.05
load scriptdir.'/axis.gp'
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#808080' dt 3
if (ceiling > 0) {
    set arrow from graph 0, first ceiling to graph 1, first ceiling nohead lc rgb '#404040' dt 2
    set label sprintf('peak ratio %.2fx', ceiling) at graph 0.01, first ceiling offset 0,0.7 font ',12'
}
names = datadir.'/labels_precision.tsv'
at(p) = strcol(4) eq p ? strcol(3) : ''
plot for [k in knobs] pairs using 3:(speedup(k)):8:9 with yerrorbars pt 7 ps 0 lc rgb knob_colour(k) notitle, \
     for [k in knobs] pairs using 3:(speedup(k)):1 with labels hypertext point pt 7 lc rgb knob_colour(k) \
         title knob_title(k), \
     @names_r, @names_l, @names_a
