# probe_frontier.gp — held-out loss against each cost with its Pareto frontier (lower loss for lower cost,
# a step line, its shapes named): params and training FLOPs (every point of every curve), and with a speed
# run joined forward seconds per sequence and generation ms per token. Error bars: seed standard deviation.
# The unigram and bigram reference lines on every panel.
# Expects style.gp's variables, plus: unigram, bigram (nats/token), panels (the costs drawn, of 'params flops
# forward generate').
load scriptdir.'/style.gp'
set multiplot layout 1,words(panels) title "Held-out loss vs cost, with Pareto frontiers\n".machine
set ylabel 'held-out loss (nats/token, lower is better)'
set key inside top right box opaque font ',11'
set offsets graph 0.05, graph 0.05, graph 0.1, graph 0.1
final = datadir.'/probe_final.tsv'
curves = datadir.'/probe_curves.tsv'
label(c) = c eq 'params' ? 'parameters (millions)' : c eq 'flops' ? 'training FLOPs' : \
           c eq 'forward' ? 'forward seconds per sequence (speed run)' : 'generation ms per token (speed run)'
column_of(c) = c eq 'params' ? 3 : c eq 'forward' ? 6 : 7
first = 1
do for [c in panels] {
    set xlabel label(c)
    front = datadir.'/probe_frontier_'.c.'.tsv'
    if (c eq 'flops') {
        @log_x
        plot curves using 3:5:6 with yerrorbars pt 7 ps 0.8 lc rgb '#1f77b4' title 'every curve point', \
             front using 1:2 with steps lw 3 lc rgb '#ff8c00' title 'Pareto frontier', \
             unigram with lines dt 2 lc rgb '#555555' title (first ? 'unigram' : ''), \
             bigram with lines dt 3 lc rgb '#555555' title (first ? 'bigram' : '')
    } else {
        unset logscale x
        set xtics auto
        plot final using (column(column_of(c))):4:5 with yerrorbars pt 7 lc rgb '#1f77b4' title 'shape at the budget', \
             front using 1:2 with steps lw 3 lc rgb '#ff8c00' title 'Pareto frontier', \
             front using 1:2:3 with labels left offset char 0.7,0.6 font ',10' notitle, \
             unigram with lines dt 2 lc rgb '#555555' title (first ? 'unigram' : ''), \
             bigram with lines dt 3 lc rgb '#555555' title (first ? 'bigram' : '')
    }
    first = 0
    unset ylabel
}
unset multiplot
