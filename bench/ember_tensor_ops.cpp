// The ember side of the tensor-op benchmarks: slice, gather, permute and
// logsumexp forward (and forward + backward of an all-ones upstream) on a
// fixed input. Shapes are in tensor_op_shape() (workloads.hpp) so both sides
// agree.
#include <ember/ember.hpp>

#include <stdexcept>

#include "workloads.hpp"

namespace bench {

namespace {

using ember::Tensor;

class EmberTensorOp final : public Task {
 public:
  EmberTensorOp(std::string name, const std::vector<float>& values, bool backward)
      : name_(std::move(name)), backward_(backward) {
    const TensorOpShape s = tensor_op_shape(name_, static_cast<long>(values.size()));
    const std::vector<ember::Index> dims(s.dims.begin(), s.dims.end());
    const ember::Shape shape{std::span<const ember::Index>(dims)};
    x_ = Tensor::from_data(values, shape);
    if (backward_) x_.requires_grad_();
    if (name_ == "gather") {
      std::vector<ember::Index> idx(s.index.begin(), s.index.end());
      index_ = ember::Indices(std::move(idx), shape);
    }
    upstream_ = Tensor::ones(forward().shape());
  }
  Tensor forward() {
    if (name_ == "slice") return ember::slice(x_, 1, kSliceStart, kSliceStop);
    if (name_ == "gather") return ember::gather(x_, 1, index_);
    if (name_ == "permute") return ember::permute(x_, {2, 0, 1});
    if (name_ == "logsumexp") return ember::logsumexp(x_, 1);
    throw std::invalid_argument("ember_tensor_ops: unknown op " + name_);
  }
  void run() override {
    Tensor y = forward();
    if (backward_) y.backward(upstream_);
  }
  double checksum() override {
    if (backward_) x_.zero_grad();
    Tensor y = forward();
    double sum = static_cast<double>(y.values().sum());
    if (backward_) {
      y.backward(upstream_);
      sum += static_cast<double>(x_.grad_values().sum());
    }
    return sum;
  }

 private:
  std::string name_;
  bool backward_;
  Tensor x_, upstream_;
  ember::Indices index_;
};

}  // namespace

std::unique_ptr<Task> make_ember_tensor_op(const std::string& name, const std::vector<float>& values, bool backward) {
  return std::make_unique<EmberTensorOp>(name, values, backward);
}

}  // namespace bench
