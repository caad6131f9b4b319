// The gnuplot script of the vanishing_gradients trainer, kept apart from the
// experiment code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::examples {

// `seeds`: the runs drawn in the per-layer profiles (each its own line).
std::string vanishing_gradients_plot_script(int depth, const std::vector<std::uint64_t>& seeds);

}  // namespace ember::examples
