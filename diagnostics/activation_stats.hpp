// Statistics of one activation call's outputs: how many units saturate or sit
// at exactly zero, and how much gradient the activation lets through (its
// mean local derivative dH/dy).
#pragma once

#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../engine/tensor.hpp"

namespace ember::diag {

struct ActivationThresholds {
  double sigmoid_low = 0.01;   // a sigmoid output below this is saturated...
  double sigmoid_high = 0.99;  // ...and so is one above this
  double tanh_abs = 0.99;      // a tanh output with |H| above this is saturated
  // Every other activation: saturated where |dH/dy| is below this (for relu
  // that is exactly its zero region).
  double derivative = 0.01;
};

struct ActivationStats {
  Index count = 0;               // elements
  double mean = 0;               // of the outputs
  double std = 0;                // population standard deviation of the outputs
  double saturated = 0;          // fraction of saturated elements
  double mean_derivative = 0;    // mean of dH/dy over the elements
  double zero_fraction = 0;      // fraction of exact zeros; NaN unless relu-like
};

// The activations the monitors recognise, by the op name they record: every
// name in activation_names() (ops/activation.hpp). softmax, prelu and glu
// are not among them (not elementwise with a fixed shape, or parameterized).
bool is_activation(std::string_view op);
// relu, leaky_relu, elu, relu6, selu, celu: their zero fraction is reported.
bool is_relu_like(std::string_view op);

// Statistics of one call of activation `op`; `input` is its argument y and
// `output` its value H (same size). dH/dy is computed from them:
//   sigmoid H(1-H); tanh 1-H^2; relu 1{y>0}; leaky_relu 1 or the slope (H/y);
//   elu 1 or alpha*e^y (= H e^y / expm1(y)); gelu Phi(y) + y phi(y) (exact
//   erf form); silu s(1 + y(1-s)) with s = sigmoid(y); softplus sigmoid(y)
//   (beta = 1); the others from their closed forms in y (hardtanh: 1 where
//   H = y, its bounds not being in the op name; celu for alpha = 1, the
//   lookup's default). An op that is not an activation is a ValueError.
template <class T>
ActivationStats activation_stats(std::string_view op, const TensorT<T>& input, const TensorT<T>& output,
                                 const ActivationThresholds& thresholds = {});

// "relu#2": the third relu call of a forward pass.
std::string layer_name(std::string_view op, int call);

// Counts how often each op was called since the last reset(), so the k-th
// call of an op in a forward pass can be named (op, k). Op names are few, so a
// flat list beats a hash map.
class OpCallCounter {
 public:
  int next(const char* op) {
    for (auto& [name, count] : counts_)
      if (name == op || std::strcmp(name, op) == 0) return count++;
    counts_.emplace_back(op, 1);
    return 0;
  }
  void reset() { counts_.clear(); }

 private:
  std::vector<std::pair<const char*, int>> counts_;
};

}  // namespace ember::diag
