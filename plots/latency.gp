# latency.gp — generation latency per token (generate records) against the decoder's depth and against
# width. A step runs the decoder's blocks one after another, so per-token latency grows with the decoder's
# depth (the encoder runs once per sequence, outside the steps). Log latency: it spans three decades. Error
# bars: the 95 % interval of the median repetition.
# Expects style.gp's variables, plus knobs. Names from labels_latency_{depth,width}.tsv (plots/labels.c,
# which places them in the geometry set here: pads 0.1 all round, style.gp's panels).
load scriptdir.'/style.gp'
set multiplot title heading('Generation latency per token vs decoder depth and width')
panel_n = 2
set ylabel 'generation latency (ms/token)'
lat(k) = strcol(SCALING) eq k && column(MS_PER_TOKEN) > 0 ? column(MS_PER_TOKEN) : NaN
at(p) = strcol(4) eq p ? strcol(3) : ''
axis_pad_lo = 0.1; axis_pad_hi = 0.1; axis_tics = 6
# Only rows with a latency count, on either axis (a positive one: the axis is log, and so is width's).
has_latency = 'valid(MS_PER_TOKEN) && column(MS_PER_TOKEN) > 0'
depth = '@has_latency ? column(DECODER_LAYERS) : NaN'
width = '@has_latency && column(D_MODEL) > 0 ? column(D_MODEL) : NaN'
latency = '@has_latency && valid(DECODER_LAYERS) && column(D_MODEL) > 0 ? column(MS_PER_TOKEN) : NaN'
@free_y
stats shapes using (@depth) nooutput
depth_lo = STATS_min; depth_hi = STATS_max
stats shapes using (@width) nooutput
width_lo = STATS_min; width_hi = STATS_max
stats shapes using (@latency) nooutput
axis_name = 'y'; axis_lo = STATS_min; axis_hi = STATS_max; axis_log = 10
load scriptdir.'/axis.gp'
axis_name = 'x'; axis_lo = depth_lo; axis_hi = depth_hi; axis_log = 0; axis_whole = 1
load scriptdir.'/axis.gp'
panel_i = 1
@panel
set xlabel 'depth: decoder blocks (count)'
names = datadir.'/labels_latency_depth.tsv'
plot for [k in knobs] shapes using DECODER_LAYERS:(lat(k)):MS_LO:MS_HI with yerrorbars pt 7 ps 0 \
         lc rgb knob_colour(k) notitle, \
     for [k in knobs] shapes using DECODER_LAYERS:(lat(k)):SHAPE with labels hypertext point pt 7 \
         lc rgb knob_colour(k) notitle, \
     @names_r, @names_l, @names_a
axis_name = 'x'; axis_lo = width_lo; axis_hi = width_hi; axis_log = 2
load scriptdir.'/axis.gp'
panel_i = 2
@panel
set xlabel 'width: d_model (features)'
unset ylabel
names = datadir.'/labels_latency_width.tsv'
plot for [k in knobs] shapes using D_MODEL:(lat(k)):MS_LO:MS_HI with yerrorbars pt 7 ps 0 \
         lc rgb knob_colour(k) notitle, \
     for [k in knobs] shapes using D_MODEL:(lat(k)):SHAPE with labels hypertext point pt 7 lc rgb knob_colour(k) \
         notitle, \
     @names_r, @names_l, @names_a
@key_row
plot -1 notitle, for [k in knobs] keyentry with points pt 7 lc rgb knob_colour(k) title knob_title(k)
unset multiplot
