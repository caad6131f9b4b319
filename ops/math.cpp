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

namespace {

constexpr auto kExpIeee = [](auto v) { return simd::exp_ieee_p(v); };

// x seen as [outer, n, inner] around the reduced axis; out as [outer, inner].
struct AroundAxis {
  Index outer = 1, n = 1, inner = 1;
  AroundAxis(const Shape& s, int a) {
    for (int i = 0; i < s.rank(); ++i) (i < a ? outer : i == a ? n : inner) *= s[i];
  }
};

// The shift of a line: its maximum, or 0 when that is infinite or NaN (the
// sum alone then gives inf, -inf or NaN).
template <class T>
T shift_of(T top) {
  return std::isfinite(top) ? top : T(0);
}

// out = m + log(sum_k e^(x_k - m)) along the axis, m the line's shift: two
// tight passes over each line (its maximum, then the sum of exponentials as
// one vectorized reduction), no temporaries.
template <class T>
void logsumexp_lines(const T* x, T* out, const AroundAxis& s) {
  if (s.inner == 1) {  // the last axis: one contiguous line per output
    for (Index o = 0; o < s.outer; ++o) {
      const ConstArrayMap<T> line(x + o * s.n, s.n);
      const T m = shift_of(line.template maxCoeff<Eigen::PropagateNaN>());
      out[o] = std::log((line - m).unaryExpr(simd::vectorized(kExpIeee)).sum()) + m;
    }
    return;
  }
  // Otherwise whole rows of inner values at a time, the partial results in out.
  using MaxNaN = Eigen::internal::scalar_max_op<T, T, Eigen::PropagateNaN>;
  Eigen::Array<T, Eigen::Dynamic, 1> m(s.inner);
  for (Index o = 0; o < s.outer; ++o) {
    const T* block = x + o * s.n * s.inner;
    ArrayMap<T> total(out + o * s.inner, s.inner);
    m = ConstArrayMap<T>(block, s.inner);
    for (Index k = 1; k < s.n; ++k) m = m.binaryExpr(ConstArrayMap<T>(block + k * s.inner, s.inner), MaxNaN());
    m = m.unaryExpr([](T v) { return shift_of(v); });
    total = (ConstArrayMap<T>(block, s.inner) - m).unaryExpr(simd::vectorized(kExpIeee));
    for (Index k = 1; k < s.n; ++k)
      total += (ConstArrayMap<T>(block + k * s.inner, s.inner) - m).unaryExpr(simd::vectorized(kExpIeee));
    total = total.log() + m;
  }
}

// dx += g e^(x - out) along the axis (the softmax of x times g)
template <class T>
struct LogsumexpGrad {
  AroundAxis s;
  void operator()(T* dx, const T* g, const T* x, const T* out) const {
    if (s.inner == 1) {  // the last axis: whole lines
      for (Index o = 0; o < s.outer; ++o)
        ArrayMap<T>(dx + o * s.n, s.n) +=
            g[o] * (ConstArrayMap<T>(x + o * s.n, s.n) - out[o]).unaryExpr(simd::vectorized(kExpIeee));
      return;
    }
    for (Index o = 0; o < s.outer; ++o)
      for (Index k = 0; k < s.n; ++k) {
        const Index at = (o * s.n + k) * s.inner;
        ArrayMap<T>(dx + at, s.inner) +=
            ConstArrayMap<T>(g + o * s.inner, s.inner) *
            (ConstArrayMap<T>(x + at, s.inner) - ConstArrayMap<T>(out + o * s.inner, s.inner))
                .unaryExpr(simd::vectorized(kExpIeee));
      }
  }
};

// logsumexp_backward(g, x, out) = h = g e^(x - out), g and out broadcast
// along the axis: in g, sum(up e^(x - out)); in x, up h; in out, -sum(up h).
template <class T>
struct LogsumexpGradBackward {
  int axis;
  Shape kept;  // the output's shape with the axis kept (size 1)
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> up = b.grad(), x = b.input(1), out = reshape(b.input(2), kept);
    if (b.needs(0)) b.accumulate(0, sum(up * exp(x - out), axis, true));
    if (b.needs(1) || b.needs(2)) {
      const TensorT<T> up_h = up * b.output();
      b.accumulate(1, up_h);
      b.accumulate(2, -sum(up_h, axis, true));
    }
  }
};

}  // namespace

// Fused: as exp/sum/log nodes the forward made three temporaries of x's
// size; here it reads x twice, line by line, and keeps only its output.
template <class T>
TensorT<T> logsumexp(const TensorT<T>& x, int axis, bool keepdim) {
  const Shape& shape = x.shape();
  const int a = shape.normalize_axis(axis, "logsumexp");
  if (shape[a] == 0) fail<ShapeError>("logsumexp: cannot reduce axis {} of size 0 (shape {})", a, shape.str());
  const AroundAxis s(shape, a);
  auto out = TensorT<T>::empty(shape.reduced(a, keepdim));
  if (out.numel() > 0) logsumexp_lines(x.data(), out.data(), s);
  // d/dx_k log(sum_j e^(x_j)) = e^(x_k) / sum_j e^(x_j) = e^(x_k - out): the
  // softmax along the axis
  return record(out, "logsumexp", {x}, [s, a, kept = shape.reduced(a, true)](auto& b) {
    d::kernel(b, 0, "logsumexp_backward", LogsumexpGrad<T>{s}, LogsumexpGradBackward<T>{a, kept}, b.grad(),
              b.input(0), b.output());
  });
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
