#include "loss.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "../engine/record.hpp"
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
  return record(out, "mse_loss", {pred, target}, [reduction](Backward<T>& b) {
    const Index n = b.input_shape(0).numel();
    with_upstream(b, reduction, n, [&](const auto& up) {
      if (b.needs(0)) b.accumulate(0, T(2) * up * (b.input(0) - b.input(1)));
      if (b.needs(1)) b.accumulate(1, T(-2) * up * (b.input(0) - b.input(1)));
    });
  });
}

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
  return record(out, "binary_cross_entropy", {prob, target}, [reduction](Backward<T>& b) {
    const Index n = b.input_shape(0).numel();
    with_upstream(b, reduction, n, [&](const auto& up) {
      if (b.needs(0))
        b.accumulate(0, up * b.input(0).binaryExpr(b.input(1), simd::vectorized([](auto q, auto y) {
          using P = decltype(q);
          const P den = ei::pmul(q, ei::psub(constant<P>(1), q));
          return ei::pdiv(ei::psub(q, y), where(ei::pcmp_lt(den, constant<P>(1e-12)), constant<P>(1e-12), den));
        })));
      if (b.needs(1))
        b.accumulate(1, up * b.input(0).unaryExpr(simd::vectorized([](auto q) {
          return ei::psub(clamp_log(simd::log1p_p(ei::pnegate(q))), clamp_log(ei::plog(q)));
        })));
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
  return record(out, "binary_cross_entropy_with_logits", {logits, target}, [reduction](Backward<T>& b) {
    const Index n = b.input_shape(0).numel();
    with_upstream(b, reduction, n, [&](const auto& up) {
      if (b.needs(0))
        b.accumulate(0, up * b.input(0).binaryExpr(b.input(1), simd::vectorized([](auto z, auto y) {
          return ei::psub(simd::sigmoid_p(z), y);
        })));
      if (b.needs(1)) b.accumulate(1, -up * b.input(0));
    });
  });
}

// Fused: from log_softmax and nll_loss nodes it would keep an [N, C] buffer
// of log-probabilities; here the backward needs only one log-sum-exp per row.
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const Index> classes, Reduction reduction) {
  check_classes("cross_entropy", logits.shape(), classes);
  const Index rows = logits.shape()[0], cols = logits.shape()[1];
  ConstRows<T> z(logits.data(), rows, cols);
  Column<T> lse(rows), losses(rows);
  if (cols > 0) {
    const Column<T> max = z.rowwise().maxCoeff();
    lse = max + exp_rows(z.colwise() - max).rowwise().sum().log();
  }
  for (Index i = 0; i < rows; ++i) losses[i] = lse[i] - z(i, classes[static_cast<std::size_t>(i)]);
  auto out = reduce<T>(losses, Shape{rows}, reduction);
  // d/dz_ij = softmax(z_i)_j - [j = class_i]
  std::vector<Index> kept(classes.begin(), classes.end());
  return record(out, "cross_entropy", {logits},
                [reduction, rows, cols, lse = std::move(lse), classes = std::move(kept)](Backward<T>& b) {
                  if (!b.needs(0)) return;
                  Rows<T> d(b.grad_matrix_of(0, rows, cols).data(), rows, cols);
                  ConstRows<T> z(b.input(0).data(), rows, cols);
                  with_upstream(b, reduction, rows, [&](const auto& up) {
                    const Column<T> u = up;
                    d += exp_rows(z.colwise() - lse).colwise() * u;
                    for (Index i = 0; i < rows; ++i) d(i, classes[static_cast<std::size_t>(i)]) -= u[i];
                  });
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
                [reduction, rows, cols, classes = std::vector<Index>(classes.begin(), classes.end())](Backward<T>& b) {
                  if (!b.needs(0)) return;
                  Rows<T> d(b.grad_matrix_of(0, rows, cols).data(), rows, cols);
                  with_upstream(b, reduction, rows, [&](const auto& up) {
                    for (Index i = 0; i < rows; ++i) d(i, classes[static_cast<std::size_t>(i)]) -= up[i];
                  });
                });
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
