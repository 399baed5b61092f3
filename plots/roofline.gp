# roofline.gp — arithmetic intensity against GFLOP/s under the measured roofs: min(sgemm peak, intensity x
# stream-copy bandwidth), and the FMA-loop peak. Every measured record's op classes: colour by op class,
# marker by mode, the shape and mode on hover in the SVG. Timed rates are filled points; op classes without
# one (records of schema 1) are rings on their ceiling (the roof at their intensity).
# Expects style.gp's variables, plus: timed, untimed (op classes, space-separated), modes (space-separated),
# sgemm, fma (GFLOP/s), bandwidth (GB/s), xlo, xhi (FLOP/byte: the points' and the ridge's extent), ylo, yhi
# (GFLOP/s: the points' and the peaks').
load scriptdir.'/style.gp'
set title heading('Roofline: op classes vs arithmetic intensity')
set xlabel 'arithmetic intensity (FLOP/byte)'
set ylabel 'achieved rate (GFLOP/s)'
axis_tics = 8
axis_name = 'x'; axis_lo = xlo; axis_hi = xhi; axis_log = 10; axis_pad_lo = 0.15; axis_pad_hi = 0.15
load scriptdir.'/axis.gp'
axis_name = 'y'; axis_lo = ylo; axis_hi = yhi; axis_log = 10; axis_pad_lo = 0.1; axis_pad_hi = 0.1
load scriptdir.'/axis.gp'
set samples 400
set key outside right top box opaque font ',13'
roof(x) = x * bandwidth < sgemm ? x * bandwidth : sgemm
rows = datadir.'/roofline.tsv'
OP = 2; INTENSITY = 3; ACHIEVED = 4; MODE = 5; HOVER = 6
op_colour(w) = word('#1f77b4 #d62728 #2ca02c #9467bd #8c564b #e377c2 #17becf #bcbd22', (w > 0 ? w - 1 : 0) % 8 + 1)
mode_point(m) = m eq 'forward' ? 7 : m eq 'encode' ? 5 : m eq 'train' ? 9 : m eq 'generate' ? 13 : 11
classes = timed.' '.untimed
class_index(c) = sum [i = 1:words(classes)] (word(classes, i) eq c ? i : 0)
timed_at(c, m) = strcol(OP) eq c && strcol(MODE) eq m && strcol(ACHIEVED) ne 'untimed' ? column(ACHIEVED) : NaN
ceiling_at(c, m) = strcol(OP) eq c && strcol(MODE) eq m && strcol(ACHIEVED) eq 'untimed' ? \
                   roof(column(INTENSITY)) : NaN
# One legend: the roofs, a colour per op class, a black marker per mode.
plot roof(x) with lines lw 3 lc rgb '#000000' \
         title sprintf('roof: sgemm %.0f GFLOP/s, copy %.1f GB/s', sgemm, bandwidth), \
     fma with lines dt 2 lw 2 lc rgb '#7f7f7f' title sprintf('FMA-loop peak %.0f GFLOP/s', fma), \
     for [c in timed] keyentry with lines lw 8 lc rgb op_colour(class_index(c)) title c, \
     for [c in untimed] keyentry with points pt 6 lw 2 lc rgb op_colour(class_index(c)) title c.' (untimed: ceiling)', \
     for [m in modes] keyentry with points pt mode_point(m) lc rgb '#000000' title m.' mode', \
     for [c in timed] for [m in modes] rows using INTENSITY:(timed_at(c, m)):HOVER with labels hypertext \
         point pt mode_point(m) lc rgb op_colour(class_index(c)) notitle, \
     for [c in untimed] for [m in modes] rows using INTENSITY:(ceiling_at(c, m)):HOVER with labels hypertext \
         point pt 6 ps 2.5 lw 2 lc rgb op_colour(class_index(c)) notitle
