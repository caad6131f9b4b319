// The ember side of scalar_chain (a graph of one-element ops) and of the
// no-grad MLP inference workload.
#include <ember/ember.hpp>

#include "../nn/linear.hpp"
#include "../ops/activation.hpp"
#include "workloads.hpp"

namespace bench {

namespace {

using ember::Tensor;

class EmberScalarChain final : public Task {
 public:
  explicit EmberScalarChain(int length) : length_(length) {
    x_ = Tensor::full({1}, kScalarX);
    w_ = Tensor::full({1}, kScalarW).requires_grad_();
    b_ = Tensor::full({1}, kScalarB).requires_grad_();
  }
  Tensor forward() {
    Tensor y = x_;
    for (int k = 0; k < length_; ++k) y = ember::tanh(y * w_ + b_);
    return y;
  }
  void run() override { forward().backward(); }
  void build() override { kept_ = forward(); }
  void release() override { kept_ = Tensor(); }
  double checksum() override {
    w_.zero_grad();
    b_.zero_grad();
    Tensor y = forward();
    y.backward();
    return static_cast<double>(y.item()) + w_.grad().item() + b_.grad().item();
  }

 private:
  int length_;
  Tensor x_, w_, b_, kept_;
};

class EmberInference final : public Task {
 public:
  EmberInference(const MlpSpec& spec, const MlpInit& init) {
    for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
      const ember::Index in = spec.sizes[l], out = spec.sizes[l + 1];
      weights_.push_back(Tensor::from_data(init.weights[l], {out, in}).requires_grad_());
      biases_.push_back(Tensor::from_data(init.biases[l], {out}).requires_grad_());
    }
    x_ = Tensor::from_data(init.x, {spec.batch, spec.sizes.front()});
  }
  Tensor forward() {
    ember::NoGradGuard no_grad;
    Tensor h = x_;
    for (std::size_t l = 0; l < weights_.size(); ++l) {
      h = ember::linear(h, weights_[l], biases_[l]);
      if (l + 1 < weights_.size()) h = ember::relu(h);
    }
    return h;
  }
  void run() override { out_ = forward(); }
  double checksum() override { return static_cast<double>(forward().values().template cast<double>().sum()); }

 private:
  std::vector<Tensor> weights_, biases_;
  Tensor x_, out_;
};

}  // namespace

std::unique_ptr<Task> make_ember_scalar_chain(int length) { return std::make_unique<EmberScalarChain>(length); }
std::unique_ptr<Task> make_ember_inference(const MlpSpec& spec, const MlpInit& init) {
  return std::make_unique<EmberInference>(spec, init);
}

}  // namespace bench
