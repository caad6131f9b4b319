#include "loss.hpp"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "../engine/record.hpp"
#include "derivative.hpp"
#include "simd.hpp"

namespace ember {

namespace {

namespace ei = Eigen::internal;
using simd::constant;
using simd::where;

template <class T>
using Column = Eigen::Array<T, Eigen::Dynamic, 1>;
template <class T>
using Rows = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <class T>
using ConstRows = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

void check_same_shape(const char* op, const Shape& input, const Shape& target) {
  if (!(input == target))
    fail<ShapeError>("{}: input shape {} and target shape {} differ (losses do not broadcast)", op, input.str(),
                     target.str());
}

// "7" for a vector, "(1,2)" for a matrix.
std::string index_name(const Shape& s, Index flat) {
  if (s.rank() <= 1) return std::to_string(flat);
  std::string name;
  for (int a = s.rank() - 1; a >= 0; --a) {
    name = std::to_string(flat % s[a]) + (name.empty() ? "" : ",") + name;
    flat /= s[a];
  }
  return "(" + name + ")";
}

// The loss tensor from per-element losses: the elements themselves, their
// sum or their mean (NaN for no elements, as in PyTorch).
template <class T, class Derived>
TensorT<T> reduce(const Eigen::ArrayBase<Derived>& elements, const Shape& shape, Reduction r) {
  if (r == Reduction::none) {
    auto out = TensorT<T>::empty(shape);
    out.values() = elements;
    return out;
  }
  const T total = elements.sum();
  return TensorT<T>::scalar(r == Reduction::mean ? total / T(shape.numel()) : total);
}

// Calls f with dL/d(element loss) for n elements: the output gradient (none),
// or the scalar output gradient (divided by n for the mean) for each.
template <class T, class F>
void with_upstream(const Backward<T>& b, Reduction r, Index n, F&& f) {
  if (r == Reduction::none) return f(b.grad());
  f(Column<T>::Constant(n, r == Reduction::mean ? b.grad()(0) / T(n) : b.grad()(0)));
}

template <class T, class F>
void with_upstream(const GraphBackward<T>& b, Reduction r, Index n, F&& f) {
  if (r == Reduction::none) return f(b.grad());
  f(r == Reduction::mean ? b.grad() / T(n) : b.grad());
}

// The upstream gradient of each row's loss as a [rows, 1] tensor (or a
// scalar, which broadcasts the same way).
template <class T>
TensorT<T> per_row(const TensorT<T>& g, Reduction r, Index rows) {
  if (r == Reduction::none) return reshape(g, {rows, Index(1)});
  return r == Reduction::mean ? g / T(rows) : g;
}

// The loss's gradient in its upstream g from U, dL/d(element losses') [rows, cols] contributions W:
// the rows' sums (none) or the total, divided by rows for the mean.
template <class T>
TensorT<T> reduce_like(const TensorT<T>& w, Reduction r, Index rows) {
  if (r == Reduction::none) return sum(w, 1);
  return r == Reduction::mean ? sum(w) / T(rows) : sum(w);
}

template <class T>
TensorT<T> one_hot(std::span<const Index> classes, Index cols) {
  auto y = TensorT<T>::zeros(Shape{static_cast<Index>(classes.size()), cols});
  for (std::size_t i = 0; i < classes.size(); ++i) y.node().value.data()[Index(i) * cols + classes[i]] = T(1);
  return y;
}

// max(v, -100), keeping NaN.
template <class P>
P clamp_log(const P& v) {
  return where(ei::pcmp_lt(v, constant<P>(-100)), constant<P>(-100), v);
}

// e^m for a broadcast expression m, evaluated first and exponentiated in one
// linear pass (a vectorized functor inside a broadcast or a short row would
// run one element per packet).
template <class Derived>
auto exp_rows(const Eigen::ArrayBase<Derived>& m) {
  using Scalar = typename Derived::Scalar;
  Eigen::Array<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> e = m;
  e = e.unaryExpr(simd::vectorized([](auto v) { return simd::exp_p(v); }));
  return e;
}

// a b, but 0 where a is 0 (also for an infinite b).
template <class P>
P times_unless_zero(const P& a, const P& b) {
  return where(ei::pcmp_eq(a, ei::pzero(a)), ei::pzero(a), ei::pmul(a, b));
}

// softplus(z) - z y, the BCE of a logit z against target y. At z = +-inf
// that form is inf - inf = NaN; its limit, (1 - y) z + log(1 + e^-z), is
// (1 - y) inf at +inf and y inf at -inf, with 0 where the factor is 0. The
// lanes at infinity are rare, so the fix-up runs only when a packet has one.
template <class P>
P logits_loss(const P& z, const P& y) {
  const P loss = ei::psub(simd::softplus_p(z), ei::pmul(z, y));
  const P infinite = ei::pcmp_eq(ei::pabs(z), constant<P>(INFINITY));
  if (!ei::predux_any(infinite)) return loss;
  const P limit = where(ei::pcmp_lt(ei::pzero(z), z), times_unless_zero(ei::psub(constant<P>(1), y), z),
                        times_unless_zero(y, simd::negate_p(z)));
  return where(infinite, limit, loss);
}

void check_classes(const char* op, const Shape& s, std::span<const Index> classes) {
  if (s.rank() != 2) fail<ShapeError>("{}: input must have shape [N, C], got {}", op, s.str());
  if (static_cast<Index>(classes.size()) != s[0])
    fail<ShapeError>("{}: {} class indices for input of shape {} (one per row expected)", op, classes.size(),
                     s.str());
  for (std::size_t i = 0; i < classes.size(); ++i)
    if (classes[i] < 0 || classes[i] >= s[1])
      fail<ValueError>("{}: class index {} at position {} is out of range for {} classes", op, classes[i], i, s[1]);
}

}  // namespace

template <class T>
TensorT<T> mse_loss(const TensorT<T>& pred, const TensorT<T>& target, Reduction reduction) {
  check_same_shape("mse_loss", pred.shape(), target.shape());
  auto out = reduce<T>((pred.values() - target.values()).square(), pred.shape(), reduction);
  // d/dp (p-y)^2 = 2(p-y), d/dy (p-y)^2 = -2(p-y)
  return record(out, "mse_loss", {pred, target}, [reduction](auto& b) {
    const Index n = b.input_shape(0).numel();
    with_upstream(b, reduction, n, [&](const auto& up) {
      if (b.needs(0)) b.accumulate(0, T(2) * up * (b.input(0) - b.input(1)));
      if (b.needs(1)) b.accumulate(1, T(-2) * up * (b.input(0) - b.input(1)));
    });
  });
}

namespace {

// (p - y) / max(p (1 - p), 1e-12)
constexpr auto kBceGrad = [](auto q, auto y) {
  using P = decltype(q);
  const P den = ei::pmul(q, ei::psub(constant<P>(1), q));
  return ei::pdiv(ei::psub(q, y), where(ei::pcmp_lt(den, constant<P>(1e-12)), constant<P>(1e-12), den));
};
// log(1 - p) - log(p), each clamped at -100 (y is not read)
constexpr auto kBceTargetGrad = [](auto q, auto) {
  return ei::psub(clamp_log(simd::log1p_p(ei::pnegate(q))), clamp_log(ei::plog(q)));
};

// Derivatives of kBceGrad: in p, (den - (p - y)(1 - 2p)) / den^2 where den is
// not floored (1/1e-12 where it is); in y, -1/den.
template <class T>
struct BceGrad {
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> q = b.input(0), y = b.input(1);
    const TensorT<T> raw = q * (T(1) - q);
    const TensorT<T> floored = raw < T(1e-12);
    const TensorT<T> den = d::where(floored, T(1e-12), raw);
    if (b.needs(0))
      b.accumulate(0, b.grad() * (T(1) / den - d::where(floored, T(0), (q - y) * (T(1) - q * T(2)) / (den * den))));
    if (b.needs(1)) b.accumulate(1, -b.grad() / den);
  }
};
// Derivative of kBceTargetGrad in p: -1/(1-p) - 1/p where the logs are not clamped.
template <class T>
struct BceTargetGrad {
  void operator()(GraphBackward<T>& b) const {
    if (!b.needs(0)) return;
    const TensorT<T> q = b.input(0);
    const TensorT<T> low = log(q) < T(-100), high = log(T(1) - q) < T(-100);
    const TensorT<T> safe = d::where(low + high, T(0.5), q);  // 1/q and 1/(1-q) only where used
    b.accumulate(0, -(b.grad() * (d::where(high, T(0), T(1) / (T(1) - safe)) + d::where(low, T(0), T(1) / safe))));
  }
};

}  // namespace

template <class T>
TensorT<T> binary_cross_entropy(const TensorT<T>& prob, const TensorT<T>& target, Reduction reduction) {
  check_same_shape("binary_cross_entropy", prob.shape(), target.shape());
  const auto p = prob.values();
  if (((p < T(0)) || (p > T(1))).any()) {  // NaN passes: NaN in, NaN out
    Index i = 0;
    while (!(p[i] < T(0) || p[i] > T(1))) ++i;
    fail<ValueError>(
        "binary_cross_entropy: input value {} at index {} is outside [0, 1]; apply sigmoid (or (1+tanh)/2) first, or "
        "use binary_cross_entropy_with_logits",
        p[i], index_name(prob.shape(), i));
  }
  auto out = reduce<T>(p.binaryExpr(target.values(), simd::vectorized([](auto q, auto y) {
                         using P = decltype(q);
                         const P log_p = clamp_log(ei::plog(q)), log_1mp = clamp_log(simd::log1p_p(ei::pnegate(q)));
                         return ei::pnegate(ei::pmadd(y, log_p, ei::pmul(ei::psub(constant<P>(1), y), log_1mp)));
                       })),
                       prob.shape(), reduction);
  // d/dp = -y/p + (1-y)/(1-p) = (p-y)/(p(1-p)), the denominator floored at
  // 1e-12 as in PyTorch; d/dy = log(1-p) - log(p), clamped as in the forward
  return record(out, "binary_cross_entropy", {prob, target}, [reduction](auto& b) {
    const Index n = b.input_shape(0).numel();
    with_upstream(b, reduction, n, [&](const auto& up) {
      if (b.needs(0))
        b.accumulate(0, up * d::map2("binary_cross_entropy_backward", simd::vectorized(kBceGrad), BceGrad<T>{},
                                     b.input(0), b.input(1)));
      if (b.needs(1))
        b.accumulate(1, up * d::map2("binary_cross_entropy_target_backward", simd::vectorized(kBceTargetGrad),
                                     BceTargetGrad<T>{}, b.input(0), b.input(1)));
    });
  });
}

template <class T>
TensorT<T> binary_cross_entropy_with_logits(const TensorT<T>& logits, const TensorT<T>& target, Reduction reduction) {
  check_same_shape("binary_cross_entropy_with_logits", logits.shape(), target.shape());
  // max(z,0) + log(1 + e^-|z|) is softplus(z)
  auto out = reduce<T>(logits.values().binaryExpr(target.values(), simd::vectorized([](auto z, auto y) {
                         return logits_loss(z, y);
                       })),
                       logits.shape(), reduction);
  // d/dz = sigmoid(z) - y, d/dy = -z
  return record(out, "binary_cross_entropy_with_logits", {logits, target}, [reduction](auto& b) {
    const Index n = b.input_shape(0).numel();
    with_upstream(b, reduction, n, [&](const auto& up) {
      if (b.needs(0)) b.accumulate(0, up * (d::sigmoid(b.input(0)) - b.input(1)));
      if (b.needs(1)) b.accumulate(1, -up * b.input(0));
    });
  });
}

namespace {

// dz += u (softmax(z) - onehot(class)) row by row, u the rows' upstream
// gradients; softmax from the forward's log-sum-exp. Its derivative (inputs
// g, z): in g, the upstream U contracted with softmax(z) - onehot per row;
// in z, softmax's backward of U u, both in ops.
template <class T>
struct CrossEntropyGrad {
  Reduction reduction;
  Index rows, cols;
  Column<T> max, log_total;  // per row: the largest logit, log sum exp(z - max)
  std::vector<Index> classes;
  void operator()(T* dz, const T* g, const T* zd) const {
    Rows<T> d(dz, rows, cols);
    ConstRows<T> z(zd, rows, cols);
    const Column<T> u = reduction == Reduction::none ? Column<T>(ConstArrayMap<T>(g, rows))
                                                     : Column<T>::Constant(rows, reduction == Reduction::mean
                                                                                     ? g[0] / T(rows)
                                                                                     : g[0]);
    // (z - max) - log_total, not z - lse: both terms of lse are ~|z| and
    // their sum would round away the digits softmax needs at large logits
    d += exp_rows((z.colwise() - max).colwise() - log_total).colwise() * u;
    for (Index i = 0; i < rows; ++i) d(i, classes[static_cast<std::size_t>(i)]) -= u[i];
  }
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T>& up = b.grad();
    const TensorT<T> p = softmax(b.input(1), 1);
    if (b.needs(0)) b.accumulate(0, reduce_like(up * (p - one_hot<T>(classes, cols)), reduction, rows));
    if (b.needs(1)) {
      const TensorT<T> w = up * per_row(b.input(0), reduction, rows);
      b.accumulate(1, p * (w - sum(w * p, 1, true)));
    }
  }
};

// dlp[i, class_i] -= u_i; its derivative in g gathers the upstream there.
template <class T>
struct NllGrad {
  Reduction reduction;
  Index rows, cols;
  std::vector<Index> classes;
  void operator()(T* dlp, const T* g) const {
    Rows<T> d(dlp, rows, cols);
    for (Index i = 0; i < rows; ++i)
      d(i, classes[static_cast<std::size_t>(i)]) -=
          reduction == Reduction::none ? g[i] : reduction == Reduction::mean ? g[0] / T(rows) : g[0];
  }
  void operator()(GraphBackward<T>& b) const {
    if (b.needs(0)) b.accumulate(0, -reduce_like(b.grad() * one_hot<T>(classes, cols), reduction, rows));
  }
};

}  // namespace

// Fused: from log_softmax and nll_loss nodes it would keep an [N, C] buffer
// of log-probabilities; here the backward needs only one log-sum-exp per row.
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const Index> classes, Reduction reduction) {
  check_classes("cross_entropy", logits.shape(), classes);
  const Index rows = logits.shape()[0], cols = logits.shape()[1];
  ConstRows<T> z(logits.data(), rows, cols);
  Column<T> max(rows), log_total(rows), losses(rows);
  if (cols > 0) {
    max = z.rowwise().maxCoeff();
    log_total = exp_rows(z.colwise() - max).rowwise().sum().log();
  }
  // (max - z_class) + log_total: as exact as nll_loss(log_softmax(z))
  for (Index i = 0; i < rows; ++i) losses[i] = (max[i] - z(i, classes[static_cast<std::size_t>(i)])) + log_total[i];
  auto out = reduce<T>(losses, Shape{rows}, reduction);
  // d/dz_ij = softmax(z_i)_j - [j = class_i]
  return record(out, "cross_entropy", {logits},
                [grad = CrossEntropyGrad<T>{reduction, rows, cols, std::move(max), std::move(log_total),
                                            std::vector<Index>(classes.begin(), classes.end())}](auto& b) {
                  d::kernel(b, 0, "cross_entropy_backward", std::cref(grad), grad, b.grad(), b.input(0));
                });
}

template <class T>
TensorT<T> nll_loss(const TensorT<T>& log_probs, std::span<const Index> classes, Reduction reduction) {
  check_classes("nll_loss", log_probs.shape(), classes);
  const Index rows = log_probs.shape()[0], cols = log_probs.shape()[1];
  ConstRows<T> lp(log_probs.data(), rows, cols);
  Column<T> losses(rows);
  for (Index i = 0; i < rows; ++i) losses[i] = -lp(i, classes[static_cast<std::size_t>(i)]);
  auto out = reduce<T>(losses, Shape{rows}, reduction);
  // d/dlp_ij = -[j = class_i]
  return record(out, "nll_loss", {log_probs},
                [grad = NllGrad<T>{reduction, rows, cols, std::vector<Index>(classes.begin(), classes.end())}](
                    auto& b) { d::kernel(b, 0, "nll_loss_backward", std::cref(grad), grad, b.grad()); });
}

#define EMBER_INSTANTIATE(T)                                                                                    \
  template TensorT<T> mse_loss(const TensorT<T>&, const TensorT<T>&, Reduction);                               \
  template TensorT<T> binary_cross_entropy(const TensorT<T>&, const TensorT<T>&, Reduction);                   \
  template TensorT<T> binary_cross_entropy_with_logits(const TensorT<T>&, const TensorT<T>&, Reduction);       \
  template TensorT<T> cross_entropy(const TensorT<T>&, std::span<const Index>, Reduction);                     \
  template TensorT<T> nll_loss(const TensorT<T>&, std::span<const Index>, Reduction);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
