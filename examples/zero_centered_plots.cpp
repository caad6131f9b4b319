// The gnuplot script of the zero_centered trainer (its four figures), kept
// apart from the experiment code.
#include "zero_centered_plots.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common.hpp"

namespace ember::examples {

std::string zero_centered_plot_script(const std::vector<double>& panel_scales, std::uint64_t seed, double target_loss,
                                      const std::vector<double>& curve_lrs) {
  std::string s = gnuplot_preamble(1300, 650);
  s += fmt::format("seed = {}\ntarget = {}\nlrs = \"{}\"\n", seed, target_loss, fmt::join(curve_lrs, " "));
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

set terminal pngcairo size 800,550 noenhanced font 'Sans,11'
colors = "#d62728 #1f77b4 #2ca02c #9467bd"
feeding = "sigmoid tanh relu centered_sigmoid"
set output 'sign_agreement.png'
set title "Second-layer neurons whose incoming weight gradients all share a sign"
set xlabel 'batch size'
set ylabel 'fraction of (neuron, step)'
set logscale x 2
set xtics (1, 8, 64)
set xrange [0.8:80]
set yrange [-0.02:1.05]
set key outside right top
plot for [a=1:4] 'sign_agreement.csv' using (strcol(1) eq word(feeding,a) ? $2 : NaN):3 \
  with linespoints lw 2 pt 7 lc rgb word(colors,a) title 'fed by '.word(feeding,a)
unset logscale x
set xtics auto
set xrange [*:*]
set yrange [*:*]

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
    for [a=1:4] 'speed.csv' using (strcol(1) eq word(speed_acts,a) && abs($2 - lr) < 1e-9 && $3 == seed ? $4 : NaN):5 \
    with lines lw 2 lc rgb word(colors,a) title word(speed_acts,a)
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
