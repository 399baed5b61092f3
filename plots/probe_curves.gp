# probe_curves.gp — the quality probe's learning curves: held-out loss against training FLOPs (log x), one
# line per shape with its seed standard deviation as error bars, and the unigram and bigram reference lines
# (the loss of models that read no input).
# Expects style.gp's variables, plus: unigram, bigram (nats/token), shapes_n (blocks of probe_curves.tsv).
load scriptdir.'/style.gp'
set title "Learning curves: held-out loss vs training FLOPs\n".machine
set xlabel 'training FLOPs (count: executed forward + backward GEMMs)'
set ylabel 'held-out loss (nats/token, lower is better)'
@log_x
set key outside right top box opaque font ',12'
curves = datadir.'/probe_curves.tsv'
plot for [i = 0:shapes_n - 1] curves index i using 3:5:6 with yerrorlines lw 2 pt 7 ps 1 title columnheader(1), \
     unigram with lines dt 2 lw 2 lc rgb '#555555' title sprintf('unigram %.3f', unigram), \
     bigram with lines dt 3 lw 2 lc rgb '#555555' title sprintf('bigram %.3f', bigram)
