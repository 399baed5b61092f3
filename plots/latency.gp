# latency.gp — generation latency per token (generate records) against depth and against width.
# Expects style.gp's variables, plus knobs.
load scriptdir.'/style.gp'
set multiplot layout 1,2 title "Generation latency per token vs depth and width\n".machine
set key inside top left box opaque font ',13'
set ylabel 'generation latency (ms/token)'
set offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1
lat(k) = strcol(SCALING) eq k ? column(MS_PER_TOKEN) : NaN
set xlabel 'depth: encoder + decoder blocks (count)'
plot for [k in knobs] shapes using LAYERS:(lat(k)) with points pt 7 lc rgb knob_colour(k) title knob_title(k), \
     shapes using LAYERS:MS_PER_TOKEN:SHAPE with labels offset char 0,1 font ',11' notitle
set xlabel 'width: d_model (features)'
set logscale x 2
unset ylabel
plot for [k in knobs] shapes using D_MODEL:(lat(k)) with points pt 7 lc rgb knob_colour(k) title knob_title(k), \
     shapes using D_MODEL:MS_PER_TOKEN:SHAPE with labels offset char 0,1 font ',11' notitle
unset multiplot
