// layer_norm and rms_norm (declared in normalization.hpp).
//
// Per row of D elements, with xhat the normalized row, g = dL/dy and
// gw = g * weight (g without a weight):
//   layer_norm: xhat = (x - mean) r, r = 1/sqrt(var + eps)
//     dx = r (gw - mean(gw) - xhat mean(gw xhat))
//   rms_norm:   xhat = x r,          r = 1/sqrt(mean(x^2) + eps)
//     dx = r (gw - xhat mean(gw xhat))
//   both: dweight = sum over rows of g xhat, dbias = sum over rows of g.
// The first-order pass runs this as one loop per row over the statistics
// the forward kept; the recorded pass (create_graph) composes the same
// formula from ember ops, recomputing the statistics from x so that their
// dependence on x is differentiated too.
#include "normalization.hpp"

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "../engine/record.hpp"
#include "arithmetic.hpp"
#include "math.hpp"
#include "reduction.hpp"
#include "shape.hpp"

namespace ember {

namespace {

template <class T>
using Row = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;
template <class T>
using ConstRow = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;

// x seen as [rows, D] with D = numel(normalized_shape); checks the shapes.
struct Rows {
  Index rows = 0, d = 1;
};

template <class T>
Rows check_norm(const char* op, const TensorT<T>& x, const Shape& normalized, const TensorT<T>& weight,
                const TensorT<T>& bias, double eps) {
  const int k = normalized.rank(), r = x.rank();
  if (k == 0) fail<ShapeError>("{}: normalized_shape [] must have at least one dimension", op);
  bool trailing = k <= r;
  for (int i = 0; trailing && i < k; ++i) trailing = x.shape()[r - k + i] == normalized[i];
  if (!trailing)
    fail<ShapeError>("{}: input {} does not end in normalized_shape {}", op, x.shape().str(), normalized.str());
  if (weight.defined() && !(weight.shape() == normalized))
    fail<ShapeError>("{}: weight {} must have normalized_shape {}", op, weight.shape().str(), normalized.str());
  if (bias.defined() && !(bias.shape() == normalized))
    fail<ShapeError>("{}: bias {} must have normalized_shape {}", op, bias.shape().str(), normalized.str());
  if (!(eps > 0)) fail<ValueError>("{}: eps must be > 0 (a constant row would divide by zero), got {}", op, eps);
  Rows s;
  s.d = normalized.numel();
  s.rows = s.d == 0 ? 0 : x.numel() / s.d;
  return s;
}

// Which of the recorded inputs (x, weight?, bias?) are there, and where.
struct Slots {
  int weight = -1, bias = -1;
};

template <class T>
std::vector<TensorT<T>> inputs_of(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias,
                                  Slots& slots) {
  std::vector<TensorT<T>> in{x};
  if (weight.defined()) slots.weight = static_cast<int>(in.size()), in.push_back(weight);
  if (bias.defined()) slots.bias = static_cast<int>(in.size()), in.push_back(bias);
  return in;
}

// The first-order pass: one loop over the rows. stats holds each row's
// (mean, r); `centered` is false for rms_norm (mean is 0 there).
template <class T>
void norm_backward_rows(Backward<T>& b, Rows s, Slots slots, bool centered, const Buffer<T>& stats) {
  const T* x = b.input(0).data();
  const T* g = b.grad().data();
  const T* w = slots.weight >= 0 ? b.input(slots.weight).data() : nullptr;
  const bool need_x = b.needs(0);
  const bool need_w = slots.weight >= 0 && b.needs(slots.weight);
  const bool need_b = slots.bias >= 0 && b.needs(slots.bias);
  T* dx = need_x ? b.grad_matrix_of(0, s.rows, s.d).data() : nullptr;
  T* dw = need_w ? b.grad_matrix_of(slots.weight, 1, s.d).data() : nullptr;
  T* db = need_b ? b.grad_matrix_of(slots.bias, 1, s.d).data() : nullptr;
  const T inv_d = T(1) / T(s.d);
  Eigen::Array<T, 1, Eigen::Dynamic> xhat(s.d), gw(s.d);
  for (Index i = 0; i < s.rows; ++i) {
    const ConstRow<T> xi(x + i * s.d, s.d), gi(g + i * s.d, s.d);
    const T mu = stats.data()[2 * i], r = stats.data()[2 * i + 1];
    xhat = (xi - mu) * r;
    if (need_w) Row<T>(dw, s.d) += gi * xhat;
    if (need_b) Row<T>(db, s.d) += gi;
    if (!need_x) continue;
    if (w) gw = gi * ConstRow<T>(w, s.d);
    else gw = gi;
    const T c = (gw * xhat).sum() * inv_d;
    Row<T> dxi(dx + i * s.d, s.d);
    if (centered) {
      const T a = gw.sum() * inv_d;
      dxi += r * (gw - a - xhat * c);
    } else {
      dxi += r * (gw - xhat * c);
    }
  }
}

// The recorded pass: the same formula in ember ops on [rows, D].
template <class T>
void norm_backward_graph(GraphBackward<T>& b, Rows s, Slots slots, bool centered, T eps) {
  const TensorT<T> x = reshape(b.input(0), {s.rows, s.d}), g = reshape(b.grad(), {s.rows, s.d});
  const TensorT<T> xc = centered ? x - mean(x, 1, true) : x;
  const TensorT<T> r = rsqrt(mean(xc * xc, 1, true) + eps);
  const TensorT<T> xhat = xc * r;
  if (b.needs(0)) {
    const TensorT<T> gw = slots.weight >= 0 ? g * reshape(b.input(slots.weight), {Index(1), s.d}) : g;
    TensorT<T> inner = gw - xhat * mean(gw * xhat, 1, true);
    if (centered) inner = inner - mean(gw, 1, true);
    b.accumulate(0, reshape(r * inner, b.input_shape(0)));
  }
  if (slots.weight >= 0 && b.needs(slots.weight))
    b.accumulate(slots.weight, reshape(sum(g * xhat, 0), b.input_shape(slots.weight)));
  if (slots.bias >= 0 && b.needs(slots.bias)) b.accumulate(slots.bias, reshape(sum(g, 0), b.input_shape(slots.bias)));
}

template <class T>
TensorT<T> norm_forward(const char* op, bool centered, const TensorT<T>& x, const Shape& normalized,
                        const TensorT<T>& weight, const TensorT<T>& bias, double eps) {
  const Rows s = check_norm(op, x, normalized, weight, bias, eps);
  auto out = TensorT<T>::empty(x.shape());
  Buffer<T> stats(2 * s.rows);
  const T e = static_cast<T>(eps), inv_d = T(1) / T(s.d);
  const T* xd = x.data();
  T* yd = out.data();
  const T* w = weight.defined() ? weight.data() : nullptr;
  const T* bb = bias.defined() ? bias.data() : nullptr;
  for (Index i = 0; i < s.rows; ++i) {
    const ConstRow<T> xi(xd + i * s.d, s.d);
    Row<T> yi(yd + i * s.d, s.d);
    const T mu = centered ? xi.sum() * inv_d : T(0);
    // Two passes (the centred sum of squares): exact for rows far from 0.
    const T var = centered ? (xi - mu).square().sum() * inv_d : xi.square().sum() * inv_d;
    const T r = T(1) / std::sqrt(var + e);
    stats.data()[2 * i] = mu;
    stats.data()[2 * i + 1] = r;
    if (w && bb) yi = (xi - mu) * r * ConstRow<T>(w, s.d) + ConstRow<T>(bb, s.d);
    else if (w) yi = (xi - mu) * r * ConstRow<T>(w, s.d);
    else if (bb) yi = (xi - mu) * r + ConstRow<T>(bb, s.d);
    else yi = (xi - mu) * r;
  }
  Slots slots;
  const auto inputs = inputs_of(x, weight, bias, slots);
  return record(out, op, std::span<const TensorT<T>>(inputs),
                [s, slots, centered, e, stats = std::move(stats)](auto& b) {
                  if constexpr (std::is_same_v<std::decay_t<decltype(b)>, Backward<T>>)
                    norm_backward_rows(b, s, slots, centered, stats);
                  else norm_backward_graph(b, s, slots, centered, e);
                });
}

}  // namespace

template <class T>
TensorT<T> layer_norm(const TensorT<T>& x, const Shape& normalized_shape, const TensorT<T>& weight,
                      const TensorT<T>& bias, double eps) {
  return norm_forward("layer_norm", true, x, normalized_shape, weight, bias, eps);
}

template <class T>
TensorT<T> rms_norm(const TensorT<T>& x, const Shape& normalized_shape, const TensorT<T>& weight,
                    std::optional<double> eps) {
  const double e = eps ? *eps : static_cast<double>(std::numeric_limits<T>::epsilon());
  return norm_forward("rms_norm", false, x, normalized_shape, weight, TensorT<T>{}, e);
}

#define EMBER_INSTANTIATE(T)                                                                                    \
  template TensorT<T> layer_norm(const TensorT<T>&, const Shape&, const TensorT<T>&, const TensorT<T>&, double); \
  template TensorT<T> rms_norm(const TensorT<T>&, const Shape&, const TensorT<T>&, std::optional<double>);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
