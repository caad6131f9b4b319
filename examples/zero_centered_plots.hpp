// The gnuplot script that renders zero_centered's CSV files as PNGs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::examples {

// panel_scales: for each of the 8 single-neuron panels (bce, mse) x (relu,
// sigmoid, tanh, shifted_tanh), the |g1 g2| that maps to full colour.
// curve_lrs: the SGD rates of the loss-curve panels; batch_sizes: part 2's.
std::string zero_centered_plot_script(const std::vector<double>& panel_scales, std::uint64_t seed, double target_loss,
                                      const std::vector<double>& curve_lrs, const std::vector<std::int64_t>& batch_sizes);

}  // namespace ember::examples
