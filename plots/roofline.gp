# roofline.gp — arithmetic intensity against GFLOP/s under the measured roofs: min(sgemm peak, intensity x
# stream-copy bandwidth), and the FMA-loop peak. Timed rates are filled points; op classes without one
# (records of schema 1) are hollow points on their ceiling (the roof at their intensity).
# Expects style.gp's variables, plus: timed, untimed (op classes, space-separated), sgemm, fma (GFLOP/s),
# bandwidth (GB/s), xmin, xmax (FLOP/byte).
load scriptdir.'/style.gp'
set title "Roofline: op classes vs arithmetic intensity\n".machine
set xlabel 'arithmetic intensity (FLOP/byte)'
set ylabel 'GFLOP/s'
set logscale xy
set xrange [xmin:xmax]
set samples 400
set key inside bottom right box opaque font ',14'
roof(x) = x * bandwidth < sgemm ? x * bandwidth : sgemm
rows = datadir.'/roofline.tsv'
OP = 2; INTENSITY = 3; ACHIEVED = 4
op_colour(w) = word('#1f77b4 #d62728 #2ca02c #9467bd #8c564b #e377c2 #17becf #bcbd22', (w - 1) % 8 + 1)
plot roof(x) with lines lw 3 lc rgb '#000000' \
         title sprintf('roof: sgemm %.0f GFLOP/s, copy %.1f GB/s', sgemm, bandwidth), \
     fma with lines dt 2 lw 2 lc rgb '#7f7f7f' title sprintf('FMA-loop peak %.0f GFLOP/s', fma), \
     for [i = 1:words(timed)] rows using INTENSITY:(strcol(OP) eq word(timed, i) ? column(ACHIEVED) : NaN) \
         with points pt 7 lc rgb op_colour(i) title word(timed, i).' (timed)', \
     for [i = 1:words(untimed)] rows \
         using INTENSITY:(strcol(OP) eq word(untimed, i) && strcol(ACHIEVED) eq 'untimed' ? \
                          roof(column(INTENSITY)) : NaN) \
         with points pt 6 ps 2.5 lw 2 lc rgb op_colour(words(timed) + i) title word(untimed, i).' (ceiling)'
