// Q1's network and one training run: a deep MLP whose hidden layers can be
// wrapped in a layer norm (before the activation) and a residual connection
// (h + f(h)), trained on breast cancer with plain SGD, measured layer by
// layer at init and during training.
#pragma once

#include "common.hpp"
#include "mlp.hpp"

#include <data/dataset.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ember::examples {

struct NetSpec {
  std::string activation = "sigmoid";
  Init init = Init::xavier_uniform;
  double gain = 1;        // multiplies the init's scale (Xavier × gain)
  bool layer_norm = false;  // y -> (y - mean) / sqrt(var + eps) * gamma + beta over the units, before the activation
  bool residual = false;    // hidden layers 2.. compute h + f(h)
  int depth = 10;
  Index width = 32;
};

class DeepNet {
 public:
  DeepNet(Index inputs, const NetSpec& spec, Generator& gen);
  // x:[N, inputs] -> logits [N, 1]; `hidden` receives each hidden layer's
  // activation input (after the norm) and output (before the residual add).
  Tensor forward(const Tensor& x, std::vector<HiddenLayer>* hidden = nullptr,
                 std::vector<Tensor>* outputs = nullptr) const;
  int num_layers() const { return static_cast<int>(weights_.size()); }
  Tensor& weight(int layer) { return weights_[static_cast<std::size_t>(layer)]; }
  std::vector<Tensor> parameters();

 private:
  NetSpec spec_;
  std::vector<Tensor> weights_, biases_, gammas_, betas_;
  ActivationFn<float> activation_;
};

struct RunSpec {
  std::string key;  // the condition, e.g. "standardized_g4"
  NetSpec net;
  bool raw_inputs = false;  // skip the Standardizer: breast cancer's features as they are (areas in the 1000s)
  bool mse_head = false;    // train MSE on sigmoid(logit) instead of BCE with logits
  std::uint64_t seed = 42;  // the split, the init (seed + 1) and the batch order (seed + 2)
  bool log_curves = false;  // keep per-step CSV rows (the first seed of each condition)
};

struct TrainConfig {
  double lr = 0.05;
  Index batch_size = 32;
  int epochs = 100;
  int log_every = 10;
  double test_fraction = 0.2;
};

struct RunResult {
  RunSpec spec;
  // At init, on the whole training split, under the run's own loss.
  std::vector<double> grad_init;                                     // ||dL/dW_l||, l = 1..L
  std::vector<double> dhdy_init, saturated_init, spread_init;        // per hidden layer
  double logit_spread_init = 0;   // std of the logit over the training samples
  double head_bce = 0, head_mse = 0;  // mean over samples of N·|dL/dz| at the logit, BCE with logits / MSE on sigmoid
  double head_identity_error = 0;     // max |N·dL/dz - (sigmoid(z) - Y)| under BCE with logits
  double head_mse_wrong = 0;          // mean N·|dL/dz| under MSE over the samples the head gets wrong
  double head_bce_wrong = 0;
  // The backward pass from the logit to layer 1's pre-activations, layer by
  // layer (plain nets; NaN with a residual): ||dL/dH_l|| / ||dL/dy_(l+1)||
  // (the weights) and ||dL/dy_l|| / ||dL/dH_l|| (the activation's dH/dy as
  // the gradient meets it), over the training split. Their product over the
  // layers is ||dL/dy_1|| / ||dL/dz|| exactly.
  std::vector<double> weight_factor, activation_factor;
  // At the end of training.
  double final_loss = 0, train_accuracy = 0, test_accuracy = 0;
  double saturated_end = 0, dhdy_end = 0, dead_end = 0;  // means over hidden layers
  double saturated_max = 0;                              // the largest mean over training
  double majority = 0;                                   // test accuracy of the majority class
  bool diverged = false;
  int steps = 0;  // SGD steps of the run
  std::vector<std::string> grad_rows, activity_rows, training_rows;  // CSV lines when log_curves
  double ratio() const { return grad_init.front() / grad_init.back(); }
};

RunResult train_run(const RunSpec& spec, const TrainConfig& config, const Options& options);

}  // namespace ember::examples
