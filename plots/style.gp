# style.gp — the look every shapebench picture shares: PNG (pngcairo) or SVG by `fmt`, fonts readable at
# 100 %, the machine and BLAS core in the title, colours per scaling knob. Loaded by the other scripts.
# SVGs are interactive (`mouse standalone`): every shape's point shows its name on hover, where the PNG
# names only the points that have room.
# Expects: fmt ('png' or 'svg'), out (the file to write), machine (one line), datadir.
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
shapes = datadir.'/shapes.tsv'

# One colour and legend title per value of the record's `scaling` field.
knob_colour(k) = k eq 'base' ? '#000000' : k eq 'depth' ? '#1f77b4' : k eq 'width' ? '#d62728' : \
                 k eq 'attention' ? '#2ca02c' : k eq 'switch' ? '#9467bd' : '#7f7f7f'
knob_title(k) = k eq 'base' ? 'base sizes' : k eq 'depth' ? 'depth (nl/el/dl)' : k eq 'width' ? 'width (dm/ff)' : \
                k eq 'attention' ? 'attention (kv/nh/skv)' : k eq 'switch' ? 'Switch experts' : k

# Log axes labelled at 1, 2 and 5 of every decade: a range within one or two decades still gets labels.
# On x the 5s are unlabelled minor tics, and so are the 2s from 20000 on: five-digit labels side by side
# ("10000" "20000") run into each other in the narrower pictures.
log_x = "set logscale x; set format x '%g'; do for [e = -6:13] { set xtics add (10.0**e); if (e <= 3) { set xtics add (2 * 10.0**e) } else { set xtics add ('' 2 * 10.0**e 1) }; set xtics add ('' 5 * 10.0**e 1) }"
log_y = "set logscale y; set format y '%g'; do for [e = -6:13] { set ytics add (10.0**e, 2 * 10.0**e, 5 * 10.0**e) }"

# Names beside points, from a labels_*.tsv file in `names` (placed by plots/labels.c so none overlap).
names_r = "names using 1:2:(at('r')) with labels left offset char 0.7,0 font ',11' tc rgb '#303030' notitle"
names_l = "names using 1:2:(at('l')) with labels right offset char -0.7,0 font ',11' tc rgb '#303030' notitle"
names_a = "names using 1:2:(at('a')) with labels center offset char 0,1 font ',11' tc rgb '#303030' notitle"
