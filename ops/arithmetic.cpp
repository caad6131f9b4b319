#include "arithmetic.hpp"

#include <cmath>

#include "../engine/record.hpp"
#include "derivative.hpp"
#include "simd.hpp"

namespace ember {

namespace {

template <class T>
using Broadcast = d::Expanded<T>;

// Forward of a broadcasting binary op: f(a, b) on the inputs broadcast to
// their common shape.
template <class T, class F>
TensorT<T> broadcast_binary(const char* op, const TensorT<T>& a, const TensorT<T>& b, F f) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  auto out = TensorT<T>::empty(shape);
  Broadcast<T> x(a.data(), a.shape(), shape), y(b.data(), b.shape(), shape);
  assign_elementwise(out.values(), f(x.array(), y.array()));
  return out;
}

using simd::map;

using d::at_output;

}  // namespace

// The engine sums each gradient below back over the broadcast dimensions.

template <class T>
TensorT<T> operator+(const TensorT<T>& a, const TensorT<T>& b) {
  auto out = broadcast_binary("add", a, b, [](auto x, auto y) { return x + y; });
  // d/da (a+b) = 1, d/db (a+b) = 1
  return record(out, "add", {a, b}, [](auto& g) {
    g.accumulate(0, g.grad());
    g.accumulate(1, g.grad());
  });
}

template <class T>
TensorT<T> operator-(const TensorT<T>& a, const TensorT<T>& b) {
  auto out = broadcast_binary("sub", a, b, [](auto x, auto y) { return x - y; });
  // d/da (a-b) = 1, d/db (a-b) = -1
  return record(out, "sub", {a, b}, [](auto& g) {
    g.accumulate(0, g.grad());
    g.accumulate(1, -g.grad());
  });
}

template <class T>
TensorT<T> operator*(const TensorT<T>& a, const TensorT<T>& b) {
  auto out = broadcast_binary("mul", a, b, [](auto x, auto y) { return x * y; });
  // d/da (ab) = b, d/db (ab) = a
  return record(out, "mul", {a, b}, [](auto& g) {
    if (g.needs(0)) g.accumulate(0, g.grad() * at_output(g, 1).array());
    if (g.needs(1)) g.accumulate(1, g.grad() * at_output(g, 0).array());
  });
}

template <class T>
TensorT<T> operator/(const TensorT<T>& a, const TensorT<T>& b) {
  auto out = broadcast_binary("div", a, b, [](auto x, auto y) { return x / y; });
  // d/da (a/b) = 1/b, d/db (a/b) = -a/b^2 = -out/b
  return record(out, "div", {a, b}, [](auto& g) {
    auto divisor = at_output(g, 1);
    if (g.needs(0)) g.accumulate(0, g.grad() / divisor.array());
    if (g.needs(1)) g.accumulate(1, -g.grad() * g.output() / divisor.array());
  });
}

template <class T>
TensorT<T> operator+(const TensorT<T>& a, ScalarOf<T> s) {
  auto out = TensorT<T>::empty(a.shape());
  out.values() = a.values() + s;
  // d/da (a+s) = 1
  return record(out, "add_scalar", {a}, [](auto& g) { g.accumulate(0, g.grad()); });
}
template <class T>
TensorT<T> operator+(ScalarOf<T> s, const TensorT<T>& a) {
  return a + s;
}
template <class T>
TensorT<T> operator-(const TensorT<T>& a, ScalarOf<T> s) {
  return a + (-s);
}

template <class T>
TensorT<T> operator-(ScalarOf<T> s, const TensorT<T>& a) {
  auto out = TensorT<T>::empty(a.shape());
  out.values() = s - a.values();
  // d/da (s-a) = -1
  return record(out, "rsub_scalar", {a}, [](auto& g) { g.accumulate(0, -g.grad()); });
}

template <class T>
TensorT<T> operator*(const TensorT<T>& a, ScalarOf<T> s) {
  auto out = TensorT<T>::empty(a.shape());
  out.values() = a.values() * s;
  // d/da (as) = s
  return record(out, "mul_scalar", {a}, [s](auto& g) { g.accumulate(0, g.grad() * s); });
}
template <class T>
TensorT<T> operator*(ScalarOf<T> s, const TensorT<T>& a) {
  return a * s;
}

template <class T>
TensorT<T> operator/(const TensorT<T>& a, ScalarOf<T> s) {
  auto out = TensorT<T>::empty(a.shape());
  out.values() = a.values() / s;
  // d/da (a/s) = 1/s
  return record(out, "div_scalar", {a}, [s](auto& g) { g.accumulate(0, g.grad() / s); });
}

template <class T>
TensorT<T> operator/(ScalarOf<T> s, const TensorT<T>& a) {
  auto out = TensorT<T>::empty(a.shape());
  out.values() = s / a.values();
  // d/da (s/a) = -s/a^2 = -out/a
  return record(out, "rdiv_scalar", {a}, [](auto& g) { g.accumulate(0, -g.grad() * g.output() / g.input(0)); });
}

template <class T>
TensorT<T> operator-(const TensorT<T>& a) {
  auto out = map(a, [](auto v) { return simd::negate_p(v); });
  // d/da (-a) = -1
  return record(out, "neg", {a}, [](auto& g) { g.accumulate(0, -g.grad()); });
}

template <class T>
TensorT<T> exp(const TensorT<T>& x) {
  auto out = map(x, [](auto v) { return simd::exp_ieee_p(v); });
  // d/dx e^x = e^x
  return record(out, "exp", {x}, [](auto& g) { g.accumulate(0, g.grad() * g.output()); });
}

template <class T>
TensorT<T> log(const TensorT<T>& x) {
  auto out = map(x, [](auto v) { return simd::log_ieee_p(v); });
  // d/dx ln x = 1/x
  return record(out, "log", {x}, [](auto& g) { g.accumulate(0, g.grad() / g.input(0)); });
}

template <class T>
TensorT<T> sqrt(const TensorT<T>& x) {
  auto out = map(x, [](auto v) { return simd::sqrt_p(v); });
  // d/dx sqrt(x) = 1 / (2 sqrt(x))
  return record(out, "sqrt", {x}, [](auto& g) { g.accumulate(0, g.grad() / (T(2) * g.output())); });
}

template <class T>
TensorT<T> abs(const TensorT<T>& x) {
  auto out = TensorT<T>::empty(x.shape());
  out.values() = x.values().abs();
  // d/dx |x| = sign(x), 0 at x = 0
  return record(out, "abs", {x}, [](auto& g) { g.accumulate(0, g.grad() * d::sign(g.input(0))); });
}

template <class T>
TensorT<T> pow(const TensorT<T>& x, ScalarOf<T> p) {
  auto out = map(x, [p](auto v) { return simd::pow_p(v, p); });
  // d/dx x^p = p x^(p-1); exactly 0 for p = 0 (also at x = 0)
  return record(out, "pow", {x}, [p](auto& g) {
    if (p == T(0)) g.accumulate(0, g.grad() * T(0));
    else g.accumulate(0, g.grad() * p * d::pow(g.input(0), p - T(1)));
  });
}

template <class T>
TensorT<T> pow(const TensorT<T>& x, const TensorT<T>& y) {
  auto out = broadcast_binary("pow", x, y, [](auto a, auto p) { return a.binaryExpr(p, [](T u, T v) { return std::pow(u, v); }); });
  // d/dx x^y = y x^(y-1) (0 where y = 0); d/dy x^y = x^y log x (0 where x = 0 and y >= 0)
  return record(out, "pow", {x, y}, [](auto& g) {
    const auto base = at_output(g, 0), p = at_output(g, 1);
    if (g.needs(0))
      g.accumulate(0, d::where(p.array() == T(0), T(0), g.grad() * p.array() * d::power(base.array(), p.array() - T(1))));
    if (g.needs(1))
      g.accumulate(1, g.grad() * d::where(d::zero_base(base.array(), p.array()), T(0), g.output() * d::log(base.array())));
  });
}

template <class T>
TensorT<T> clamp(const TensorT<T>& x, ScalarOf<T> low, ScalarOf<T> high) {
  if (!(low <= high)) fail<ValueError>("clamp: low bound {} is above high bound {}", low, high);
  auto out = TensorT<T>::empty(x.shape());
  out.values() = x.values().max(low).min(high);
  // d/dx clamp(x) = 1 for low <= x <= high, else 0
  return record(out, "clamp", {x}, [low, high](auto& g) {
    g.accumulate(0, d::where(d::inside(g.input(0), low, high), g.grad(), T(0)));
  });
}

#define EMBER_INSTANTIATE(T)                                          \
  template TensorT<T> operator+(const TensorT<T>&, const TensorT<T>&); \
  template TensorT<T> operator-(const TensorT<T>&, const TensorT<T>&); \
  template TensorT<T> operator*(const TensorT<T>&, const TensorT<T>&); \
  template TensorT<T> operator/(const TensorT<T>&, const TensorT<T>&); \
  template TensorT<T> operator+(const TensorT<T>&, ScalarOf<T>);       \
  template TensorT<T> operator+(ScalarOf<T>, const TensorT<T>&);       \
  template TensorT<T> operator-(const TensorT<T>&, ScalarOf<T>);       \
  template TensorT<T> operator-(ScalarOf<T>, const TensorT<T>&);       \
  template TensorT<T> operator*(const TensorT<T>&, ScalarOf<T>);       \
  template TensorT<T> operator*(ScalarOf<T>, const TensorT<T>&);       \
  template TensorT<T> operator/(const TensorT<T>&, ScalarOf<T>);       \
  template TensorT<T> operator/(ScalarOf<T>, const TensorT<T>&);       \
  template TensorT<T> operator-(const TensorT<T>&);                    \
  template TensorT<T> exp(const TensorT<T>&);                          \
  template TensorT<T> log(const TensorT<T>&);                          \
  template TensorT<T> sqrt(const TensorT<T>&);                         \
  template TensorT<T> abs(const TensorT<T>&);                          \
  template TensorT<T> pow(const TensorT<T>&, ScalarOf<T>);             \
  template TensorT<T> pow(const TensorT<T>&, const TensorT<T>&);       \
  template TensorT<T> clamp(const TensorT<T>&, ScalarOf<T>, ScalarOf<T>);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
