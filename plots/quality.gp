# quality.gp — quality against up to three costs: parameters, executed FLOPs per token, measured seconds per
# repetition (the panels the run has figures for). Expects style.gp's variables, plus: metric (rows of
# shapes.tsv with this metric are drawn), ylabel (the metric with its unit and direction), knobs, panels (of
# 'params flops seconds'). Error bars: the standard deviation over seeds, where a record has one. Names from labels_quality_<metric>_<panel>.tsv (plots/labels.c: only where they
# fit, in the geometry set here: a log cost axis when the costs span more than a decade, pads 0.15 left and
# right, 0.1 below and above).
load scriptdir.'/style.gp'
set multiplot layout 1,words(panels) title heading('Quality vs cost ('.metric.')')
# The key below the panels, where it covers no point or name.
set key at screen 0.5, screen 0.005 center bottom horizontal box opaque font ',13'
set bmargin 6
set ylabel ylabel
has_quality = 'strcol(METRIC) eq metric && valid(QUALITY)'
# Rows without this metric would stretch the cost axis without showing a point.
cost(c) = @has_quality ? column(c) : NaN
q(k) = @has_quality && (k eq 'any' || strcol(SCALING) eq k) ? column(QUALITY) : NaN
at(p) = strcol(4) eq p ? strcol(3) : ''
axis_tics = 5
do for [p in panels] {
    panel = p eq 'params' ? 1 : p eq 'flops' ? 2 : 3
    col = panel == 1 ? PARAMS_M : panel == 2 ? GFLOP_PER_TOKEN : SECONDS
    set xlabel (panel == 1 ? 'parameters (millions)' : panel == 2 ? 'executed GFLOP per token' : \
                'measured time per repetition (s)')
    @free_y
    stats shapes using (cost(col)) nooutput
    x_lo = STATS_min; x_hi = STATS_max
    stats shapes using (valid(col) ? column(QUALITY) * (@has_quality ? 1 : NaN) : NaN) nooutput
    axis_name = 'y'; axis_lo = STATS_min; axis_hi = STATS_max; axis_log = 0; axis_pad_lo = 0.1; axis_pad_hi = 0.1
    load scriptdir.'/axis.gp'
    axis_name = 'x'; axis_lo = x_lo; axis_hi = x_hi; axis_pad_lo = 0.15; axis_pad_hi = 0.15
    axis_log = x_lo > 0 && x_hi > 10 * x_lo ? 10 : 0
    load scriptdir.'/axis.gp'
    names = datadir.'/labels_quality_'.metric.'_'.panel.'.tsv'
    plot for [k in knobs] shapes using (cost(col)):(q(k)):QUALITY_SD with yerrorbars pt 7 ps 0 \
             lc rgb knob_colour(k) notitle, \
         for [k in knobs] shapes using (cost(col)):(q(k)):SHAPE with labels hypertext point pt 7 \
             lc rgb knob_colour(k) title (panel == 1 ? knob_title(k) : ''), \
         @names_r, @names_l, @names_a
    unset ylabel
}
unset multiplot
