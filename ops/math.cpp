#include "math.hpp"

#include <cmath>
#include <span>

#include "../engine/record.hpp"
#include "derivative.hpp"
#include "reduction.hpp"
#include "shape.hpp"
#include "simd.hpp"

namespace ember {

namespace {

template <class T, class E>
TensorT<T> elementwise(const TensorT<T>& x, const E& expr) {
  auto out = TensorT<T>::empty(x.shape());
  assign_elementwise(out.node().value.array(), expr);
  return out;
}

}  // namespace

template <class T>
TensorT<T> square(const TensorT<T>& x) {
  auto out = elementwise(x, x.values().square());
  // d/dx x^2 = 2x
  return record(out, "square", {x}, [](auto& b) { b.accumulate(0, b.grad() * T(2) * b.input(0)); });
}

template <class T>
TensorT<T> reciprocal(const TensorT<T>& x) {
  auto out = elementwise(x, x.values().inverse());
  // d/dx 1/x = -1/x^2 = -out^2
  return record(out, "reciprocal", {x}, [](auto& b) {
    auto h = b.output();
    b.accumulate(0, -b.grad() * h * h);
  });
}

template <class T>
TensorT<T> rsqrt(const TensorT<T>& x) {
  auto out = elementwise(x, x.values().sqrt().inverse());
  // d/dx x^(-1/2) = -x^(-3/2)/2 = -out^3/2
  return record(out, "rsqrt", {x}, [](auto& b) {
    auto h = b.output();
    b.accumulate(0, b.grad() * T(-0.5) * h * h * h);
  });
}

template <class T>
TensorT<T> log1p(const TensorT<T>& x) {
  auto out = elementwise(x, x.values().unaryExpr(simd::vectorized([](auto v) { return simd::log1p_p(v); })));
  // d/dx log(1+x) = 1/(1+x)
  return record(out, "log1p", {x}, [](auto& b) { b.accumulate(0, b.grad() / (b.input(0) + T(1))); });
}

template <class T>
TensorT<T> expm1(const TensorT<T>& x) {
  auto out = elementwise(x, x.values().unaryExpr(simd::vectorized([](auto v) { return simd::expm1_p(v); })));
  // d/dx (e^x - 1) = e^x = out + 1
  return record(out, "expm1", {x}, [](auto& b) { b.accumulate(0, b.grad() * (b.output() + T(1))); });
}

template <class T>
TensorT<T> sin(const TensorT<T>& x) {
  auto out = elementwise(x, x.values().sin());
  // d/dx sin = cos
  return record(out, "sin", {x}, [](auto& b) { b.accumulate(0, b.grad() * d::cos(b.input(0))); });
}

template <class T>
TensorT<T> cos(const TensorT<T>& x) {
  auto out = elementwise(x, x.values().cos());
  // d/dx cos = -sin
  return record(out, "cos", {x}, [](auto& b) { b.accumulate(0, -b.grad() * d::sin(b.input(0))); });
}

template <class T>
TensorT<T> pow(ScalarOf<T> s, const TensorT<T>& x) {
  auto out = elementwise(x, x.values().unaryExpr([s](T v) { return std::pow(s, v); }));
  const T log_s = std::log(s);
  // d/dx s^x = s^x log s (0 for s = 0 where x >= 0)
  return record(out, "rpow_scalar", {x}, [log_s, s](auto& b) {
    if (s == T(0)) b.accumulate(0, d::where(b.input(0) >= T(0), T(0), b.grad() * b.output() * log_s));
    else b.accumulate(0, b.grad() * b.output() * log_s);
  });
}

template <class T>
TensorT<T> logsumexp(const TensorT<T>& x, int axis, bool keepdim) {
  const int a = x.shape().normalize_axis(axis, "logsumexp");
  // max + log(sum(exp(x - max))), each step an op: the gradient is
  // softmax(x) along the axis, and every order of it exists.
  TensorT<T> top;
  {
    NoGradGuard no_grad;  // a constant shift: it changes nothing but the rounding
    top = max(x.detach(), a, true);
    for (T& v : std::span<T>(top.node().value.data(), std::size_t(top.numel())))
      if (!std::isfinite(v)) v = T(0);  // an infinite or NaN maximum shifts by 0
  }
  TensorT<T> shifted = x - top;
  TensorT<T> out = log(sum(exp(shifted), a, true)) + top;
  return keepdim ? out : reshape(out, x.shape().reduced(a, false));
}

template <class T>
TensorT<T> var(const TensorT<T>& x, int axis, double correction, bool keepdim) {
  const int a = x.shape().normalize_axis(axis, "var");
  const Index n = x.shape()[a];
  const TensorT<T> centered = x - mean(x, a, true);
  return sum(centered * centered, a, keepdim) / T(static_cast<double>(n) - correction);
}

template <class T>
TensorT<T> var(const TensorT<T>& x, double correction) {
  const TensorT<T> centered = x - mean(x);
  return sum(centered * centered) / T(static_cast<double>(x.numel()) - correction);
}

template <class T>
TensorT<T> std(const TensorT<T>& x, int axis, double correction, bool keepdim) {
  return sqrt(var(x, axis, correction, keepdim));
}

template <class T>
TensorT<T> std(const TensorT<T>& x, double correction) {
  return sqrt(var(x, correction));
}

#define EMBER_INSTANTIATE(T)                                              \
  template TensorT<T> square(const TensorT<T>&);                          \
  template TensorT<T> reciprocal(const TensorT<T>&);                      \
  template TensorT<T> rsqrt(const TensorT<T>&);                           \
  template TensorT<T> log1p(const TensorT<T>&);                           \
  template TensorT<T> expm1(const TensorT<T>&);                           \
  template TensorT<T> sin(const TensorT<T>&);                             \
  template TensorT<T> cos(const TensorT<T>&);                             \
  template TensorT<T> pow(ScalarOf<T>, const TensorT<T>&);                \
  template TensorT<T> logsumexp(const TensorT<T>&, int, bool);            \
  template TensorT<T> var(const TensorT<T>&, int, double, bool);          \
  template TensorT<T> var(const TensorT<T>&, double);                     \
  template TensorT<T> std(const TensorT<T>&, int, double, bool);          \
  template TensorT<T> std(const TensorT<T>&, double);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
