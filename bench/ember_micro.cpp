// The ember side of the small-op benchmarks: deep_chain and activation
// throughput.
#include <ember/ember.hpp>

#include <stdexcept>

#include "workloads.hpp"
#include "../ops/activation.hpp"

namespace bench {

namespace {

using ember::Tensor;

Tensor linspace(float low, float high, int n) {
  Tensor t = Tensor::empty({n});
  for (int i = 0; i < n; ++i) t.data()[i] = n == 1 ? low : low + (high - low) * static_cast<float>(i) / static_cast<float>(n - 1);
  return t;
}

class EmberChain final : public Task {
 public:
  EmberChain(int length, int width) : length_(length) {
    x_ = linspace(-1, 1, width);
    a_ = Tensor::ones({width});
    a_.values() += 1e-4f * linspace(-1, 1, width).values();
    a_.requires_grad_();
    b_ = linspace(-1, 1, width);
    b_.values() *= 0.01f;
    b_.requires_grad_();
    upstream_ = Tensor::ones({width});
  }
  Tensor forward() {
    Tensor y = x_;
    for (int k = 0; k < length_; ++k) {
      switch (k % 4) {
        case 0: y = y * a_; break;
        case 1: y = y + 0.5f; break;
        case 2: y = y * -1.0f; break;
        default: y = y + b_; break;
      }
    }
    return y;
  }
  void run() override { forward().backward(upstream_); }
  void build() override { kept_ = forward(); }
  void release() override { kept_ = Tensor(); }
  double checksum() override {
    a_.zero_grad();
    b_.zero_grad();
    Tensor y = forward();
    y.backward(upstream_);
    return static_cast<double>(y.values().sum() + a_.grad_values().sum() + b_.grad_values().sum());
  }

 private:
  int length_;
  Tensor x_, a_, b_, upstream_, kept_;
};

Tensor run_activation(const std::string& name, const Tensor& x) {
  if (name == "relu") return ember::relu(x);
  if (name == "leaky_relu") return ember::leaky_relu(x, 0.01f);
  if (name == "elu") return ember::elu(x);
  if (name == "sigmoid") return ember::sigmoid(x);
  if (name == "tanh") return ember::tanh(x);
  if (name == "gelu") return ember::gelu(x);  // exact (erf) form, as torch::gelu
  if (name == "silu") return ember::silu(x);
  if (name == "softplus") return ember::softplus(x);
  throw std::invalid_argument("unknown activation " + name);
}

class EmberActivation final : public Task {
 public:
  EmberActivation(std::string name, const std::vector<float>& values, bool backward)
      : name_(std::move(name)), backward_(backward) {
    x_ = Tensor::from_data(values, {static_cast<ember::Index>(values.size())});
    if (backward_) {
      x_.requires_grad_();
      upstream_ = Tensor::ones(x_.shape());
    }
  }
  void run() override {
    Tensor y = run_activation(name_, x_);
    if (backward_) y.backward(upstream_);
  }
  double checksum() override {
    x_.zero_grad();
    Tensor y = run_activation(name_, x_);
    double sum = static_cast<double>(y.values().template cast<double>().sum());
    if (backward_) {
      y.backward(upstream_);
      sum += static_cast<double>(x_.grad_values().template cast<double>().sum());
    }
    return sum;
  }

 private:
  std::string name_;
  bool backward_;
  Tensor x_, upstream_;
};

}  // namespace

std::unique_ptr<Task> make_ember_chain(int length, int width) { return std::make_unique<EmberChain>(length, width); }

std::unique_ptr<Task> make_ember_activation(const std::string& name, const std::vector<float>& values, bool backward) {
  return std::make_unique<EmberActivation>(name, values, backward);
}

}  // namespace bench
