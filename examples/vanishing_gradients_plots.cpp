#include "vanishing_gradients_plots.hpp"

#include "common.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ember::examples {

std::string vanishing_gradients_plot_script(int depth, const std::vector<std::uint64_t>& seeds) {
  std::string s = gnuplot_preamble(1300, 560);
  s += fmt::format("depth = {}\nlayers = {}\nseeds = \"{}\"\nfirst_seed = {}\n", depth, depth + 1, fmt::join(seeds, " "), seeds.front());
  s += R"gp(
grid = "standardized_g1 standardized_g4 standardized_g8 standardized_g16 raw_g1 raw_g4 raw_g8 raw_g16"
gains = "1 4 8 16"
gcolors = "#1b9e77 #d95f02 #7570b3 #e7298a"
gcolor(k) = word(gcolors, (k - 1) % 4 + 1)
gdash(k) = k <= 4 ? 1 : 2
gtitle(k) = (k <= 4 ? 'standardized' : 'raw').', gain '.word(gains, (k - 1) % 4 + 1)
fixes = "standardized_g1 standardized_g4 tanh relu layernorm residual layernorm_residual"
ftitles = "sigmoid_gain_1 sigmoid_gain_4 tanh relu/kaiming sigmoid+layernorm sigmoid+residual sigmoid+LN+residual"
fdash(k) = k == 1 ? 2 : 1
fcolors = "#000000 #d95f02 #1f77b4 #2ca02c #9467bd #e7298a #8c564b"
sel(c) = strcol(1) eq c
seed_is(s) = $2 == real(word(seeds, s))
stitle(k, s) = s == 1 ? gtitle(k) : ''
set key outside right top
set grid

# 1. Per layer at init: gradient, saturation, local derivative, forward spread.
set output 'init_profile.png'
set multiplot layout 1,2 title "Sigmoid net at init, Xavier x gain (solid: standardized inputs, dashed: raw); every seed drawn"
set xlabel 'layer (1 = next to the input)'
set xtics 1
set logscale y
set format y '%.0e'
set title "gradient norm ||dL/dW|| of each layer"
set ylabel '||dL/dW||  (log scale)'
set key off
plot for [k=1:8] for [s=1:words(seeds)] 'init_profile.csv' using (sel(word(grid,k)) && seed_is(s) ? $3 : NaN):4 \
  with linespoints lw 1.5 pt 7 ps 0.5 lc rgb gcolor(k) dt gdash(k) title stitle(k, s)
set title "spread of each layer's output across samples (layer 11: the logit)"
set ylabel 'std over samples (log scale)'
set key outside right top
plot for [k=1:8] for [s=1:words(seeds)] 'init_profile.csv' using (sel(word(grid,k)) && seed_is(s) ? $3 : NaN):7 \
  with linespoints lw 1.5 pt 7 ps 0.5 lc rgb gcolor(k) dt gdash(k) title stitle(k, s)
unset multiplot

set output 'saturation_at_init.png'
set multiplot layout 1,2 title "Sigmoid units at init, per hidden layer (solid: standardized inputs, dashed: raw); every seed drawn"
unset logscale y
set format y '%g'
set title 'saturated fraction (H < 0.01 or H > 0.99)'
set ylabel 'saturated fraction'
set yrange [-0.02:1.02]
set key off
plot for [k=1:8] for [s=1:words(seeds)] 'init_profile.csv' using (sel(word(grid,k)) && seed_is(s) ? $3 : NaN):6 \
  with linespoints lw 1.5 pt 7 ps 0.5 lc rgb gcolor(k) dt gdash(k) title stitle(k, s)
set title "mean dH/dy (the ceiling 0.25 in grey)"
set ylabel 'mean dH/dy'
set yrange [0:0.27]
set key outside right top
plot 0.25 with lines lc rgb '#999999' dt 3 notitle, \
  for [k=1:8] for [s=1:words(seeds)] 'init_profile.csv' using (sel(word(grid,k)) && seed_is(s) ? $3 : NaN):5 \
  with linespoints lw 1.5 pt 7 ps 0.5 lc rgb gcolor(k) dt gdash(k) title stitle(k, s)
unset multiplot
set yrange [*:*]

# 2. Gradient norms over training, one panel per net, one line per layer.
set terminal pngcairo size 1300,800 noenhanced font 'Sans,10'
set output 'grad_curves.png'
curves = "standardized_g1 standardized_g4 standardized_g16 raw_g1 layernorm residual"
ctitles = "sigmoid_gain_1 sigmoid_gain_4 sigmoid_gain_16 raw_inputs_gain_1 sigmoid+layernorm sigmoid+residual"
set multiplot layout 2,3 title sprintf("||dL/dW|| of each layer over training (mini-batch gradient, seed %d); colour = layer", first_seed)
set palette defined (0 '#08306b', 1 '#6baed6', 2 '#fd8d3c', 3 '#7f2704')
set cbrange [1:layers]
set cblabel 'layer'
set xlabel 'step'
set xtics auto
set ylabel '||dL/dW|| (log scale)'
set logscale y
set format y '%.0e'
set key off
do for [k=1:6] {
  set title word(ctitles,k)
  if (k % 3 == 0) { set colorbox } else { unset colorbox }
  plot for [l=1:layers] 'grad_norms.csv' using (sel(word(curves,k)) && $3 == l && $4 > 0 ? $2 : NaN):4:(l) \
    with lines lw 1.5 lc palette
}
unset multiplot
unset colorbox

# 3. The fixes: loss and test accuracy over training.
set terminal pngcairo size 1300,520 noenhanced font 'Sans,11'
set output 'fixes.png'
set multiplot layout 1,2 title sprintf("The same %dx32 sigmoid net and its fixes (seed %d, plain SGD)", depth, first_seed)
set title 'training loss (BCE, whole training split)'
set ylabel 'loss (log scale)'
set key off
plot for [k=7:1:-1] 'training.csv' using (sel(word(fixes,k)) ? $2 : NaN):3 with lines lw 2 lc rgb word(fcolors,k) \
  dt fdash(k) title word(ftitles,k)
unset logscale y
set format y '%g'
set title 'test accuracy'
set ylabel 'test accuracy'
set yrange [0.3:1.02]
set key outside right top
plot for [k=7:1:-1] 'training.csv' using (sel(word(fixes,k)) ? $2 : NaN):4 with lines lw 2 lc rgb word(fcolors,k) \
  dt fdash(k) title word(ftitles,k)
unset multiplot
)gp";
  return s;
}

}  // namespace ember::examples
