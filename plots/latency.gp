# latency.gp — generation latency per token (generate records) against the decoder's depth and against
# width. A step runs the decoder's blocks one after another, so per-token latency grows with the decoder's
# depth (the encoder runs once per sequence, outside the steps). Log latency: it spans three decades.
# Expects style.gp's variables, plus knobs. Names from labels_latency_{depth,width}.tsv (plots/labels.c).
load scriptdir.'/style.gp'
set multiplot layout 1,2 title "Generation latency per token vs decoder depth and width\n".machine
set ylabel 'generation latency (ms/token)'
@log_y
# Ranges are the data's plus these offsets, the geometry plots/labels.c placed the names in.
set autoscale fix
set offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1
lat(k) = strcol(SCALING) eq k ? column(MS_PER_TOKEN) : NaN
set xlabel 'depth: decoder blocks (count)'
unset key
at(p) = strcol(4) eq p ? strcol(3) : ''
names = datadir.'/labels_latency_depth.tsv'
plot for [k in knobs] shapes using DECODER_LAYERS:(lat(k)):SHAPE with labels hypertext point pt 7 \
         lc rgb knob_colour(k) notitle, \
     @names_r, @names_l, @names_a
set xlabel 'width: d_model (features)'
set logscale x 2
unset ylabel
set key inside top left box opaque font ',13'
names = datadir.'/labels_latency_width.tsv'
plot for [k in knobs] shapes using D_MODEL:(lat(k)):SHAPE with labels hypertext point pt 7 lc rgb knob_colour(k) \
         title knob_title(k), \
     @names_r, @names_l, @names_a
unset multiplot
