// The ember side of the layer workloads (workloads.hpp): layer_norm.
#include <ember/ember.hpp>

#include "workloads.hpp"

namespace bench {

namespace {

using ember::Tensor;

class EmberLayerNorm final : public Task {
 public:
  EmberLayerNorm(const LayerNormInput& in, bool backward) : cols_(in.cols), backward_(backward) {
    x_ = Tensor::from_data(in.x, {in.rows, in.cols});
    w_ = Tensor::from_data(in.weight, {in.cols});
    b_ = Tensor::from_data(in.bias, {in.cols});
    up_ = Tensor::from_data(in.upstream, {in.rows, in.cols});
    if (backward_) x_.requires_grad_(), w_.requires_grad_(), b_.requires_grad_();
  }
  void run() override {
    Tensor y = ember::layer_norm(x_, {cols_}, w_, b_);
    if (backward_) y.backward(up_);
  }
  double checksum() override {
    for (auto* t : {&x_, &w_, &b_}) t->zero_grad();
    Tensor y = ember::layer_norm(x_, {cols_}, w_, b_);
    double sum = std::as_const(y).values().cast<double>().sum();
    if (backward_) {
      y.backward(up_);
      for (auto* t : {&x_, &w_, &b_}) sum += t->grad_values().cast<double>().abs().sum();
    }
    return sum;
  }

 private:
  ember::Index cols_;
  bool backward_;
  Tensor x_, w_, b_, up_;
};

}  // namespace

std::unique_ptr<Task> make_ember_layer_norm(const LayerNormInput& in, bool backward) {
  return std::make_unique<EmberLayerNorm>(in, backward);
}

}  // namespace bench
