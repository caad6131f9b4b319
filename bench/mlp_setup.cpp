// The four MLP workloads and their shared initial state.
#include <cmath>

#include <ember/ember.hpp>

#include "workloads.hpp"

namespace bench {

std::vector<MlpSpec> mlp_specs() {
  std::vector<int> deep{2};
  for (int i = 0; i < 10; ++i) deep.push_back(32);
  deep.push_back(1);
  return {
      {"tiny_mlp", {2, 16, 16, 1}, 32, Activation::relu, LossKind::mse, 0.05f, 1e-4},
      {"deep_sigmoid_mlp", deep, 64, Activation::sigmoid, LossKind::bce_with_logits, 0.5f, 1e-4},
      {"mnist_mlp", {784, 128, 10}, 64, Activation::relu, LossKind::cross_entropy, 0.05f, 1e-4},
      // Long float sums in other orders: a looser (still far below one step's change) tolerance.
      {"large_mlp", {1024, 1024, 1024, 10}, 256, Activation::relu, LossKind::cross_entropy, 0.05f, 5e-4},
  };
}

// Weights and biases as torch::nn::Linear draws them (uniform in
// +-1/sqrt(fan_in)), data from a fixed rule, all from one ember::Generator.
MlpInit make_mlp_init(const MlpSpec& spec, std::uint64_t seed) {
  ember::Generator gen(seed);
  MlpInit init;
  for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
    const int in = spec.sizes[l], out = spec.sizes[l + 1];
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    std::vector<float> w(static_cast<std::size_t>(out) * in), b(static_cast<std::size_t>(out));
    for (auto& v : w) v = static_cast<float>(gen.uniform(-bound, bound));
    for (auto& v : b) v = static_cast<float>(gen.uniform(-bound, bound));
    init.weights.push_back(std::move(w));
    init.biases.push_back(std::move(b));
  }
  const int n = spec.batch, in = spec.sizes.front(), out = spec.sizes.back();
  init.x.resize(static_cast<std::size_t>(n) * in);
  for (auto& v : init.x) v = static_cast<float>(gen.normal());
  switch (spec.loss) {
    case LossKind::mse:  // a smooth target: sin(x0) * x1
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < out; ++j)
          init.target.push_back(static_cast<float>(std::sin(init.x[i * in]) * init.x[i * in + 1]));
      break;
    case LossKind::bce_with_logits:  // XOR of the first two inputs' signs
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < out; ++j)
          init.target.push_back((init.x[i * in] > 0) != (init.x[i * in + 1] > 0) ? 1.0f : 0.0f);
      break;
    case LossKind::cross_entropy:
      for (int i = 0; i < n; ++i) init.labels.push_back(static_cast<std::int64_t>(gen.below(out)));
      break;
  }
  return init;
}

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names{"relu", "leaky_relu", "elu", "sigmoid", "tanh", "gelu", "silu", "softplus"};
  return names;
}

const std::vector<std::string>& tensor_op_names() {
  static const std::vector<std::string> names{"slice", "gather", "permute", "logsumexp"};
  return names;
}

TensorOpShape tensor_op_shape(const std::string& name, long n) {
  TensorOpShape s;
  if (name == "permute") {
    s.dims = {n / 4096, 64, 64};
    return s;
  }
  s.dims = {n / 256, 256};
  if (name == "gather") {
    ember::Generator gen(11);
    s.index.resize(static_cast<std::size_t>(n));
    for (auto& i : s.index) i = static_cast<long>(gen.below(256));
  }
  return s;
}

}  // namespace bench
