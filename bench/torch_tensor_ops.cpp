// The libtorch side of the tensor-op benchmarks (ember_tensor_ops.cpp):
// slice and permute are views in libtorch, so they are made contiguous to
// produce the same dense result ember's ops return.
#include <torch/torch.h>

#include <stdexcept>

#include "workloads.hpp"

namespace bench {

namespace {

class TorchTensorOp final : public Task {
 public:
  TorchTensorOp(std::string name, const std::vector<float>& values, bool backward)
      : name_(std::move(name)), backward_(backward) {
    const TensorOpShape s = tensor_op_shape(name_, static_cast<long>(values.size()));
    const std::vector<int64_t> dims(s.dims.begin(), s.dims.end());
    x_ = torch::from_blob(const_cast<float*>(values.data()), dims, torch::kFloat).clone();
    if (name_ == "gather") {
      std::vector<int64_t> idx(s.index.begin(), s.index.end());
      index_ = torch::from_blob(idx.data(), dims, torch::kLong).clone();
    }
    if (backward_) x_.requires_grad_(true);
    upstream_ = torch::ones_like(forward().detach());
  }
  torch::Tensor forward() {
    if (name_ == "slice") return x_.slice(1, kSliceStart, kSliceStop).contiguous();
    if (name_ == "gather") return torch::gather(x_, 1, index_);
    if (name_ == "permute") return x_.permute({2, 0, 1}).contiguous();
    if (name_ == "logsumexp") return torch::logsumexp(x_, 1);
    throw std::invalid_argument("torch_tensor_ops: unknown op " + name_);
  }
  void run() override {
    torch::Tensor y = forward();
    if (backward_) y.backward(upstream_);
  }
  double checksum() override {
    if (backward_) x_.mutable_grad() = torch::Tensor();
    torch::Tensor y = forward();
    double sum = y.sum().item<double>();
    if (backward_) {
      y.backward(upstream_);
      sum += x_.grad().sum().item<double>();
    }
    return sum;
  }

 private:
  std::string name_;
  bool backward_;
  torch::Tensor x_, index_, upstream_;
};

}  // namespace

std::unique_ptr<Task> make_torch_tensor_op(const std::string& name, const std::vector<float>& values, bool backward) {
  return std::make_unique<TorchTensorOp>(name, values, backward);
}

}  // namespace bench
