#include "reduction.hpp"

#include <cmath>
#include <functional>

#include "../engine/record.hpp"
#include "derivative.hpp"

namespace ember {

namespace {

// A tensor seen as [outer, size, inner] around the reduced axis: the reduced
// output is [outer, inner], both row-major over the same buffer order.
struct AxisView {
  Index outer = 1, size = 1, inner = 1;
};

AxisView axis_view(const Shape& s, int axis) {
  AxisView v;
  v.size = s[axis];
  for (int i = 0; i < axis; ++i) v.outer *= s[i];
  for (int i = axis + 1; i < s.rank(); ++i) v.inner *= s[i];
  return v;
}

template <class T>
using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;

// out[o, i] = scale * sum_k x[o, k, i]
// The loops below run over outer * size rows: with no output or no input
// element, callers return first, so that an empty [2^40, 0] costs nothing.
template <class T>
void sum_along(const T* x, const AxisView& v, T* out, T scale) {
  if (v.outer * v.inner == 0) return;  // no output element
  if (v.size == 0) {
    MatrixMap<T>(out, v.outer, v.inner).setConstant(T(0) * scale);  // 0 for sum, NaN for mean
  } else if (v.inner == 1) {  // the last axis: one contiguous row per output element
    VectorMap<T>(out, v.outer).noalias() = ConstMatrixMap<T>(x, v.outer, v.size).rowwise().sum() * scale;
  } else {
    // Adding whole rows streams the input once with the output row in cache:
    // twice as fast as Eigen's colwise().sum() on row-major data.
    ConstMatrixMap<T> in(x, v.outer * v.size, v.inner);
    MatrixMap<T> o(out, v.outer, v.inner);
    for (Index r = 0; r < v.outer; ++r) {
      auto row = o.row(r);
      row = in.row(r * v.size);
      for (Index k = 1; k < v.size; ++k) row += in.row(r * v.size + k);
      if (scale != T(1)) row *= scale;
    }
  }
}

// grad_x[o, k, i] += scale * g[o, i] ("sum_backward"); its derivative sums
// the upstream gradient along the axis again, times scale.
template <class T>
struct SpreadAlong {
  int axis;
  bool keepdim;
  T scale;
  Shape input;
  void operator()(T* dst, const T* gd) const {
    const AxisView v = axis_view(input, axis);
    if (v.outer * v.size * v.inner == 0) return;
    ConstMatrixMap<T> g(gd, v.outer, v.inner);
    MatrixMap<T> gi(dst, v.outer * v.size, v.inner);
    if (v.inner == 1) {
      MatrixMap<T> rows(gi.data(), v.outer, v.size);
      for (Index r = 0; r < v.outer; ++r) rows.row(r).array() += g(r, 0) * scale;
    } else {
      for (Index r = 0; r < v.outer; ++r)
        for (Index k = 0; k < v.size; ++k) gi.row(r * v.size + k) += scale * g.row(r);
    }
  }
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> s = sum(b.grad(), axis, keepdim);
    b.accumulate(0, scale == T(1) ? s : s * scale);
  }
};

// The all-element sum's and mean's gradient: g (divided by `count` for the
// mean) at every element.
template <class T>
auto spread_all(const Backward<T>& b, Index count) {
  const Index n = b.input_shape(0).numel();
  return Eigen::Array<T, Eigen::Dynamic, 1>::Constant(n, count == 0 ? b.grad()(0) : b.grad()(0) / static_cast<T>(count));
}
template <class T>
TensorT<T> spread_all(const GraphBackward<T>& b, Index count) {
  return expand(count == 0 ? b.grad() : b.grad() / static_cast<T>(count), b.input_shape(0));
}

template <class T>
TensorT<T> sum_or_mean(const char* op, const TensorT<T>& x, int axis, bool keepdim, bool is_mean) {
  const Shape& shape = x.shape();
  const int a = shape.normalize_axis(axis, op);
  const AxisView v = axis_view(shape, a);
  const T scale = is_mean ? T(1) / static_cast<T>(v.size) : T(1);
  auto out = TensorT<T>::empty(shape.reduced(a, keepdim));
  sum_along(x.data(), v, out.data(), scale);
  // d/dx[o,k,i] sum_k x[o,k,i] = 1; for the mean 1/size
  return record(out, op, {x}, [a, keepdim, scale](auto& b) {
    const SpreadAlong<T> grad{a, keepdim, scale, b.input_shape(0)};
    d::kernel(b, 0, "sum_backward", grad, grad, b.grad());
  });
}

}  // namespace

template <class T>
TensorT<T> sum(const TensorT<T>& x) {
  auto out = TensorT<T>::empty(Shape{});
  out.data()[0] = x.values().sum();
  // d/dx_i sum(x) = 1
  return record(out, "sum", {x}, [](auto& b) { b.accumulate(0, spread_all(b, Index(0))); });
}

template <class T>
TensorT<T> mean(const TensorT<T>& x) {
  const Index n = x.numel();
  auto out = TensorT<T>::empty(Shape{});
  out.data()[0] = x.values().sum() / static_cast<T>(n);  // Eigen's mean() asserts on an empty array
  // d/dx_i mean(x) = 1/n
  return record(out, "mean", {x}, [n](auto& b) { b.accumulate(0, spread_all(b, n)); });
}

template <class T>
TensorT<T> sum(const TensorT<T>& x, int axis, bool keepdim) {
  return sum_or_mean("sum", x, axis, keepdim, false);
}

template <class T>
TensorT<T> mean(const TensorT<T>& x, int axis, bool keepdim) {
  return sum_or_mean("mean", x, axis, keepdim, true);
}

namespace {

// grad_x[o, k, i] += g[o, i] at the first k where x[o, k, i] equals the max
// (the first NaN when the max is NaN). Its derivative in g picks the
// upstream gradient at those places; x and the max get none (piecewise
// constant).
template <class T>
struct MaxGrad {
  int axis;
  bool keepdim;
  Shape input;
  void operator()(T* gi, const T* g, const T* in, const T* top) const {
    const AxisView v = axis_view(input, axis);
    for (Index r = 0; r < v.outer; ++r) {
      for (Index i = 0; i < v.inner; ++i) {
        const Index j = r * v.inner + i;
        const T* slice = in + r * v.size * v.inner + i;  // slice[k * inner], k < size
        Index k = 0;
        if (std::isnan(top[j])) {
          while (k < v.size && !std::isnan(slice[k * v.inner])) ++k;
        } else {
          while (k < v.size && !(slice[k * v.inner] == top[j])) ++k;
        }
        if (k < v.size) gi[(r * v.size + k) * v.inner + i] += g[j];  // k == size only if x changed in place
      }
    }
  }
  void operator()(GraphBackward<T>& b) const {
    if (!b.needs(0)) return;
    const TensorT<T> x = b.input(1), top = b.input(2);
    auto at_max = TensorT<T>::zeros(x.shape());
    const auto ones = TensorT<T>::ones(top.shape());
    (*this)(at_max.node().value.data(), ones.data(), x.data(), top.data());
    b.accumulate(0, sum(b.grad() * at_max, axis, keepdim));
  }
};

}  // namespace

template <class T>
TensorT<T> max(const TensorT<T>& x, int axis, bool keepdim) {
  const Shape& shape = x.shape();
  const int a = shape.normalize_axis(axis, "max");
  const AxisView v = axis_view(shape, a);
  if (v.size == 0) fail<ShapeError>("max: cannot reduce axis {} of size 0 (shape {})", axis, shape.str());
  auto out = TensorT<T>::empty(shape.reduced(a, keepdim));
  if (out.numel() == 0)  // then x is empty too: its gradient is an empty buffer
    return record(out, "max", {x}, [](auto& b) { b.accumulate(0, b.grad()); });
  using MaxNaN = Eigen::internal::scalar_max_op<T, T, Eigen::PropagateNaN>;
  if (v.inner == 1) {
    ConstMatrixMap<T> in(x.data(), v.outer, v.size);
    for (Index r = 0; r < v.outer; ++r) out.data()[r] = in.row(r).template maxCoeff<Eigen::PropagateNaN>();
  } else {
    ConstMatrixMap<T> in(x.data(), v.outer * v.size, v.inner);
    MatrixMap<T> o(out.data(), v.outer, v.inner);
    for (Index r = 0; r < v.outer; ++r) {
      o.row(r) = in.row(r * v.size);
      for (Index k = 1; k < v.size; ++k) o.row(r) = o.row(r).binaryExpr(in.row(r * v.size + k), MaxNaN());
    }
  }
  // d/dx max_k x[o,k,i] = 1 at the first k where x[o,k,i] equals the max (the
  // first NaN when the max is NaN), 0 elsewhere (MaxGrad). The index is found
  // again from the saved input and output instead of being stored per call.
  return record(out, "max", {x}, [a, keepdim](auto& b) {
    const MaxGrad<T> grad{a, keepdim, b.input_shape(0)};
    d::kernel(b, 0, "max_backward", grad, grad, b.grad(), b.input(0), b.output());
  });
}

#define EMBER_INSTANTIATE(T)                                   \
  template TensorT<T> sum(const TensorT<T>&);                  \
  template TensorT<T> mean(const TensorT<T>&);                 \
  template TensorT<T> sum(const TensorT<T>&, int, bool);       \
  template TensorT<T> mean(const TensorT<T>&, int, bool);      \
  template TensorT<T> max(const TensorT<T>&, int, bool);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
