// The libtorch side of the layer workloads (workloads.hpp): torch::layer_norm.
#include <torch/torch.h>

#include "workloads.hpp"

namespace bench {

namespace {

torch::Tensor tensor_of(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat).clone();
}

class TorchLayerNorm final : public Task {
 public:
  TorchLayerNorm(const LayerNormInput& in, bool backward) : cols_(in.cols), backward_(backward) {
    x_ = tensor_of(in.x, {in.rows, in.cols});
    w_ = tensor_of(in.weight, {in.cols});
    b_ = tensor_of(in.bias, {in.cols});
    up_ = tensor_of(in.upstream, {in.rows, in.cols});
    if (backward_) x_.requires_grad_(true), w_.requires_grad_(true), b_.requires_grad_(true);
  }
  void run() override {
    torch::Tensor y = torch::layer_norm(x_, {cols_}, w_, b_, 1e-5);
    if (backward_) y.backward(up_);
  }
  double checksum() override {
    for (auto* t : {&x_, &w_, &b_}) t->mutable_grad() = torch::Tensor();
    torch::Tensor y = torch::layer_norm(x_, {cols_}, w_, b_, 1e-5);
    double sum = y.sum().item<double>();
    if (backward_) {
      y.backward(up_);
      for (auto* t : {&x_, &w_, &b_}) sum += t->grad().abs().sum().item<double>();
    }
    return sum;
  }

 private:
  int64_t cols_;
  bool backward_;
  torch::Tensor x_, w_, b_, up_;
};

}  // namespace

std::unique_ptr<Task> make_torch_layer_norm(const LayerNormInput& in, bool backward) {
  return std::make_unique<TorchLayerNorm>(in, backward);
}

}  // namespace bench
