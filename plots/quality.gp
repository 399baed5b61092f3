# quality.gp — quality against three costs: parameters, executed FLOPs per token, measured seconds per
# repetition. Expects style.gp's variables, plus: metric (rows of shapes.tsv with this metric are drawn),
# ylabel (the metric with its unit and direction), knobs. Names from labels_quality_<metric>_<panel>.tsv
# (plots/labels.c: only where they fit).
load scriptdir.'/style.gp'
set multiplot layout 1,3 title 'Quality vs cost ('.metric.")\n".machine
set key inside top left box opaque font ',13'
set ylabel ylabel
set autoscale fix
set offsets graph 0.15, graph 0.15, graph 0.1, graph 0.1
has_quality = 'strcol(METRIC) eq metric && valid(QUALITY)'
# Rows without this metric would stretch the cost axis without showing a point.
cost(c) = @has_quality ? column(c) : NaN
q(k) = @has_quality && (k eq 'any' || strcol(SCALING) eq k) ? column(QUALITY) : NaN
at(p) = strcol(4) eq p ? strcol(3) : ''
do for [panel = 1:3] {
    col = panel == 1 ? PARAMS_M : panel == 2 ? GFLOP_PER_TOKEN : SECONDS
    set xlabel (panel == 1 ? 'parameters (millions)' : panel == 2 ? 'executed GFLOP per token' : \
                'measured time per repetition (s)')
    # Few quality figures often span less than a decade: a log axis would carry no labels there.
    stats shapes using (cost(col)) nooutput
    if (STATS_min > 0 && STATS_max > 10 * STATS_min) { @log_x } else { unset logscale x; set xtics auto }
    names = datadir.'/labels_quality_'.metric.'_'.panel.'.tsv'
    plot for [k in knobs] shapes using (cost(col)):(q(k)) with points pt 7 lc rgb knob_colour(k) title knob_title(k), \
         @names_r, @names_l, @names_a
    unset ylabel
    unset key
}
unset multiplot
