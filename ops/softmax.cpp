// softmax and log_softmax along an axis (declared in activation.hpp).
#include <type_traits>

#include "../engine/record.hpp"
#include "activation.hpp"
#include "derivative.hpp"
#include "simd.hpp"

namespace ember {

// --- softmax and log-softmax along an axis ------------------------------------

namespace {

template <class T, int Order>
using Lines = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Order>>;
template <class T, int Order>
using ConstLines = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Order>>;
template <class T>
using Column = Eigen::Array<T, Eigen::Dynamic, 1>;

// A tensor seen as [outer, n, inner] around `axis` (a scalar as [1]).
struct AxisSplit {
  Index outer = 1, n = 1, inner = 1;
  AxisSplit(const Shape& shape, int axis, const char* op) {
    const Shape s = shape.rank() == 0 ? Shape{1} : shape;
    const int a = s.normalize_axis(axis, op);
    for (int i = 0; i < s.rank(); ++i) (i < a ? outer : i == a ? n : inner) *= s[i];
  }
  // Calls f(order, offset, rows) for matrices whose rows are the lines along
  // the axis: one row-major [outer x n] block when the axis is the last,
  // else one column-major [inner x n] block per outer index.
  template <class F>
  void for_each_block(F&& f) const {
    if (outer * n * inner == 0) return;
    if (inner == 1) return f(std::integral_constant<int, Eigen::RowMajor>{}, Index(0), outer);
    for (Index o = 0; o < outer; ++o) f(std::integral_constant<int, Eigen::ColMajor>{}, o * n * inner, inner);
  }
};

constexpr auto kExp = [](auto v) { return simd::exp_p(v); };

// A scalar as [1], as AxisSplit sees it.
template <class T>
TensorT<T> at_least_1d(const TensorT<T>& t) {
  return t.rank() == 0 ? reshape(t, {Index(1)}) : t;
}

// dx += H (g - sum(g H)) along the axis
template <class T>
struct SoftmaxGrad {
  AxisSplit split;
  void operator()(T* dx, const T* gd, const T* hd) const {
    split.for_each_block([&](auto order, Index offset, Index rows) {
      constexpr int O = decltype(order)::value;
      ConstLines<T, O> g(gd + offset, rows, split.n), h(hd + offset, rows, split.n);
      Lines<T, O> d(dx + offset, rows, split.n);
      const Column<T> dot = (g * h).rowwise().sum();
      d += h * (g.colwise() - dot);
    });
  }
};

// softmax_backward(g, H) = H (g - <g, H>): symmetric in g, so its derivative
// in g is itself; in H, up (g - <g, H>) - g <up, H> (sums along the axis).
template <class T>
struct SoftmaxGradBackward {
  AxisSplit split;
  int axis;
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> g = at_least_1d(b.input(0)), h = at_least_1d(b.input(1)), up = at_least_1d(b.grad());
    d::kernel(b, 0, "softmax_backward", SoftmaxGrad<T>{split}, *this, b.grad(), b.input(1));
    if (b.needs(1)) b.accumulate(1, up * (g - sum(g * h, axis, true)) - g * sum(up * h, axis, true));
  }
};

// dx += g - e^H sum(g) along the axis
template <class T>
struct LogSoftmaxGrad {
  AxisSplit split;
  void operator()(T* dx, const T* gd, const T* hd) const {
    split.for_each_block([&](auto order, Index offset, Index rows) {
      constexpr int O = decltype(order)::value;
      ConstLines<T, O> g(gd + offset, rows, split.n), h(hd + offset, rows, split.n);
      Lines<T, O> d(dx + offset, rows, split.n);
      const Column<T> total = simd::ordered(g).rowwise().sum();
      const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, O> p = h.unaryExpr(simd::vectorized(kExp));
      d += g - p.colwise() * total;
    });
  }
};

// log_softmax_backward(g, H) = g - e^H sum(g): in g, up - sum(up e^H); in H,
// -up e^H sum(g).
template <class T>
struct LogSoftmaxGradBackward {
  AxisSplit split;
  int axis;
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> g = at_least_1d(b.input(0)), p = exp(at_least_1d(b.input(1))), up = at_least_1d(b.grad());
    if (b.needs(0)) b.accumulate(0, up - sum(up * p, axis, true));
    if (b.needs(1)) b.accumulate(1, -(up * p * sum(g, axis, true)));
  }
};

}  // namespace

// Fused: from exp/sum/div nodes the exponentials overflow without the shift,
// and the backward would keep three buffers instead of the output.
template <class T>
TensorT<T> softmax(const TensorT<T>& x, int axis) {
  const AxisSplit split(x.shape(), axis, "softmax");
  auto out = TensorT<T>::empty(x.shape());
  split.for_each_block([&](auto order, Index offset, Index rows) {
    constexpr int O = decltype(order)::value;
    ConstLines<T, O> in(x.data() + offset, rows, split.n);
    Lines<T, O> y(out.data() + offset, rows, split.n);
    const Column<T> max = in.rowwise().maxCoeff();
    y = in.colwise() - max;
    y = y.unaryExpr(simd::vectorized(kExp));
    y.colwise() /= Column<T>(simd::ordered(y).rowwise().sum());
  });
  // d/dx_i softmax_j = H_j (delta_ij - H_i), so dx = H (g - sum(g H))
  return record(out, "softmax", {x}, [split, axis](auto& b) {
    d::kernel(b, 0, "softmax_backward", SoftmaxGrad<T>{split}, SoftmaxGradBackward<T>{split, axis}, b.grad(),
              b.output());
  });
}

template <class T>
TensorT<T> log_softmax(const TensorT<T>& x, int axis) {
  const AxisSplit split(x.shape(), axis, "log_softmax");
  auto out = TensorT<T>::empty(x.shape());
  split.for_each_block([&](auto order, Index offset, Index rows) {
    constexpr int O = decltype(order)::value;
    ConstLines<T, O> in(x.data() + offset, rows, split.n);
    Lines<T, O> y(out.data() + offset, rows, split.n);
    const Column<T> max = in.rowwise().maxCoeff();
    y = in.colwise() - max;
    y = y.unaryExpr(simd::vectorized(kExp));
    const Column<T> log_total = simd::ordered(y).rowwise().sum().log();
    y = in.colwise() - max;  // again: x - max - log_total, rounded in that order
    y.colwise() -= log_total;
  });
  // d/dx_i log_softmax_j = delta_ij - softmax_i, so dx = g - e^H sum(g)
  return record(out, "log_softmax", {x}, [split, axis](auto& b) {
    d::kernel(b, 0, "log_softmax_backward", LogSoftmaxGrad<T>{split}, LogSoftmaxGradBackward<T>{split, axis},
              b.grad(), b.output());
  });
}

#define EMBER_INSTANTIATE(T)                               \
  template TensorT<T> softmax(const TensorT<T>&, int);     \
  template TensorT<T> log_softmax(const TensorT<T>&, int);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
