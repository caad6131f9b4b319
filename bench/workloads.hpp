// The workloads every implementation runs, described with plain types only
// (no Eigen, no ember, no torch), so that the libtorch code compiles apart.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bench {

enum class Activation { relu, sigmoid };
enum class LossKind { mse, bce_with_logits, cross_entropy };

// An MLP trained with plain SGD on one fixed batch: sizes = {in, hidden...,
// out}; `activation` after every hidden layer, none after the last.
struct MlpSpec {
  std::string name;
  std::vector<int> sizes;
  int batch = 0;
  Activation activation = Activation::relu;
  LossKind loss = LossKind::mse;
  float lr = 0.01f;
  double check_tolerance = 1e-4;  // relative loss agreement after a few steps
};

// Initial parameters and data, identical for every implementation.
struct MlpInit {
  std::vector<std::vector<float>> weights;  // layer l: [out x in] row-major, as torch::nn::Linear
  std::vector<std::vector<float>> biases;   // layer l: [out]
  std::vector<float> x;                     // [batch x in]
  std::vector<float> target;                // [batch x out] for mse / bce_with_logits
  std::vector<std::int64_t> labels;         // [batch] for cross_entropy
};

std::vector<MlpSpec> mlp_specs();
MlpInit make_mlp_init(const MlpSpec& spec, std::uint64_t seed);

// One implementation of one MLP workload. step() runs forward, loss,
// backward and the SGD update; loss() is the loss that the last step computed
// (before its update), read outside the timed region.
class Trainer {
 public:
  virtual ~Trainer() = default;
  virtual void step() = 0;
  virtual double loss() = 0;
};

std::unique_ptr<Trainer> make_hand_trainer(const MlpSpec& spec, const MlpInit& init);
std::unique_ptr<Trainer> make_ember_trainer(const MlpSpec& spec, const MlpInit& init);

// --- libtorch (torch_impl.cpp; torch_stub.cpp when libtorch is absent) -----
bool torch_available();
std::string torch_description();  // version, BLAS and threading back ends
void torch_set_threads(int threads);
std::unique_ptr<Trainer> make_torch_trainer(const MlpSpec& spec, const MlpInit& init);

// A repeatable unit of work with a fixed setup (activation throughput, chains).
class Task {
 public:
  virtual ~Task() = default;
  virtual void run() = 0;
  virtual double checksum() { return 0; }  // compared across implementations before timing
  // For graphs: run the forward only and keep its graph alive until release().
  virtual void build() {}
  virtual void release() {}
};

// The activations benchmarked by throughput; `name` is the ember/torch name.
const std::vector<std::string>& activation_names();
// values: the input, same for every implementation; backward: forward then
// backward of an all-ones upstream gradient into the input's grad.
std::unique_ptr<Task> make_ember_activation(const std::string& name, const std::vector<float>& values, bool backward);
std::unique_ptr<Task> make_torch_activation(const std::string& name, const std::vector<float>& values, bool backward);

// deep_chain: `length` small elementwise ops on a [width] vector, then backward.
// The ops cycle through mul by a parameter, add a scalar, mul by a scalar, add a
// parameter (see ember_micro.cpp).
std::unique_ptr<Task> make_ember_chain(int length, int width);
std::unique_ptr<Task> make_torch_chain(int length, int width);

// Tensor ops (slice, gather, permute, logsumexp): forward, or forward +
// backward of an all-ones upstream into the input's grad, on n values laid
// out as tensor_op_shape(name, n): [n/256, 256] (permute: [n/4096, 64, 64]).
// slice takes columns [kSliceStart, kSliceStop) of axis 1, gather reads axis 1
// at `index` (same shape as the input), permute moves axes (2, 0, 1),
// logsumexp reduces axis 1. libtorch's slice and permute are views: its side
// calls .contiguous() so both sides produce the same dense result.
inline constexpr long kSliceStart = 16, kSliceStop = 240;
struct TensorOpShape {
  std::vector<long> dims;
  std::vector<long> index;  // gather only: positions along axis 1, row-major
};
const std::vector<std::string>& tensor_op_names();
TensorOpShape tensor_op_shape(const std::string& name, long n);
std::unique_ptr<Task> make_ember_tensor_op(const std::string& name, const std::vector<float>& values, bool backward);
std::unique_ptr<Task> make_torch_tensor_op(const std::string& name, const std::vector<float>& values, bool backward);

// layer_norm: y = layer_norm(x [rows, cols], {cols}, weight, bias), then (with
// backward) y.backward(upstream) into x, weight and bias; every input is
// given, the same for each implementation (ember_layers.cpp, torch_layers.cpp).
struct LayerNormInput {
  int rows = 0, cols = 0;
  std::vector<float> x, weight, bias, upstream;
};
std::unique_ptr<Task> make_ember_layer_norm(const LayerNormInput& in, bool backward);
std::unique_ptr<Task> make_torch_layer_norm(const LayerNormInput& in, bool backward);
// conv2d: forward + backward of one convolution layer (stride 1, padding
// (k-1)/2, bias) with an all-ones upstream gradient into the weight and bias
// (and the input when input_grad). Inputs from the seed, the same for both.
struct ConvSpec {
  std::string name;
  int batch = 0, in_channels = 0, size = 0, out_channels = 0, kernel = 3;
  bool input_grad = false;  // a first layer's input needs no gradient
};
struct ConvInit {
  std::vector<float> x, w, b;  // [batch, in, size, size] [out, in, k, k] [out]
};
std::vector<ConvSpec> conv_specs();
ConvInit make_conv_init(const ConvSpec& spec, std::uint64_t seed);
// checksum(): Σ y + Σ dW + Σ db (+ Σ dx) of one pass.
std::unique_ptr<Task> make_ember_conv(const ConvSpec& spec, const ConvInit& init);
std::unique_ptr<Task> make_torch_conv(const ConvSpec& spec, const ConvInit& init);

// digits_cnn: one Adam training step (lr 1e-3) of examples/digits_cnn's net,
// Conv2d(1,16,3,p1)-ReLU-MaxPool2-Conv2d(16,32,3,p1)-ReLU-MaxPool2-Linear(128,10),
// cross entropy, on a fixed batch of `batch` 8x8 images. checksum(): the
// loss after three steps from the shared initial parameters.
struct CnnInit {
  std::vector<float> w1, b1, w2, b2, w3, b3;  // [16,1,3,3] [16] [32,16,3,3] [32] [10,128] [10]
  std::vector<float> x;                       // [batch,1,8,8]
  std::vector<std::int64_t> labels;           // [batch]
  int batch = 0;
};
CnnInit make_cnn_init(int batch, std::uint64_t seed);
std::unique_ptr<Task> make_ember_cnn(const CnnInit& init);
std::unique_ptr<Task> make_torch_cnn(const CnnInit& init);
// y = x Wᵀ for x [batch, in], W [out, in], float, no grad (ternary.cpp's rows).
std::unique_ptr<Task> make_torch_matmul(const std::vector<float>& x, const std::vector<float>& w, int batch, int in,
                                        int out);

// scalar_chain: `length` steps of y = tanh(y * w + b) on one-element tensors
// (three ops a step), from y = kScalarX, then backward into w and b (their
// gradients accumulate over runs). The micrograd-style use: a graph of many
// tiny ops. checksum: the final y plus the gradients of one fresh run.
inline constexpr float kScalarX = 0.5f, kScalarW = 0.9f, kScalarB = 0.1f;
std::unique_ptr<Task> make_ember_scalar_chain(int length);
std::unique_ptr<Task> make_hand_scalar_chain(int length);
std::unique_ptr<Task> make_torch_scalar_chain(int length);

// inference: the no-grad forward of an MLP (relu after hidden layers, none
// after the last) on init.x; checksum: the sum of the logits.
std::unique_ptr<Task> make_ember_inference(const MlpSpec& spec, const MlpInit& init);
std::unique_ptr<Task> make_hand_inference(const MlpSpec& spec, const MlpInit& init);
std::unique_ptr<Task> make_torch_inference(const MlpSpec& spec, const MlpInit& init);

}  // namespace bench
