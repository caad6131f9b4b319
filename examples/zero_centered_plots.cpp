// The gnuplot script of the zero_centered trainer (its four figures), kept
// apart from the experiment code.
#include "zero_centered_plots.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common.hpp"

namespace ember::examples {

std::string zero_centered_plot_script(const std::vector<double>& panel_scales, std::uint64_t seed, double target_loss,
                                      const std::vector<double>& curve_lrs, const std::vector<std::int64_t>& batch_sizes) {
  std::string s = gnuplot_preamble(1300, 650);
  s += fmt::format("seed = {}\ntarget = {}\nlrs = \"{}\"\nbatches = \"{}\"\n", seed, target_loss,
                   fmt::join(curve_lrs, " "), fmt::join(batch_sizes, " "));
  // Each panel's colour: sign(g1g2) * sqrt(|g1g2| / scale), clipped to [-1, 1].
  s += "array panel_scale[8]\n";
  for (std::size_t i = 0; i < panel_scales.size() && i < 8; ++i)
    s += fmt::format("panel_scale[{}] = {}\n", i + 1, panel_scales[i]);
  s += R"gp(
min(a, b) = a < b ? a : b
losses = "bce mse"
acts = "relu sigmoid tanh shifted_tanh"
set output 'single_neuron.png'
set multiplot layout 2,4 title "One neuron: dL/dw1 * dL/dw2 over (x1, x2), from ember's backward. Red > 0, blue < 0, grey: loss undefined. Its sign is sign(x1 x2) everywhere."
set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')
set cbrange [-1:1]
set xrange [-2.1:2.1]
set yrange [-2.1:2.1]
set size ratio -1
set xlabel 'x1'
set ylabel 'x2'
set xtics 1
set ytics 1
unset grid
set key off
set object 1 rectangle from graph 0,0 to graph 1,1 fillcolor rgb '#bbbbbb' fillstyle solid 1.0 behind
unset colorbox
do for [l=1:2] {
  do for [a=1:4] {
    k = (l-1)*4 + a
    set title word(losses,l).' / '.word(acts,a)
    plot 'single_neuron.csv' using 3:(strcol(1) eq word(losses,l) && strcol(2) eq word(acts,a) ? $4 : NaN): \
      (sgn($5)*min(1, sqrt(abs($5)/panel_scale[k]))) with points pt 5 ps 0.75 lc palette
  }
}
unset multiplot
unset object 1
set xtics auto
set ytics auto
set size noratio
set xrange [*:*]
set yrange [*:*]
set grid

colors = "#d62728 #1f77b4 #2ca02c #9467bd"
feeding = "sigmoid centered_sigmoid tanh relu"
opts = "sgd momentum adam"
# centered_sigmoid and tanh often sit on the same value: a wide line under a dashed one
alw(a) = a == 2 ? 5 : 2
adt(a) = a == 3 ? 2 : 1
otitles = "SGD SGD+momentum_0.9 Adam"
set terminal pngcairo size 1300,800 noenhanced font 'Sans,10'
set output 'zigzag.png'
set multiplot layout 2,3 title "Second-layer neurons (16, fed by the first layer's activation): points = seeds, line = their mean"
set logscale x 2
set xrange [0.7:word(batches, words(batches)) * 1.5]
set xlabel 'batch size'
set xtics (1, 8, 64)
do for [o=1:3] {
  set title word(otitles,o).': updates with one sign for all weights'
  set ylabel 'fraction of (neuron, step)'
  set yrange [-0.03:1.05]
  if (o == 1) { set key inside top right box opaque } else { set key off }
  plot for [a=1:4] 'zigzag.csv' using (strcol(1) eq word(opts,o) && strcol(2) eq word(feeding,a) ? $3 * (1 + 0.06*(a-2.5)) : NaN):6 \
      with points pt 7 ps 0.6 lc rgb word(colors,a) notitle, \
    for [a=1:4] 'zigzag.csv' using (strcol(1) eq word(opts,o) && strcol(2) eq word(feeding,a) ? $3 : NaN):6 \
      smooth unique with lines lw alw(a) dt adt(a) lc rgb word(colors,a) title 'fed by '.word(feeding,a)
}
do for [o=1:3] {
  set title word(otitles,o).': cosine of consecutive updates'
  set ylabel 'mean cos(dw_t, dw_t-1)'
  set yrange [-1.05:1.05]
  set key off
  plot 0 with lines lc rgb '#999999' dt 3 notitle, \
    for [a=1:4] 'zigzag.csv' using (strcol(1) eq word(opts,o) && strcol(2) eq word(feeding,a) ? $3 * (1 + 0.06*(a-2.5)) : NaN):7 \
      with points pt 7 ps 0.6 lc rgb word(colors,a) notitle, \
    for [a=1:4] 'zigzag.csv' using (strcol(1) eq word(opts,o) && strcol(2) eq word(feeding,a) ? $3 : NaN):7 \
      smooth unique with lines lw alw(a) dt adt(a) lc rgb word(colors,a) notitle
}
unset multiplot
unset logscale x
set xrange [*:*]
set yrange [*:*]

set terminal pngcairo size 1300,480 noenhanced font 'Sans,10'
set output 'speed_vs_lr.png'
set multiplot layout 1,3 title sprintf("Steps until the training loss reaches %g: points = seeds (missing: not reached), line = mean of the seeds that reach it", target)
set logscale xy
set format y '%g'
set xlabel 'learning rate'
set ylabel 'steps to the target (log scale)'
set format x '%g'
set xtics 10
do for [o=1:3] {
  set title word(otitles,o)
  if (o == 2) { set key inside top right box opaque } else { set key off }
  plot for [a=1:4] 'steps.csv' using (strcol(1) eq word(opts,o) && strcol(2) eq word(feeding,a) ? $3 * (1 + 0.05*(a-2.5)) : NaN):(column(sprintf('steps_to_%g', target))) \
      with points pt 7 ps 0.6 lc rgb word(colors,a) notitle, \
    for [a=4:1:-1] 'steps.csv' using (strcol(1) eq word(opts,o) && strcol(2) eq word(feeding,a) ? $3 : NaN):(column(sprintf('steps_to_%g', target))) \
      smooth unique with linespoints lw alw(a) dt adt(a) pt 4 lc rgb word(colors,a) title word(feeding,a)
}
unset multiplot
unset logscale xy
set format y '%g'
set xtics auto

speed_acts = "sigmoid centered_sigmoid tanh relu"
set xtics auto
set ytics auto
set terminal pngcairo size 1300,550 noenhanced font 'Sans,11'
set output 'speed.png'
set multiplot layout 1,words(lrs) title sprintf("Training loss of the same net under SGD, seed %d; dashed: the target loss", seed)
set xlabel 'step'
set ylabel 'training loss (log scale)'
set logscale y
set format y '%.0e'
set key top right inside
do for [k=1:words(lrs)] {
  lr = real(word(lrs,k))
  set title sprintf("lr %g", lr)
  if (lr >= 3) { set xrange [0:300]; set yrange [0.01:10] } else { set xrange [*:*]; set yrange [*:*] }
  plot target with lines dt 2 lc rgb '#777777' notitle, \
    for [a=4:1:-1] 'speed.csv' using (strcol(1) eq word(speed_acts,a) && abs($2 - lr) < 1e-9 && $3 == seed ? $4 : NaN):5 \
    with lines lw (a == 2 ? 4 : 1.5) lc rgb word(colors,a) title word(speed_acts,a)
}
unset multiplot
set xrange [*:*]
set yrange [*:*]

set terminal pngcairo size 800,550 noenhanced font 'Sans,11'
set output 'conditioning.png'
lr = real(word(lrs,1))
set title sprintf("Condition number of E[h h^T], h = the second layer's inputs (lr %g, seed %d)", lr, seed)
set ylabel 'condition number (log scale)'
set key outside right top
plot for [a=1:4] 'conditioning.csv' using (strcol(1) eq word(speed_acts,a) && abs($2 - lr) < 1e-9 && $3 == seed ? $4 : NaN):5 \
  with linespoints lw 2 pt 7 lc rgb word(colors,a) title word(speed_acts,a)
)gp";
  return s;
}

}  // namespace ember::examples
