# axis.gp — one axis of a picture: its range, scale and tic labels, from the extent of the data drawn on it.
# Loaded (after style.gp) with these set:
#   axis_name  'x' or 'y'
#   axis_lo, axis_hi  the smallest and largest value drawn (> 0 on a log axis)
#   axis_log   0: linear; 10: log, labelled at 1, 2, 5 of each decade; 2: log, labelled at powers of two
#   axis_pad_lo, axis_pad_hi  fractions of the extent added below and above (room for names and the key)
#   axis_tics  the most tic labels the panel has room for side by side (at least 5)
#   axis_whole (optional, 1: a count, labelled at whole numbers where two fit; read once, then cleared)
# The range is [lo - pad_lo * extent, hi + pad_hi * extent], in log10 on a log axis, where a single value's
# extent is a decade (log) or the value itself (linear): plots/labels.c maps names onto the same range.
# A log axis spanning at least a decade (log 2: a factor 4) is labelled at 1-2-5 (or powers of two), thinned
# to axis_tics; a narrower range, or a linear axis, at multiples of the smallest step of 1, 2 or 5 times a
# power of ten that puts at most axis_tics labels in the range (so at least two: the next smaller step put
# more than axis_tics there, and steps grow at most 2.5-fold). Only numbers reach the
# `eval`s below: the range and tics of this axis, printed with sprintf.
axis_t(v) = axis_log ? log10(v) : v
axis_v(t) = axis_log ? 10.0**t : t
axis_extent = axis_hi > axis_lo ? axis_t(axis_hi) - axis_t(axis_lo) : axis_log ? 1.0 : axis_lo != 0 ? abs(axis_lo) : 1.0
axis_from = axis_v(axis_t(axis_lo) - axis_pad_lo * axis_extent)
axis_to = axis_v(axis_t(axis_hi) + axis_pad_hi * axis_extent)
eval (axis_log ? 'set logscale ' : 'unset logscale ').axis_name
eval sprintf('set %srange [%.12g:%.12g]', axis_name, axis_from, axis_to)
eval sprintf("set format %s '%%g'", axis_name)
axis_list = ''
axis_decades = axis_log ? log10(axis_to / axis_from) : 0
if (axis_log == 10 && axis_decades >= 1) {
    axis_marks = 3 * axis_decades <= axis_tics ? ' 1 2 5 ' : 2 * axis_decades <= axis_tics ? ' 1 3 ' : ' 1 '
    axis_every = axis_decades <= axis_tics ? 1 : ceil(axis_decades / axis_tics)
    do for [e = floor(log10(axis_from)):ceil(log10(axis_to))] {
        do for [m = 1:9] {
            axis_labelled = strstrt(axis_marks, sprintf(' %d ', m)) > 0 && e % axis_every == 0
            axis_list = axis_list.sprintf(axis_labelled ? '%.12g,' : '"" %.12g 1,', m * 10.0**e)
        }
    }
} else {
    if (axis_log == 2 && axis_to / axis_from >= 4) {
        axis_twos = log(axis_to / axis_from) / log(2)
        axis_every = axis_twos <= axis_tics ? 1 : ceil(axis_twos / axis_tics)
        do for [e = floor(log(axis_from) / log(2)):ceil(log(axis_to) / log(2))] {
            axis_list = axis_list.sprintf(e % axis_every == 0 ? '%.12g,' : '"" %.12g 1,', 2.0**e)
        }
    } else {
        axis_count(step) = floor(axis_to / step) - ceil(axis_from / step) + 1
        axis_power = 10.0**floor(log10((axis_to - axis_from) / axis_tics))
        if (exists('axis_whole') && axis_whole && axis_power < 1 && axis_count(1) >= 2) { axis_power = 1 }
        axis_k = 0
        axis_step = axis_power
        while (axis_count(axis_step) > axis_tics) {
            axis_k = axis_k + 1
            axis_step = axis_power * real(word('1 2 5', axis_k % 3 + 1)) * 10.0**(axis_k / 3)
        }
        do for [k = ceil(axis_from / axis_step):floor(axis_to / axis_step)] {
            axis_list = axis_list.sprintf('%.12g,', k * axis_step)
        }
    }
}
eval sprintf('set %stics (%s)', axis_name, axis_list[1:strlen(axis_list) - 1])
undefine axis_whole
