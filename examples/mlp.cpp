#include "mlp.hpp"

#include <diagnostics/activation_stats.hpp>
#include <nn/linear.hpp>

namespace ember::examples {

Mlp::Mlp(std::span<const Index> widths, std::string_view activation, Init init, double gain, Generator& gen)
    : activation_name_(activation), activation_(ember::activation<float>(activation)) {
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    Tensor w = Tensor::empty({widths[l + 1], widths[l]});
    Tensor b = Tensor::empty({widths[l + 1]});
    init::layer_(w, b, init, gen, gain);
    weights_.push_back(w.requires_grad_());
    biases_.push_back(b.requires_grad_());
  }
}

Tensor Mlp::forward(const Tensor& x, std::vector<HiddenLayer>* hidden) const {
  if (hidden) hidden->clear();
  Tensor h = x;
  const std::size_t last = weights_.size() - 1;
  for (std::size_t l = 0; l < last; ++l) {
    Tensor y = linear(h, weights_[l], biases_[l]);
    h = activation_(y);
    if (hidden) hidden->push_back({y, h});
  }
  return linear(h, weights_[last], biases_[last]);
}

std::vector<Tensor> Mlp::parameters() {
  std::vector<Tensor> params;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    params.push_back(weights_[l]);
    params.push_back(biases_[l]);
  }
  return params;
}

LayerActivity layer_activity(std::string_view activation, const HiddenLayer& layer) {
  diag::ActivationThresholds thresholds;
  // leaky_relu's slope 0.01 sits exactly on the default threshold, and float
  // rounding of its dH/dy flips it either side; half the slope keeps its
  // documented meaning: leaky_relu never saturates.
  if (activation == "leaky_relu") thresholds.derivative = 0.005;
  diag::ActivationStats stats = diag::activation_stats<float>(activation, layer.pre, layer.post, thresholds);
  LayerActivity a;
  a.saturated = stats.saturated;
  a.mean_derivative = stats.mean_derivative;
  a.mean_output = stats.mean;
  // Dead units, column by column of H:[N, units].
  auto h = layer.post.matrix().array();
  Eigen::Array<bool, 1, Eigen::Dynamic> dead;
  if (activation == "sigmoid")
    dead = ((h < float(thresholds.sigmoid_low)) || (h > float(thresholds.sigmoid_high))).colwise().all();
  else if (activation == "tanh")
    dead = (h.abs() > float(thresholds.tanh_abs)).colwise().all();
  else
    dead = (h == 0.0f).colwise().all();
  a.dead = dead.size() ? double(dead.count()) / double(dead.size()) : 0.0;
  return a;
}

}  // namespace ember::examples
