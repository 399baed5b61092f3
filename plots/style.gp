# style.gp — the look every shapebench picture shares: PNG (pngcairo) or SVG by `fmt`, fonts readable at
# 100 %, the measurement and machine in the title, colours per scaling knob. Loaded by the other scripts.
# SVGs are interactive (`mouse standalone`): every shape's point shows its name on hover, where the PNG
# names only the points that have room.
# Expects: fmt ('png' or 'svg'), out (the file to write), machine and setting (one line each), datadir.
if (fmt eq 'png') {
    set terminal pngcairo size 1600,1000 noenhanced font 'DejaVu Sans,17' linewidth 2
} else {
    set terminal svg size 1600,1000 mouse standalone noenhanced font 'DejaVu Sans,17' linewidth 2 \
        background rgb 'white'
}
set output out
set datafile separator "\t"
set grid lc rgb '#d0d0d0'
set border 3
set tics nomirror
set key outside right top box opaque
set pointsize 2

# shapes.tsv columns, as plots/draw.c writes them.
SHAPE = 1; SCALING = 2; PARAMS_M = 3; GFLOP_PER_TOKEN = 4; TOKENS_PER_S = 5; DECODER_LAYERS = 6; D_MODEL = 7
MS_PER_TOKEN = 8; SECONDS = 9; QUALITY = 10; METRIC = 11
# The 95 % interval of the median repetition, as tokens/s and ms/token (the error bars).
TOKENS_LO = 12; TOKENS_HI = 13; MS_LO = 14; MS_HI = 15
# The quality's standard deviation over seeds, where the record has one.
QUALITY_SD = 16
shapes = datadir.'/shapes.tsv'

# One colour and legend title per value of the record's `scaling` field.
knob_colour(k) = k eq 'base' ? '#000000' : k eq 'depth' ? '#1f77b4' : k eq 'width' ? '#d62728' : \
                 k eq 'attention' ? '#2ca02c' : k eq 'switch' ? '#9467bd' : '#7f7f7f'
knob_title(k) = k eq 'base' ? 'base sizes' : k eq 'depth' ? 'depth (nl/el/dl)' : k eq 'width' ? 'width (dm/ff)' : \
                k eq 'attention' ? 'attention (kv/nh/skv)' : k eq 'switch' ? 'Switch experts' : k

# Every title: the subject, then the measurement drawn (mode, batch, lengths, precision: `setting`), then the
# machine (CPU, GEMM backend and core, threads).
heading(subject) = subject."\n".setting."\n".machine

# Axes: plots/axis.gp sets each from the extent of its data (range, log or linear, tic labels), which
# `stats` measures: it reads one column as y, within y's current range and scale, so a picture measures
# every extent (after `@free_y`) before it sets any axis.
free_y = 'unset logscale y; set autoscale y'

# Panels side by side (latency.gp, quality.gp, probe_frontier.gp, under `set multiplot title`): `@panel` puts
# panel panel_i of panel_n across the picture, between the title and a row at the foot for the one key, drawn
# last: `@key_row`, then a plot of `keyentry`s (and a function below the range: a plot needs one).
panel = "set origin (panel_i - 1.0) / panel_n, 0.07; set size 1.0 / panel_n, 0.83; unset key"
key_row = "set origin 0, 0; set size 1, 0.07; unset border; unset tics; unset xlabel; unset ylabel; unset grid; ".\
          "unset logscale; set xrange [0:1]; set yrange [0:1]; set key center center horizontal box opaque font ',13'"

# Names beside points, from a labels_*.tsv file in `names` (placed by plots/labels.c so none overlap).
names_r = "names using 1:2:(at('r')) with labels left offset char 1.3,0 font ',11' tc rgb '#303030' notitle"
names_l = "names using 1:2:(at('l')) with labels right offset char -1.3,0 font ',11' tc rgb '#303030' notitle"
names_a = "names using 1:2:(at('a')) with labels center offset char 0,1 font ',11' tc rgb '#303030' notitle"
