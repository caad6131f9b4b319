// activation_race's gnuplot script: race.png (each activation at its best
// rate, median and min-max band over seeds), lr_sweep.png (steps, accuracy
// and diverged runs along the rates) and dead_units.png (relu's dead units
// along the rates and over training). Every series has its own colour, dash
// type and point type, so relu and leaky_relu stay apart where they overlap;
// keys sit below the panels, off the data.
#include "activation_race.hpp"

#include <fmt/ranges.h>

namespace ember::examples::race {

std::string plot_script(const Config& config, const std::vector<std::string>& best_labels,
                        const std::vector<double>& dead_lrs, std::uint64_t first_seed) {
  std::string s = gnuplot_preamble(1300, 600);
  for (std::size_t i = 0; i < best_labels.size(); ++i) s += fmt::format("label{} = \"{}\"\n", i + 1, best_labels[i]);
  s += fmt::format("acts = \"{}\"\nn = {}\ndead_lrs = \"{}\"\nseed = {}\nseeds = {}\nlr_lo = {}\nlr_hi = {}\n",
                   fmt::join(config.activations, " "), config.activations.size(), fmt::join(dead_lrs, " "),
                   first_seed, config.seeds, config.lrs.front() / 1.5, config.lrs.back() * 1.5);
  s += R"gp(
label(i) = value(sprintf('label%d', i))
colors = "#d62728 #1f77b4 #2ca02c #ff7f0e #9467bd #8c564b #17becf #7f7f7f"
color(i) = word(colors, (i - 1) % 8 + 1)
# distinct dash types and point types: relu (3) solid with circles, leaky_relu (4) dashed with triangles
dash(i) = word("2 4 1 3 5 1 2 4", (i - 1) % 8 + 1) + 0
point(i) = word("5 9 7 8 13 11 4 6", (i - 1) % 8 + 1) + 0
is(a) = strcol(1) eq word(acts, a)

set output 'race.png'
set multiplot layout 1,2 title sprintf('Each activation at its own best learning rate: median over %d seeds (lines) and min-max (bands); digits, SGD momentum', seeds)
set bmargin 7
set key at screen 0.5, screen 0.02 center bottom horizontal maxrows 2 width 2
set xlabel 'step'
set title 'Test accuracy (first 400 steps)'
set ylabel 'test accuracy'
set xrange [0:400]
set yrange [0.8:1]
set ytics 0.02
set style fill transparent solid 0.12 noborder
plot for [a=1:n] 'best_curves.csv' using (is(a) ? $3 : NaN):5:6 with filledcurves lc rgb color(a) notitle, \
  for [a=1:n] 'best_curves.csv' using (is(a) ? $3 : NaN):4 with linespoints lw 2 dt dash(a) pt point(a) pi 5 ps 1.1 \
  lc rgb color(a) title label(a), \
  0.95 with lines dt 3 lc rgb '#999999' notitle
set title 'Training loss (whole training split)'
set xrange [*:*]
set ylabel 'cross-entropy (log scale)'
set yrange [*:*]
set ytics auto
set logscale y
set format y '%.0e'
unset key
plot for [a=1:n] 'best_curves.csv' using (is(a) ? $3 : NaN):8:9 with filledcurves lc rgb color(a) notitle, \
  for [a=1:n] 'best_curves.csv' using (is(a) ? $3 : NaN):7 with linespoints lw 2 dt dash(a) pt point(a) pi 12 ps 1.1 \
  lc rgb color(a) notitle
unset multiplot
unset logscale y
set format y '%g'

# Along the rates: median with min-max error bars, each activation's points
# nudged sideways so the bars do not cover each other.
nudge(a) = 1.06 ** (a - (n + 1) / 2.0)
set terminal pngcairo size 1500,560 noenhanced font 'Sans,11'
set output 'lr_sweep.png'
set multiplot layout 1,3 title sprintf('The sweep: %d seeds per activation and rate (median, min-max bars); missing points: every seed diverged, or never reached 95%%', seeds)
set bmargin 7
set logscale x
set xrange [lr_lo:lr_hi]
set xlabel 'learning rate (log scale)'
set key at screen 0.5, screen 0.02 center bottom horizontal maxrows 1 width 2
set title 'Steps to 95% test accuracy'
set ylabel 'steps'
set yrange [0:*]
plot for [a=1:n] 'by_rate.csv' using (is(a) ? $2 * nudge(a) : NaN):5:6:7 with yerrorbars lw 1 dt 1 pt point(a) \
  ps 0 lc rgb color(a) notitle, \
  for [a=1:n] 'by_rate.csv' using (is(a) ? $2 * nudge(a) : NaN):5 with linespoints lw 2 dt dash(a) \
  pt point(a) ps 1.2 lc rgb color(a) title word(acts, a)
unset key
set title 'Final test accuracy (runs that did not diverge)'
set ylabel 'test accuracy'
set yrange [0:1]
plot for [a=1:n] 'by_rate.csv' using (is(a) ? $2 * nudge(a) : NaN):8:9:10 with yerrorbars lw 1 dt 1 pt point(a) \
  ps 0 lc rgb color(a) notitle, \
  for [a=1:n] 'by_rate.csv' using (is(a) ? $2 * nudge(a) : NaN):8 with linespoints lw 2 dt dash(a) \
  pt point(a) ps 1.2 lc rgb color(a) notitle
set title 'Runs that diverged (loss not finite, or blew up)'
set ylabel sprintf('runs of %d (series nudged apart by up to 0.2)', seeds)
set yrange [-0.4:seeds + 0.5]
set ytics 1
lift(a) = 0.08 * (a - (n + 1) / 2.0)
plot for [a=1:n] 'by_rate.csv' using (is(a) ? $2 * nudge(a) : NaN):($4 + lift(a)) with linespoints lw 2 dt dash(a) \
  pt point(a) ps 1.2 lc rgb color(a) notitle
unset multiplot
set ytics auto

set terminal pngcairo size 1300,560 noenhanced font 'Sans,11'
set output 'dead_units.png'
set multiplot layout 1,2 title 'Dead relu units against leaky_relu (whose units cannot output exactly 0: its dead fraction is 0 in every run)'
set bmargin 7
set key at screen 0.25, screen 0.02 center bottom horizontal maxrows 3 width 2
set title sprintf('At the end of training, along the rates (median, min-max over %d seeds)', seeds)
set ylabel 'fraction of hidden units'
set y2label sprintf('leaky_relu runs diverged (of %d)', seeds)
set yrange [0:*]
set y2range [0:seeds * 1.5]
set y2tics 1
set ytics nomirror
relu = 0
leaky = 0
do for [a=1:n] { if (word(acts, a) eq 'relu') { relu = a }; if (word(acts, a) eq 'leaky_relu') { leaky = a } }
set style fill solid 0.25 border lc rgb color(leaky)
set boxwidth 0.08
plot 'by_rate.csv' using (strcol(1) eq 'leaky_relu' ? $2 : NaN):4:($2 * 0.18) axes x1y2 with boxes lc rgb color(leaky) \
  title 'leaky_relu: runs diverged (right axis)', \
  'by_rate.csv' using (strcol(1) eq 'relu' ? $2 / 1.03 : NaN):11:12:13 with yerrorlines lw 2 dt dash(relu) \
  pt point(relu) ps 1.2 lc rgb color(relu) title 'relu: dead (output 0 on every sample)', \
  'by_rate.csv' using (strcol(1) eq 'leaky_relu' ? $2 * 1.03 : NaN):14:15:16 with yerrorlines lw 2 dt dash(leaky) \
  pt point(leaky) ps 1.2 lc rgb color(leaky) title 'leaky_relu: negative on every sample (still learning)'
unset y2label
unset y2tics
set ytics mirror
unset logscale x
set xrange [*:*]
set yrange [0:1.05]
set xlabel 'step'
set title sprintf('relu over training, seed %d: dead units of layer 2 (layer 1: dashed)', seed)
set key at screen 0.75, screen 0.02 center bottom horizontal maxrows 3 width 2
sel(lr) = strcol(1) eq 'relu' && abs($2 - lr) < 1e-9 && $3 == seed
dead_colors = "#2ca02c #ff7f0e #d62728 #9467bd"
plot for [k=1:words(dead_lrs)] 'curves.csv' using (sel(word(dead_lrs, k) + 0) ? $4 : NaN):8 with linespoints lw 2 \
  dt 1 pt k + 4 pi 10 lc rgb word(dead_colors, k) title sprintf('lr %s, layer 2', word(dead_lrs, k)), \
  for [k=1:words(dead_lrs)] 'curves.csv' using (sel(word(dead_lrs, k) + 0) ? $4 : NaN):7 with lines lw 1 dt 2 \
  lc rgb word(dead_colors, k) title sprintf('lr %s, layer 1', word(dead_lrs, k))
unset multiplot
)gp";
  return s;
}

}  // namespace ember::examples::race
