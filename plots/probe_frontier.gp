# probe_frontier.gp — held-out loss against each cost with its Pareto frontier (lower loss for lower cost,
# a step line, its shapes named): params and training FLOPs (every point of every curve), and with a speed
# run joined forward seconds per sequence and generation ms per token. Error bars: seed standard deviation.
# The unigram and bigram reference lines on every panel.
# Expects style.gp's variables, plus: unigram, bigram (nats/token), panels (2, or 4 with speed).
load scriptdir.'/style.gp'
set multiplot layout 1,panels title "Held-out loss vs cost, with Pareto frontiers\n".machine
set ylabel 'held-out loss (nats/token, lower is better)'
set key inside top right box opaque font ',11'
set offsets graph 0.05, graph 0.05, graph 0.1, graph 0.1
final = datadir.'/probe_final.tsv'
curves = datadir.'/probe_curves.tsv'
labels = "'parameters (millions)' 'training FLOPs' 'forward seconds per sequence (speed run)' \
'generation ms per token (speed run)'"
do for [panel = 1:panels] {
    set xlabel word(labels, panel)
    front = datadir.'/probe_frontier_'.word('params flops forward generate', panel).'.tsv'
    if (panel == 2) { @log_x } else { unset logscale x; set xtics auto }
    if (panel == 1) {
        plot final using 3:4:5 with yerrorbars pt 7 lc rgb '#1f77b4' title 'shape at the budget', \
             front using 1:2 with steps lw 3 lc rgb '#ff8c00' title 'Pareto frontier', \
             front using 1:2:3 with labels left offset char 0.7,0.6 font ',10' notitle, \
             unigram with lines dt 2 lc rgb '#555555' title 'unigram', \
             bigram with lines dt 3 lc rgb '#555555' title 'bigram'
    }
    if (panel == 2) {
        plot curves using 3:5:6 with yerrorbars pt 7 ps 0.8 lc rgb '#1f77b4' title 'every curve point', \
             front using 1:2 with steps lw 3 lc rgb '#ff8c00' title 'Pareto frontier', \
             unigram with lines dt 2 lc rgb '#555555' notitle, bigram with lines dt 3 lc rgb '#555555' notitle
    }
    if (panel >= 3) {
        col = panel == 3 ? 6 : 7
        plot final using col:4:5 with yerrorbars pt 7 lc rgb '#1f77b4' title 'shape at the budget', \
             front using 1:2 with steps lw 3 lc rgb '#ff8c00' title 'Pareto frontier', \
             front using 1:2:3 with labels left offset char 0.7,0.6 font ',10' notitle, \
             unigram with lines dt 2 lc rgb '#555555' notitle, bigram with lines dt 3 lc rgb '#555555' notitle
    }
    unset ylabel
}
unset multiplot
