# probe_frontier.gp — held-out loss against each cost with its Pareto frontier (lower loss for lower cost,
# a step line through ringed points): params and training FLOPs (every point of every curve), and with a
# speed run joined forward seconds per sequence and generation ms per token. Error bars: seed standard
# deviation. Every shape named at the budget where its name fits (labels_probe_<cost>.tsv, placed by
# plots/labels.c in the geometry set here, style.gp's panels); the unigram and bigram reference lines on every panel.
# Expects style.gp's variables, plus: unigram, bigram (nats/token; 0: none recorded), panels (the costs
# drawn, of 'params flops forward generate'), extents (per panel 'x from, x to, y from, y to': the extent of
# the points it draws, their loss +- sd, and the reference lines; plots/probe_view.c).
load scriptdir.'/style.gp'
set multiplot title heading('Held-out loss vs cost, with Pareto frontiers')
panel_n = words(panels)
set ylabel 'held-out loss (nats/token, lower is better)'
final = datadir.'/probe_final.tsv'
curves = datadir.'/probe_curves.tsv'
label(c) = c eq 'params' ? 'parameters (millions)' : c eq 'flops' ? 'training FLOPs (count)' : \
           c eq 'forward' ? 'forward seconds per sequence (speed run)' : 'generation ms per token (speed run)'
column_of(c) = c eq 'params' ? 3 : c eq 'forward' ? 6 : 7
at(p) = strcol(4) eq p ? strcol(3) : ''
unigram_line = unigram > 0 ? unigram : NaN
bigram_line = bigram > 0 ? bigram : NaN
axis_tics = 6
do for [panel_i = 1:panel_n] {
    @panel
    c = word(panels, panel_i)
    set xlabel label(c)
    extent(j) = real(word(extents, 4 * (panel_i - 1) + j))
    axis_name = 'y'; axis_lo = extent(3); axis_hi = extent(4); axis_log = 0; axis_pad_lo = 0.1; axis_pad_hi = 0.1
    load scriptdir.'/axis.gp'
    axis_name = 'x'; axis_lo = extent(1); axis_hi = extent(2)
    axis_log = axis_lo > 0 && axis_hi > 10 * axis_lo ? 10 : 0; axis_pad_lo = 0.15; axis_pad_hi = 0.15
    load scriptdir.'/axis.gp'
    front = datadir.'/probe_frontier_'.c.'.tsv'
    names = datadir.'/labels_probe_'.c.'.tsv'
    if (c eq 'flops') {
        plot curves using 3:5:6 with yerrorbars pt 7 ps 0.8 lc rgb '#1f77b4' notitle, \
             front using 1:2 with steps lw 3 lc rgb '#ff8c00' notitle, \
             front using 1:2 with points pt 6 ps 3 lw 2 lc rgb '#ff8c00' notitle, \
             unigram_line with lines dt 2 lc rgb '#555555' notitle, \
             bigram_line with lines dt 3 lc rgb '#555555' notitle, \
             @names_r, @names_l, @names_a
    } else {
        plot final using (column(column_of(c))):4:5 with yerrorbars pt 7 lc rgb '#1f77b4' notitle, \
             front using 1:2 with steps lw 3 lc rgb '#ff8c00' notitle, \
             front using 1:2 with points pt 6 ps 3 lw 2 lc rgb '#ff8c00' notitle, \
             unigram_line with lines dt 2 lc rgb '#555555' notitle, \
             bigram_line with lines dt 3 lc rgb '#555555' notitle, \
             @names_r, @names_l, @names_a
    }
    unset ylabel
}
@key_row
plot -1 notitle, \
     keyentry with yerrorbars pt 7 lc rgb '#1f77b4' title 'shape at the budget (training FLOPs: every curve point)', \
     keyentry with linespoints lw 3 pt 6 ps 3 lc rgb '#ff8c00' title 'Pareto frontier', \
     keyentry with lines dt 2 lc rgb '#555555' title (unigram > 0 ? sprintf('unigram %.3f', unigram) : ''), \
     keyentry with lines dt 3 lc rgb '#555555' title (bigram > 0 ? sprintf('bigram %.3f', bigram) : '')
unset multiplot
