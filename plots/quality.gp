# quality.gp — quality against up to three costs: parameters, executed FLOPs per token, measured seconds per
# repetition (the panels the run has figures for). Expects style.gp's variables, plus: metric (rows of
# shapes.tsv with this metric are drawn), ylabel (the metric with its unit and direction), knobs, panels (of
# 'params flops seconds'). Error bars: the standard deviation over seeds, where a record has one. Names
# from labels_quality_<metric>_<panel>.tsv (plots/labels.c: only where they fit, in the geometry set here:
# a log cost axis when the costs span more than a decade, pads 0.15 left and right, 0.1 below and above,
# style.gp's panels).
load scriptdir.'/style.gp'
set multiplot title heading('Quality vs cost ('.metric.')')
panel_n = words(panels)
set ylabel ylabel
has_quality = 'strcol(METRIC) eq metric && valid(QUALITY)'
# Rows without this metric would stretch the cost axis without showing a point.
cost(c) = @has_quality ? column(c) : NaN
q(k) = @has_quality && (k eq 'any' || strcol(SCALING) eq k) ? column(QUALITY) : NaN
at(p) = strcol(4) eq p ? strcol(3) : ''
axis_tics = 6
do for [panel_i = 1:panel_n] {
    @panel
    cost_i = word(panels, panel_i) eq 'params' ? 1 : word(panels, panel_i) eq 'flops' ? 2 : 3
    col = cost_i == 1 ? PARAMS_M : cost_i == 2 ? GFLOP_PER_TOKEN : SECONDS
    set xlabel (cost_i == 1 ? 'parameters (millions)' : cost_i == 2 ? 'executed GFLOP per token' : \
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
    names = datadir.'/labels_quality_'.metric.'_'.cost_i.'.tsv'
    plot for [k in knobs] shapes using (cost(col)):(valid(QUALITY_SD) ? q(k) : NaN):QUALITY_SD with yerrorbars \
             pt 7 ps 0 lc rgb knob_colour(k) notitle, \
         for [k in knobs] shapes using (cost(col)):(q(k)):SHAPE with labels hypertext point pt 7 \
             lc rgb knob_colour(k) notitle, \
         @names_r, @names_l, @names_a
    unset ylabel
}
@key_row
plot -1 notitle, for [k in knobs] keyentry with points pt 7 lc rgb knob_colour(k) title knob_title(k)
unset multiplot
