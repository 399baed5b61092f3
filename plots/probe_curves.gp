# probe_curves.gp — the quality probe's learning curves: held-out loss against training FLOPs (log x), one
# line per shape with its seed standard deviation as error bars, and the unigram and bigram reference lines
# (the loss of models that read no input).
# Expects style.gp's variables, plus: unigram, bigram (nats/token; 0: none recorded), shapes_n (blocks of
# probe_curves.tsv), xlo, xhi (training FLOPs), ylo, yhi (nats/token: loss +- sd and the reference lines).
load scriptdir.'/style.gp'
set title heading('Learning curves: held-out loss vs training FLOPs')
set xlabel 'training FLOPs (count: executed forward + backward GEMMs)'
set ylabel 'held-out loss (nats/token, lower is better)'
axis_tics = 8
axis_name = 'x'; axis_lo = xlo; axis_hi = xhi; axis_log = xlo > 0 ? 10 : 0; axis_pad_lo = 0.05; axis_pad_hi = 0.05
load scriptdir.'/axis.gp'
axis_name = 'y'; axis_lo = ylo; axis_hi = yhi; axis_log = 0; axis_pad_lo = 0.05; axis_pad_hi = 0.05
load scriptdir.'/axis.gp'
set key outside right top box opaque font ',12'
curves = datadir.'/probe_curves.tsv'
# Ten colours, then the same ten dashed: no two shapes alike.
curve_colour(i) = word('#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf', i % 10 + 1)
curve_dash(i) = i / 10 + 1
plot for [i = 0:shapes_n - 1] curves index i using 3:5:6 with yerrorlines lw 2 pt 7 ps 1 lc rgb curve_colour(i) \
         dt curve_dash(i) title columnheader(1), \
     (unigram > 0 ? unigram : NaN) with lines dt 2 lw 2 lc rgb '#555555' title sprintf('unigram %.3f', unigram), \
     (bigram > 0 ? bigram : NaN) with lines dt 3 lw 2 lc rgb '#555555' title sprintf('bigram %.3f', bigram)
