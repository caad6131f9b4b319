// The libtorch side of scalar_chain and of the no-grad MLP inference
// workload (torch::NoGradGuard, torch::nn::Linear's functional form).
#include <torch/torch.h>

#include "workloads.hpp"

namespace bench {

namespace {

class TorchScalarChain final : public Task {
 public:
  explicit TorchScalarChain(int length) : length_(length) {
    x_ = torch::full({1}, kScalarX);
    w_ = torch::full({1}, kScalarW).requires_grad_(true);
    b_ = torch::full({1}, kScalarB).requires_grad_(true);
  }
  torch::Tensor forward() {
    torch::Tensor y = x_;
    for (int k = 0; k < length_; ++k) y = torch::tanh(y * w_ + b_);
    return y;
  }
  void run() override { forward().sum().backward(); }
  void build() override { kept_ = forward(); }
  void release() override { kept_ = torch::Tensor(); }
  double checksum() override {
    w_.mutable_grad() = torch::Tensor();
    b_.mutable_grad() = torch::Tensor();
    torch::Tensor y = forward();
    y.sum().backward();
    return y.item<double>() + w_.grad().item<double>() + b_.grad().item<double>();
  }

 private:
  int length_;
  torch::Tensor x_, w_, b_, kept_;
};

class TorchInference final : public Task {
 public:
  TorchInference(const MlpSpec& spec, const MlpInit& init) {
    for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
      const int in = spec.sizes[l], out = spec.sizes[l + 1];
      weights_.push_back(from(init.weights[l], {out, in}).requires_grad_(true));
      biases_.push_back(from(init.biases[l], {out}).requires_grad_(true));
    }
    x_ = from(init.x, {spec.batch, spec.sizes.front()});
  }
  torch::Tensor forward() {
    torch::NoGradGuard no_grad;
    torch::Tensor h = x_;
    for (std::size_t l = 0; l < weights_.size(); ++l) {
      h = torch::nn::functional::linear(h, weights_[l], biases_[l]);
      if (l + 1 < weights_.size()) h = torch::relu(h);
    }
    return h;
  }
  void run() override { out_ = forward(); }
  double checksum() override { return forward().sum().item<double>(); }

 private:
  static torch::Tensor from(const std::vector<float>& v, std::vector<int64_t> shape) {
    return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat).clone();
  }
  std::vector<torch::Tensor> weights_, biases_;
  torch::Tensor x_, out_;
};

}  // namespace

std::unique_ptr<Task> make_torch_scalar_chain(int length) { return std::make_unique<TorchScalarChain>(length); }
std::unique_ptr<Task> make_torch_inference(const MlpSpec& spec, const MlpInit& init) {
  return std::make_unique<TorchInference>(spec, init);
}

}  // namespace bench
