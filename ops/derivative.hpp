// What backward formulas are written in, on both paths (Note [one
// derivative], engine/graph_backward.hpp).
//
// A backward closure is generic: `b.grad()`, `b.input(i)`, `b.output()` are
// Eigen maps in a first-order pass and tensors in a recorded one. Arithmetic
// works on both as it is. For the rest, each function here has an Eigen form
// (a lazy expression, vectorized: the first-order path stays one fused loop)
// and a tensor form (an ember op, so the gradient is differentiable):
//
//   d::sigmoid(x), d::pow(x, p), d::sign(x), d::where(mask, a, b), d::nonzero(m), d::inside(x, lo, hi),
//   d::nan_at_nan(x, e)
//
// and two ways to use a fused kernel once on both paths:
//
//   d::map2(name, functor, derivative, a, c)
//       elementwise functor(a, c) (a binaryExpr functor, e.g. simd::vectorized(...)): an Eigen expression
//       on the fast path; on the recorded path a node `name` with those values whose backward is `derivative`;
//   d::kernel(b, i, name, kernel, derivative, args...)
//       kernel(T* dst, const T* args...) adds input i's gradient into dst (the gradient buffer itself on
//       the fast path, zeros first when new; a fresh zero tensor recorded as `name` on the other).
//
// `derivative` is the backward of the backward node: a closure taking
// GraphBackward<T>& written in ember ops (it also runs, unrecorded, when a
// first-order pass goes through a recorded gradient).
#pragma once

#include <type_traits>

#include "../engine/broadcast.hpp"
#include "../engine/record.hpp"
#include "activation.hpp"
#include "arithmetic.hpp"
#include "comparison.hpp"
#include "linalg.hpp"
#include "math.hpp"
#include "reduction.hpp"
#include "shape.hpp"
#include "simd.hpp"

namespace ember::d {

// The values at `data` broadcast to `to`: a view when the sizes already
// agree, a materialized copy otherwise.
template <class T>
class Expanded {
 public:
  Expanded(const T* data, const Shape& from, const Shape& to) : view_(data), size_(to.numel()) {
    if (from.numel() != size_) {
      copy_ = Buffer<T>(size_);
      ember::expand(data, from, copy_.data(), to);
      view_ = copy_.data();
    }
  }
  ConstArrayMap<T> array() const { return {view_, size_}; }

 private:
  Buffer<T> copy_;
  const T* view_;
  Index size_;
};

// A tensor standing where the fast path holds an Expanded: the tensor
// itself, since tensor ops broadcast.
template <class T>
struct Held {
  TensorT<T> t;
  const TensorT<T>& array() const { return t; }
};

// Input i at the output's shape, for formulas that combine a broadcast input
// with the gradient: use .array().
template <class T>
Expanded<T> at_output(const Backward<T>& b, int i) {
  return Expanded<T>(b.input(i).data(), b.input_shape(i), b.output_shape());
}
template <class T>
Held<T> at_output(const GraphBackward<T>& b, int i) {
  return {b.input(i)};
}

template <class D>
auto sigmoid(const Eigen::ArrayBase<D>& x) {
  return x.unaryExpr(simd::vectorized([](auto v) { return simd::sigmoid_p(v); }));
}
template <class T>
TensorT<T> sigmoid(const TensorT<T>& x) {
  return ember::sigmoid(x);
}

template <class D, class S>
auto pow(const Eigen::ArrayBase<D>& x, S p) {
  return x.unaryExpr(simd::vectorized([p](auto v) { return simd::pow_p(v, p); }));
}
template <class T>
TensorT<T> pow(const TensorT<T>& x, ScalarOf<T> p) {
  return ember::pow(x, p);
}

template <class D>
auto sign(const Eigen::ArrayBase<D>& x) {
  return x.sign();
}
template <class T>
TensorT<T> sign(const TensorT<T>& x) {
  return ember::sign(x);
}

template <class D>
auto exp(const Eigen::ArrayBase<D>& x) {
  return x.exp();
}
template <class T>
TensorT<T> exp(const TensorT<T>& x) {
  return ember::exp(x);
}
template <class D>
auto abs(const Eigen::ArrayBase<D>& x) {
  return x.abs();
}
template <class T>
TensorT<T> abs(const TensorT<T>& x) {
  return ember::abs(x);
}
template <class D>
auto tanh(const Eigen::ArrayBase<D>& x) {
  return x.tanh();
}
template <class T>
TensorT<T> tanh(const TensorT<T>& x) {
  return ember::tanh(x);
}
template <class D>
auto softplus(const Eigen::ArrayBase<D>& x) {
  return x.unaryExpr(simd::vectorized([](auto v) { return simd::softplus_p(v); }));
}
template <class T>
TensorT<T> softplus(const TensorT<T>& x) {
  return ember::softplus(x);
}

template <class D>
auto log(const Eigen::ArrayBase<D>& x) {
  return x.log();
}
template <class T>
TensorT<T> log(const TensorT<T>& x) {
  return ember::log(x);
}
template <class D>
auto sin(const Eigen::ArrayBase<D>& x) {
  return x.sin();
}
template <class T>
TensorT<T> sin(const TensorT<T>& x) {
  return ember::sin(x);
}
template <class D>
auto cos(const Eigen::ArrayBase<D>& x) {
  return x.cos();
}
template <class T>
TensorT<T> cos(const TensorT<T>& x) {
  return ember::cos(x);
}

// x^p elementwise for an array of exponents.
template <class A, class P>
auto power(const Eigen::ArrayBase<A>& x, const Eigen::ArrayBase<P>& p) {
  using S = typename A::Scalar;
  return x.binaryExpr(p, [](S u, S v) { return std::pow(u, v); });
}
template <class T>
TensorT<T> power(const TensorT<T>& x, const TensorT<T>& p) {
  return ember::pow(x, p);
}
// x == 0 and p >= 0: where pow's exponent gradient is taken as 0 (PyTorch's rule).
template <class A, class P>
auto zero_base(const Eigen::ArrayBase<A>& x, const Eigen::ArrayBase<P>& p) {
  using S = typename A::Scalar;
  return x == S(0) && p >= S(0);
}
template <class T>
TensorT<T> zero_base(const TensorT<T>& x, const TensorT<T>& p) {
  return (x == T(0)) * (p >= T(0));
}

// 1 where x > y, 1/2 where x == y, else 0: maximum's share of the gradient.
template <class A, class B>
Eigen::Array<typename A::Scalar, Eigen::Dynamic, 1> share_of_max(const Eigen::ArrayBase<A>& x, const Eigen::ArrayBase<B>& y) {
  using S = typename A::Scalar;
  return (x > y).template cast<S>() + (x == y).template cast<S>() * S(0.5);
}
template <class T>
TensorT<T> share_of_max(const TensorT<T>& x, const TensorT<T>& y) {
  return (x > y) + (x == y) * T(0.5);
}

// Masks: a bool expression on the fast path, a 0/1 tensor (no grad) on the other.
template <class D>
auto nonzero(const Eigen::ArrayBase<D>& m) {
  return m != typename D::Scalar(0);
}
template <class T>
TensorT<T> nonzero(const TensorT<T>& m) {
  return m != T(0);
}
template <class D, class S>
auto inside(const Eigen::ArrayBase<D>& x, S low, S high) {
  return x >= low && x <= high;
}
template <class T>
TensorT<T> inside(const TensorT<T>& x, ScalarOf<T> low, ScalarOf<T> high) {
  return (x >= low) * (x <= high);
}
template <class D, class S>
auto inside_open(const Eigen::ArrayBase<D>& x, S low, S high) {
  return x > low && x < high;
}
template <class T>
TensorT<T> inside_open(const TensorT<T>& x, ScalarOf<T> low, ScalarOf<T> high) {
  return (x > low) * (x < high);
}

// e, or NaN where x is NaN: for piecewise derivatives (masks compare false
// at NaN), so that a NaN input gives a NaN gradient as well as a NaN value.
template <class D, class E>
auto nan_at_nan(const Eigen::ArrayBase<D>& x, const E& e) {
  return (x != x).select(x, e);
}
template <class T>
TensorT<T> nan_at_nan(const TensorT<T>& x, const TensorT<T>& e) {
  return ember::where(x != x, x, e);
}

// mask ? a : b, with scalars allowed for a or b.
template <class M, class A, class B>
auto where(const Eigen::ArrayBase<M>& mask, const A& a, const B& b) {
  return mask.select(a, b);
}
template <class T>
TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, ScalarOf<T> b) {
  return ember::where(mask, a, TensorT<T>::full(Shape{}, b));
}
template <class T>
TensorT<T> where(const TensorT<T>& mask, ScalarOf<T> a, const TensorT<T>& b) {
  return ember::where(mask, TensorT<T>::full(Shape{}, a), b);
}

template <class T>
TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b) {
  return ember::where(mask, a, b);
}

template <class A, class C, class F, class Dv>
auto map2(const char*, F f, const Dv&, const Eigen::ArrayBase<A>& a, const Eigen::ArrayBase<C>& c) {
  return a.binaryExpr(c, f);
}
template <class T, class F, class Dv>
TensorT<T> map2(const char* name, F f, Dv derivative, const TensorT<T>& a, const TensorT<T>& c) {
  auto out = TensorT<T>::empty(a.shape());
  assign_elementwise(out.node().value.array(), a.values().binaryExpr(c.values(), f));
  return record(out, name, {a, c}, std::move(derivative));
}

template <class T, class K, class Dv, class... A>
void kernel(Backward<T>& b, int i, const char*, K kernel, const Dv&, const A&... args) {
  if (!b.needs(i)) return;
  kernel(b.grad_matrix_of(i, b.input_shape(i).numel(), 1).data(), args.data()...);
}
template <class T, class K, class Dv, class... A>
void kernel(GraphBackward<T>& b, int i, const char* name, K kernel, Dv derivative, const A&... args) {
  if (!b.needs(i)) return;
  auto out = TensorT<T>::zeros(b.input_shape(i));
  kernel(out.node().value.data(), args.data()...);
  b.accumulate(i, record(out, name, {args...}, std::move(derivative)));
}

}  // namespace ember::d
