// Shared by the elementwise op tests: an op must give the same bits for the
// same element whatever the tensor's size. A one-element tensor runs Eigen's
// scalar path; a tensor of 64K elements or more runs its packets (and the
// threads of assign_elementwise), with a scalar tail after the last packet.
#pragma once

#include <ember/ember.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../test_helpers.hpp"

namespace edge {

// The same value, NaN matching any NaN, and 0 not matching -0.
template <class T>
bool same(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

// Close enough for the packet math, which may differ from the C library's in
// the last few bits of a finite result: the same kind of value (NaN, inf,
// zero, finite), the same sign, and within 8 ulp (or 2 subnormal steps).
template <class T>
bool agree(T a, T b) {
  using L = std::numeric_limits<T>;
  if (same(a, b)) return true;
  if (!std::isfinite(a) || !std::isfinite(b) || (a == 0) != (b == 0) || std::signbit(a) != std::signbit(b))
    return false;
  return std::abs(a - b) <= 8 * L::epsilon() * std::max(std::abs(a), std::abs(b)) + 2 * L::denorm_min();
}

template <class T>
std::string hex(T v) {
  char text[64];
  std::snprintf(text, sizeof text, "%a", static_cast<double>(v));
  return text;
}

// The special inputs first (kSpecials of them: both infinities, both zeros,
// NaN), then ordinary values: the largest finite numbers, near float's exp
// overflow and underflow, subnormals in float and double. 19 values, coprime
// to every packet width, so each meets every lane.
inline constexpr std::size_t kSpecials = 5;
template <class T>
std::vector<T> edge_values() {
  using L = std::numeric_limits<T>;
  return {L::infinity(), -L::infinity(), T(0), T(-0.0), L::quiet_NaN(), L::max(), -L::max(),
          T(0.3), T(-2.7), T(1e-3), T(10.5), T(88.5), T(-88.5), T(-100), T(700), T(-720), T(1e-40), T(1e-310),
          T(123.456)};
}

// 2^16 + 21 elements: past the parallel threshold, with a scalar tail.
inline constexpr ember::Index kLarge = (ember::Index(1) << 16) + 21;

template <class T>
using UnaryOp = std::function<ember::TensorT<T>(const ember::TensorT<T>&)>;

// f's value and gradient (upstream ones) at each of `xs`, as one tensor.
template <class T>
std::pair<std::vector<T>, std::vector<T>> run(const UnaryOp<T>& f, const std::vector<T>& xs) {
  auto x = ember::TensorT<T>::from_data(xs, {static_cast<ember::Index>(xs.size())}).requires_grad_();
  auto y = f(x);
  y.backward(ember::TensorT<T>::ones(y.shape()));
  return {y.to_vector(), x.grad().to_vector()};
}

// f at each edge value s alone, in a one-element tensor, and at every
// position of a kLarge tensor holding the edge values in turn: the value and
// the gradient must be the same bits everywhere for the special inputs, and
// agree() for the ordinary ones. With a reference, the one-element value at
// a non-finite or zero s must also equal reference(s), the IEEE / C library
// result (C99 Annex F fixes these exactly).
template <class T>
void check_any_size(const std::string& name, const UnaryOp<T>& f, const std::function<T(T)>& reference = nullptr) {
  const std::vector<T> values = edge_values<T>();
  const auto n = values.size();
  std::vector<T> xs(static_cast<std::size_t>(kLarge));
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = values[i % n];
  const auto [large_values, large_grads] = run<T>(f, xs);
  for (std::size_t k = 0; k < n; ++k) {
    const T s = values[k];
    INFO(name, " in ", std::string(sizeof(T) == 4 ? "float" : "double"), " at x = ", s);
    const auto [one_value, one_grad] = run<T>(f, {s});
    if (reference && (!std::isfinite(s) || s == 0)) {
      INFO("one element: ", one_value[0], ", reference ", reference(s));
      CHECK(same(one_value[0], reference(s)));
    }
    const auto match = k < kSpecials ? &same<T> : &agree<T>;
    std::size_t i = k;
    while (i < xs.size() && match(large_values[i], one_value[0]) && match(large_grads[i], one_grad[0])) i += n;
    if (i < xs.size()) {
      INFO("position ", i, " of ", kLarge, ": value ", hex(large_values[i]), " vs ", hex(one_value[0]),
           " alone; gradient ", hex(large_grads[i]), " vs ", hex(one_grad[0]));
      CHECK(false);
    }
  }
}

}  // namespace edge
