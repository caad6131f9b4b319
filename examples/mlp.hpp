// The trainers' network: a plain MLP whose forward pass can hand back every
// hidden layer's pre-activation y and output H, so a trainer can measure
// saturation, dead units and local derivatives layer by layer.
#pragma once

#include <ember/ember.hpp>
#include <nn/init.hpp>
#include <ops/activation.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ember::examples {

// One hidden layer's pre-activations y and outputs H, both [N, width].
struct HiddenLayer {
  Tensor pre;
  Tensor post;
};

class Mlp {
 public:
  // widths = {inputs, hidden..., outputs}; `activation` is an ember
  // activation name. Every layer, the output layer too, is initialized by
  // `init` with `gain` (nn/init.hpp's init::layer_).
  Mlp(std::span<const Index> widths, std::string_view activation, Init init, double gain, Generator& gen);

  // x:[N, inputs] -> logits [N, outputs]. With `hidden`, it receives each
  // hidden layer's y and H (layer 1 first).
  Tensor forward(const Tensor& x, std::vector<HiddenLayer>* hidden = nullptr) const;

  int num_layers() const { return static_cast<int>(weights_.size()); }  // weight matrices, hidden + output
  Tensor& weight(int layer) { return weights_[static_cast<std::size_t>(layer)]; }  // [out, in]; 0-based
  Tensor& bias(int layer) { return biases_[static_cast<std::size_t>(layer)]; }
  const std::string& activation_name() const { return activation_name_; }

  std::vector<Tensor> parameters();

 private:
  std::vector<Tensor> weights_, biases_;
  std::string activation_name_;
  ActivationFn<float> activation_;
};

// The statistics of one hidden layer over a set of samples.
struct LayerActivity {
  double saturated = 0;        // fraction of (sample, unit) in the flat region
  double dead = 0;             // fraction of units in the flat region for every sample
  double mean_derivative = 0;  // mean dH/dy over (sample, unit)
  double mean_output = 0;
};
// Saturated and mean derivative as diag::activation_stats defines them
// (sigmoid H < 0.01 or H > 0.99; tanh |H| > 0.99; any other activation
// |dH/dy| < 0.01, which for relu is its zero region; leaky_relu, whose
// slope is 0.01, never saturates). Dead: for sigmoid and tanh, saturated on
// every sample; for any other activation, output exactly 0 on every sample
// (diag::DeadUnitTracker's definition).
LayerActivity layer_activity(std::string_view activation, const HiddenLayer& layer);


}  // namespace ember::examples
