// The activations libtorch users reach for beyond the seed's: log_sigmoid,
// hardtanh, relu6, hardsigmoid, hardswish, selu, celu, mish, softsign,
// prelu, glu (declared in activation.hpp). Each is one node named after
// itself, so diagnostics find it (glu: see below).
#include <cmath>
#include <limits>

#include "../engine/record.hpp"
#include "activation.hpp"
#include "derivative.hpp"
#include "simd.hpp"

namespace ember {

namespace {

namespace ei = Eigen::internal;

template <class T, class E>
TensorT<T> elementwise(const TensorT<T>& x, const E& expr) {
  auto out = TensorT<T>::empty(x.shape());
  assign_elementwise(out.node().value.array(), expr);
  return out;
}

// SELU's constants (Klambauer et al. 2017, as in PyTorch)
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

template <class T>
TensorT<T> hardtanh_named(const char* op, const TensorT<T>& x, T low, T high) {
  if (!(low < high)) fail<ValueError>("{}: min_val {} is not below max_val {}", op, low, high);
  auto out = elementwise(x, x.values().max(low).min(high));
  // d/dx = 1 strictly inside (low, high), 0 outside and at the bounds (as in PyTorch); NaN at NaN
  return record(out, op, {x}, [low, high](auto& b) {
    const auto x = b.input(0);
    b.accumulate(0, d::nan_at_nan(x, d::where(d::inside_open(x, low, high), b.grad(), T(0))));
  });
}

}  // namespace

template <class T>
TensorT<T> log_sigmoid(const TensorT<T>& x) {
  auto out = simd::map(x, [](auto v) { return simd::negate_p(simd::softplus_p(simd::negate_p(v))); });
  // d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x)
  return record(out, "log_sigmoid", {x}, [](auto& b) { b.accumulate(0, b.grad() * d::sigmoid(-b.input(0))); });
}

template <class T>
TensorT<T> hardtanh(const TensorT<T>& x, ScalarOf<T> min_val, ScalarOf<T> max_val) {
  return hardtanh_named("hardtanh", x, min_val, max_val);
}

template <class T>
TensorT<T> relu6(const TensorT<T>& x) {
  return hardtanh_named("relu6", x, T(0), T(6));
}

template <class T>
TensorT<T> hardsigmoid(const TensorT<T>& x) {
  auto out = elementwise(x, (x.values() / T(6) + T(0.5)).max(T(0)).min(T(1)));
  // d/dx = 1/6 for -3 < x < 3, else 0; NaN at NaN
  return record(out, "hardsigmoid", {x}, [](auto& b) {
    const auto x = b.input(0);
    b.accumulate(0, d::nan_at_nan(x, d::where(d::inside_open(x, T(-3), T(3)), b.grad() / T(6), T(0))));
  });
}

template <class T>
TensorT<T> hardswish(const TensorT<T>& x) {
  // 0 up to -3 (also at -inf, not -inf * 0), x from 3, x (x/6 + 1/2) between
  const auto v = x.values();
  auto out = elementwise(x, (v <= T(-3)).select(T(0), (v >= T(3)).select(v, v * (v / T(6) + T(0.5)))));
  // d/dx = 0 for x < -3, x/3 + 1/2 for -3 <= x <= 3, 1 above (PyTorch's rule at the bounds); NaN at NaN
  return record(out, "hardswish", {x}, [](auto& b) {
    const auto x = b.input(0);
    b.accumulate(0, d::where(x < T(-3), T(0), d::where(x > T(3), b.grad(), b.grad() * (x / T(3) + T(0.5)))));
  });
}

template <class T>
TensorT<T> selu(const TensorT<T>& x) {
  auto out = elementwise(x, (x.values() > T(0))
                                .select(x.values() * T(kSeluScale),
                                        x.values().unaryExpr(simd::vectorized([](auto v) { return simd::expm1_p(v); })) *
                                            T(kSeluScale * kSeluAlpha)));
  // d/dx = scale for x > 0, scale alpha e^x else (e^min(x, 0): no inf is masked)
  return record(out, "selu", {x}, [](auto& b) {
    const auto x = b.input(0);
    b.accumulate(0, b.grad() * d::where(x > T(0), T(kSeluScale),
                                        d::exp(d::where(x > T(0), T(0), x)) * T(kSeluScale * kSeluAlpha)));
  });
}

template <class T>
TensorT<T> celu(const TensorT<T>& x, ScalarOf<T> alpha) {
  if (!(alpha != T(0))) fail<ValueError>("celu: alpha must not be 0");
  auto out = elementwise(x, (x.values() > T(0))
                                .select(x.values(), (x.values() / alpha).unaryExpr(simd::vectorized([](auto v) {
                                          return simd::expm1_p(v);
                                        })) * alpha));
  // d/dx = 1 for x > 0, e^(x/alpha) else
  return record(out, "celu", {x}, [alpha](auto& b) {
    const auto x = b.input(0);
    b.accumulate(0, b.grad() * d::where(x > T(0), T(1), d::exp(d::where(x > T(0), T(0), x) / alpha)));
  });
}

template <class T>
TensorT<T> mish(const TensorT<T>& x) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  const auto v = x.values();
  const auto softplus = v.unaryExpr(simd::vectorized([](auto u) { return simd::softplus_p(u); }));
  auto out = elementwise(x, (v == -inf).select(T(0), v * softplus.tanh()));  // limit 0 at -inf, not -inf * 0
  // d/dx x tanh(sp(x)) = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x)); the limits 1 at +inf, 0 at -inf
  return record(out, "mish", {x}, [](auto& b) {
    constexpr T inf = std::numeric_limits<T>::infinity();
    const auto x = b.input(0);
    const auto t = d::tanh(d::softplus(x));
    const auto inner = d::where(x == -inf, T(0), t + x * (T(1) - t * t) * d::sigmoid(x));
    b.accumulate(0, b.grad() * d::where(x == inf, T(1), inner));
  });
}

template <class T>
TensorT<T> softsign(const TensorT<T>& x) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  const auto v = x.values();
  auto out = elementwise(x, (v.abs() == inf).select(v.sign(), v / (v.abs() + T(1))));  // +-1 at +-inf
  // d/dx x / (1 + |x|) = 1 / (1 + |x|)^2
  return record(out, "softsign", {x}, [](auto& b) {
    const auto den = d::abs(b.input(0)) + T(1);
    b.accumulate(0, b.grad() / (den * den));
  });
}

template <class T>
TensorT<T> prelu(const TensorT<T>& x, const TensorT<T>& weight) {
  // One slope, or one per channel (axis 1; axis 0 for a vector), as in PyTorch.
  const Shape& s = x.shape();
  const int channel = s.rank() >= 2 ? 1 : 0;
  const Index channels = s.rank() == 0 ? 1 : s[channel];
  if (weight.rank() != 1 || (weight.numel() != 1 && weight.numel() != channels))
    fail<ShapeError>("prelu: weight {} must have 1 or {} elements (the channels of input {})", weight.shape().str(),
                     channels, s.str());
  Shape ws = s.rank() == 0 ? Shape{} : s;
  for (int i = 0; i < ws.rank(); ++i) ws[i] = i == channel ? weight.numel() : 1;
  const TensorT<T> w = ws.rank() == 0 ? reshape(weight, Shape{}) : reshape(weight, ws);
  const d::Expanded<T> wide(w.data(), w.shape(), s);
  auto out = elementwise(x, (x.values() > T(0)).select(x.values(), x.values() * wide.array()));
  // d/dx = 1 for x > 0, w else; d/dw = x where x <= 0 (summed over the positions sharing w)
  return record(out, "prelu", {x, w}, [](auto& b) {
    const auto x = b.input(0);
    const auto slope = d::at_output(b, 1);
    if (b.needs(0)) b.accumulate(0, d::where(x > T(0), b.grad(), b.grad() * slope.array()));
    if (b.needs(1)) b.accumulate(1, d::where(x > T(0), T(0), b.grad() * x));
  });
}

// glu(x, axis) = a * sigmoid(b), a and b the halves of x along the axis:
// composed of slice, sigmoid and mul (diagnostics see its sigmoid).
template <class T>
TensorT<T> glu(const TensorT<T>& x, int axis) {
  const int a = x.shape().normalize_axis(axis, "glu");
  const Index n = x.shape()[a];
  if (n % 2 != 0)
    fail<ShapeError>("glu: axis {} of input {} has odd size {}; it must split in two halves", axis, x.shape().str(), n);
  return slice(x, a, 0, n / 2) * sigmoid(slice(x, a, n / 2, n));
}

#define EMBER_INSTANTIATE(T)                                                  \
  template TensorT<T> log_sigmoid(const TensorT<T>&);                         \
  template TensorT<T> hardtanh(const TensorT<T>&, ScalarOf<T>, ScalarOf<T>);  \
  template TensorT<T> relu6(const TensorT<T>&);                               \
  template TensorT<T> hardsigmoid(const TensorT<T>&);                         \
  template TensorT<T> hardswish(const TensorT<T>&);                           \
  template TensorT<T> selu(const TensorT<T>&);                                \
  template TensorT<T> celu(const TensorT<T>&, ScalarOf<T>);                   \
  template TensorT<T> mish(const TensorT<T>&);                                \
  template TensorT<T> softsign(const TensorT<T>&);                            \
  template TensorT<T> prelu(const TensorT<T>&, const TensorT<T>&);            \
  template TensorT<T> glu(const TensorT<T>&, int);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
