#include "activation.hpp"

#include <cmath>
#include <iterator>
#include <type_traits>

#include "../engine/record.hpp"
#include "derivative.hpp"
#include "simd.hpp"

namespace ember {

namespace {

namespace ei = Eigen::internal;
using simd::constant;
using simd::where;

using simd::map;

// a where mask, else b, but NaN where x is NaN: a piecewise gradient that
// keeps "NaN in, NaN out".
template <class P>
P piecewise(const P& mask, const P& a, const P& b, const P& x) {
  return where(mask, a, where(ei::pcmp_eq(x, x), b, x));
}

}  // namespace

// --- the seed's four, and their relatives ------------------------------------

// Fused (not 1/(1+exp(-x)) from exp, add, div nodes): the naive form
// overflows for x < -88 in float, and the backward needs only the output.
template <class T>
TensorT<T> sigmoid(const TensorT<T>& x) {
  auto out = map(x, [](auto v) { return simd::sigmoid_p(v); });
  // d/dx sigmoid = H(1-H)
  return record(out, "sigmoid", {x}, [](auto& b) {
    auto h = b.output();
    b.accumulate(0, b.grad() * h * (T(1) - h));
  });
}

// Eigen's tanh: in float a vectorized rational approximation (a few ulp,
// exactly ±1 for |x| >= 8, so the float gradient is 0 there rather than
// < 5e-7); in double std::tanh.
template <class T>
TensorT<T> tanh(const TensorT<T>& x) {
  auto out = TensorT<T>::empty(x.shape());
  assign_elementwise(out.values(), x.values().tanh());
  // d/dx tanh = 1 - H^2
  return record(out, "tanh", {x}, [](auto& b) {
    auto h = b.output();
    b.accumulate(0, b.grad() * (T(1) - h * h));
  });
}

// g where h > 0, else 0 (NaN for NaN h)
constexpr auto kReluGrad = [](auto g, auto h) { return piecewise(ei::pcmp_lt(ei::pzero(h), h), g, ei::pzero(h), h); };

// relu_backward(g, h) is linear in g with a piecewise-constant factor: its
// derivative is itself in g, and 0 in h.
template <class T>
struct ReluBackward {
  void operator()(GraphBackward<T>& b) const {
    b.accumulate(0, d::map2("relu_backward", simd::vectorized(kReluGrad), *this, b.grad(), b.input(1)));
  }
};

template <class T>
TensorT<T> relu(const TensorT<T>& x) {
  auto out = map(x, [](auto v) { return where(ei::pcmp_le(v, ei::pzero(v)), ei::pzero(v), v); });
  // d/dx relu = 1 if x > 0, 0 if x <= 0; the mask H > 0 is the same test
  return record(out, "relu", {x}, [](auto& b) {
    b.accumulate(0, d::map2("relu_backward", simd::vectorized(kReluGrad), ReluBackward<T>{}, b.grad(), b.output()));
  });
}

// g where x > 0, else slope g; like relu's, its derivative is itself in g, 0 in x
template <class T>
struct LeakyReluGrad {
  T slope;
  auto functor() const {
    return simd::vectorized([s = slope](auto g, auto v) {
      using P = decltype(v);
      return piecewise(ei::pcmp_lt(ei::pzero(v), v), g, ei::pmul(g, constant<P>(s)), v);
    });
  }
  void operator()(GraphBackward<T>& b) const {
    b.accumulate(0, d::map2("leaky_relu_backward", functor(), *this, b.grad(), b.input(1)));
  }
};

template <class T>
TensorT<T> leaky_relu(const TensorT<T>& x, ScalarOf<T> slope) {
  auto out = map(x, [slope](auto v) {
    using P = decltype(v);
    return where(ei::pcmp_le(v, ei::pzero(v)), ei::pmul(v, constant<P>(slope)), v);
  });
  // d/dx leaky_relu = 1 if x > 0, slope if x <= 0
  return record(out, "leaky_relu", {x}, [grad = LeakyReluGrad<T>{slope}](auto& b) {
    b.accumulate(0, d::map2("leaky_relu_backward", grad.functor(), grad, b.grad(), b.input(0)));
  });
}

// elu_backward(g, x) = g if x > 0, else g alpha e^x. Its derivative: itself
// in g; in x, g alpha e^x where x <= 0 (e^min(x, 0), so no inf is masked).
template <class T>
struct EluGrad {
  T alpha;
  auto functor() const {
    return simd::vectorized([a = alpha](auto g, auto v) {
      using P = decltype(v);
      return where(ei::pcmp_lt(ei::pzero(v), v), g, ei::pmul(g, ei::pmul(constant<P>(a), simd::exp_p(v))));
    });
  }
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> x = b.input(1);
    const TensorT<T> positive = x > T(0);
    if (b.needs(0)) b.accumulate(0, d::map2("elu_backward", functor(), *this, b.grad(), x));
    if (b.needs(1)) b.accumulate(1, d::where(positive, T(0), b.grad() * b.input(0) * alpha * exp(d::where(positive, T(0), x))));
  }
};

template <class T>
TensorT<T> elu(const TensorT<T>& x, ScalarOf<T> alpha) {
  auto out = map(x, [alpha](auto v) {
    using P = decltype(v);
    return where(ei::pcmp_lt(ei::pzero(v), v), v, ei::pmul(constant<P>(alpha), simd::expm1_p(v)));
  });
  // d/dx elu = 1 if x > 0, alpha e^x if x <= 0 (alpha at 0, as in PyTorch);
  // from the input: alpha + H would lose e^x for very negative x
  return record(out, "elu", {x}, [grad = EluGrad<T>{alpha}](auto& b) {
    b.accumulate(0, d::map2("elu_backward", grad.functor(), grad, b.grad(), b.input(0)));
  });
}

// Exact GELU, x Phi(x), with Phi(x) = erfc(-x/sqrt2)/2: full relative
// precision in the lower tail, where 1 + erf(x/sqrt2) cancels. Eigen has no
// vectorized erfc, so float lanes use erfc(z) = t P(t) e^(-z^2),
// t = 1/(1 + z/2), z = |x|/sqrt2, with P a degree-10 polynomial fitted for
// ember (scripts/fit_erfc_tail.py: max relative error 1.6e-8 on t in
// [0.124, 1], 1.8e-7 evaluated in float). e^(-z^2) = e^(-x^2/2) is also the
// normal density's factor, so the backward needs the one exponential too;
// x^2 is split exactly with an FMA, so the error stays a few ulp down to the
// underflow. double uses std::erfc, one element at a time.
namespace {

constexpr double kErfcTail[] = {0.0417967578999, -0.225379458884, 0.467015164886, -0.412208845319,
                                0.0895747101664, -0.0317331697028, 0.081891149668, 0.178440582643,
                                0.246369883809,  0.282140179388,  0.282093061521};

constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// |x| capped at 20 (Phi is 0 or 1 there in float), with its exact square hi + lo.
template <class P>
struct Square {
  P a, hi, lo;
  explicit Square(const P& x) {
    const P m = ei::pabs(x);
    a = where(ei::pcmp_lt(constant<P>(20), m), constant<P>(20), m);
    hi = ei::pmul(a, a);
#ifdef EIGEN_VECTORIZE_FMA
    lo = ei::pmadd(a, a, ei::pnegate(hi));
#else  // Dekker's exact product, for builds without FMA: split a into halves
    const P big = ei::pmul(a, constant<P>(sizeof(simd::Lane<P>) == 4 ? 4097.0 : 134217729.0));
    const P ah = ei::psub(big, ei::psub(big, a)), al = ei::psub(a, ah);
    const P r = ei::psub(ei::psub(ei::psub(hi, ei::pmul(ah, ah)), ei::pmul(ah, al)), ei::pmul(al, ah));
    lo = ei::psub(ei::pmul(al, al), r);
#endif
  }
  P exp_minus_half() const {  // e^(-x^2/2)
    return ei::pmul(simd::exp_p(ei::pmul(constant<P>(-0.5), hi)),
                    ei::psub(constant<P>(1), ei::pmul(constant<P>(0.5), lo)));
  }
};

// Phi(x) and the normal density phi(x) = e^(-x^2/2)/sqrt(2 pi), sharing
// one exponential.
template <class P>
struct Normal {
  P cdf, density;
  explicit Normal(const P& x) {
    const Square<P> sq(x);
    const P e = sq.exp_minus_half();
    const P t = ei::pdiv(constant<P>(1), ei::padd(constant<P>(1), ei::pmul(sq.a, constant<P>(0.35355339059327376))));
    // P(t) = sum c_k t^k by Estrin's scheme: the same terms as Horner's
    // rule, in four dependent steps instead of ten.
    auto c = [](int k) { return constant<P>(kErfcTail[std::size(kErfcTail) - 1 - std::size_t(k)]); };
    const P t2 = ei::pmul(t, t), t4 = ei::pmul(t2, t2), t8 = ei::pmul(t4, t4);
    const P p01 = ei::pmadd(c(1), t, c(0)), p23 = ei::pmadd(c(3), t, c(2)), p45 = ei::pmadd(c(5), t, c(4)),
            p67 = ei::pmadd(c(7), t, c(6)), p89 = ei::pmadd(c(9), t, c(8));
    const P p03 = ei::pmadd(p23, t2, p01), p47 = ei::pmadd(p67, t2, p45), p810 = ei::pmadd(c(10), t2, p89);
    const P poly = ei::pmadd(p810, t8, ei::pmadd(p47, t4, p03));
    const P tail = ei::pmul(ei::pmul(constant<P>(0.5), t), ei::pmul(poly, e));  // Phi(-|x|)
    cdf = where(ei::pcmp_lt(x, ei::pzero(x)), tail, ei::psub(constant<P>(1), tail));
    density = ei::pmul(constant<P>(kInvSqrt2Pi), e);
  }
};

template <class T>
T normal_cdf(T x) {
  return T(0.5) * std::erfc(-x * T(0.70710678118654752440));
}

// g (Phi(x) + x phi(x)), by the same Phi and phi as the forward.
template <class T>
auto gelu_grad() {
  if constexpr (std::is_same_v<T, float>) {
    return simd::vectorized([](auto g, auto v) {
      using P = decltype(v);
      const Normal<P> n(v);
      const P slope = where(ei::pcmp_eq(n.density, ei::pzero(v)), ei::pzero(v), ei::pmul(v, n.density));
      return ei::pmul(g, ei::padd(n.cdf, slope));
    });
  } else {
    return [](T g, T v) {
      const T density = T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
      return g * (normal_cdf(v) + (density == T(0) ? T(0) : v * density));
    };
  }
}

// gelu_backward(g, x): itself in g; in x, g gelu''(x) = g phi(x) (2 - x^2).
template <class T>
struct GeluGrad {
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> x = b.input(1);
    if (b.needs(0)) b.accumulate(0, d::map2("gelu_backward", gelu_grad<T>(), *this, b.grad(), x));
    if (b.needs(1)) {
      const TensorT<T> x2 = x * x;
      const TensorT<T> density = exp(x2 * T(-0.5)) * T(kInvSqrt2Pi);
      // where the density underflows to 0 the curvature is 0 (x^2 may be inf there)
      b.accumulate(1, b.grad() * b.input(0) * d::where(density == T(0), T(0), density * (T(2) - x2)));
    }
  }
};

template <class T>
TensorT<T> gelu_exact(const TensorT<T>& x) {
  auto out = TensorT<T>::empty(x.shape());
  if constexpr (std::is_same_v<T, float>) {
    assign_elementwise(out.values(), x.values().unaryExpr(simd::vectorized([](auto v) {
      const auto phi = Normal<decltype(v)>(v).cdf;
      return where(ei::pcmp_eq(phi, ei::pzero(phi)), phi, ei::pmul(v, phi));  // 0, not -inf*0, at -inf
    })));
  } else {
    assign_elementwise(out.values(), x.values().unaryExpr([](T v) {
      const T phi = normal_cdf(v);
      return phi == T(0) ? T(0) : v * phi;
    }));
  }
  // d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi)
  return record(out, "gelu", {x}, [](auto& b) {
    b.accumulate(0, d::map2("gelu_backward", gelu_grad<T>(), GeluGrad<T>{}, b.grad(), b.input(0)));
  });
}

// x/2 (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3): the
// sigmoid form needs no tanh and keeps the lower tail's relative precision.
template <class P>
P gelu_tanh_arg(const P& v) {  // 2u
  const P v2 = ei::pmul(v, v);
  return ei::pmul(constant<P>(2 * 0.79788456080286535588),
                  ei::pmul(v, ei::pmadd(constant<P>(0.044715), v2, constant<P>(1))));
}

constexpr double kGeluC = 2 * 0.79788456080286535588, kGeluK = 0.044715;

constexpr auto kGeluTanhGrad = [](auto g, auto v) {
  using P = decltype(v);
  const P s = simd::sigmoid_p(gelu_tanh_arg(v));
  const P t = ei::pmul(s, ei::psub(constant<P>(1), s));
  const P du = ei::pmul(constant<P>(kGeluC), ei::pmadd(constant<P>(3 * kGeluK), ei::pmul(v, v), constant<P>(1)));
  // where s(1-s) underflows to 0, skip the term (x^2 may be inf there)
  return ei::pmul(g, where(ei::pcmp_eq(t, ei::pzero(t)), s, ei::padd(s, ei::pmul(ei::pmul(v, t), du))));
};

// gelu_tanh_backward(g, x): itself in g; in x, with a = 2u, s = sigmoid(a),
// t = s(1-s): g (t (2a' + x (1-2s) a'^2) + x t a''), a'' = 6 c k x.
template <class T>
struct GeluTanhGrad {
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> x = b.input(1);
    if (b.needs(0)) b.accumulate(0, d::map2("gelu_tanh_backward", simd::vectorized(kGeluTanhGrad), *this, b.grad(), x));
    if (b.needs(1)) {
      const TensorT<T> x2 = x * x;
      const TensorT<T> s = sigmoid(x * (x2 * T(kGeluK) + T(1)) * T(kGeluC));
      const TensorT<T> t = s * (T(1) - s);
      const TensorT<T> da = (x2 * T(3 * kGeluK) + T(1)) * T(kGeluC);
      const TensorT<T> curvature = t * (da * T(2) + x * (T(1) - s * T(2)) * da * da + x * x * T(6 * kGeluC * kGeluK));
      b.accumulate(1, b.grad() * b.input(0) * d::where(t == T(0), T(0), curvature));  // 0, not 0 * inf, in the tails
    }
  }
};

template <class T>
TensorT<T> gelu_tanh(const TensorT<T>& x) {
  auto out = map(x, [](auto v) {
    const auto s = simd::sigmoid_p(gelu_tanh_arg(v));
    return where(ei::pcmp_eq(s, ei::pzero(s)), s, ei::pmul(v, s));
  });
  // d/dx x s(2u) = s + x s(1-s) 2u', 2u' = 2 sqrt(2/pi)(1 + 3*0.044715 x^2)
  return record(out, "gelu_tanh", {x}, [](auto& b) {
    b.accumulate(0, d::map2("gelu_tanh_backward", simd::vectorized(kGeluTanhGrad), GeluTanhGrad<T>{}, b.grad(),
                            b.input(0)));
  });
}

}  // namespace

template <class T>
TensorT<T> gelu(const TensorT<T>& x, GeluApproximation approximate) {
  return approximate == GeluApproximation::tanh ? gelu_tanh(x) : gelu_exact(x);
}

namespace {

constexpr auto kSiluGrad = [](auto g, auto v) {
  using P = decltype(v);
  const P s = simd::sigmoid_p(v);
  const P t = ei::pmul(s, ei::psub(constant<P>(1), s));
  return ei::pmul(g, where(ei::pcmp_eq(t, ei::pzero(t)), s, ei::padd(s, ei::pmul(v, t))));
};

// silu_backward(g, x): itself in g; in x, g silu''(x) = g s(1-s)(2 + x(1-2s)).
template <class T>
struct SiluGrad {
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> x = b.input(1);
    if (b.needs(0)) b.accumulate(0, d::map2("silu_backward", simd::vectorized(kSiluGrad), *this, b.grad(), x));
    if (b.needs(1)) {
      const TensorT<T> s = sigmoid(x);
      const TensorT<T> t = s * (T(1) - s);
      b.accumulate(1, b.grad() * b.input(0) * d::where(t == T(0), T(0), t * (x * (T(1) - s * T(2)) + T(2))));
    }
  }
};

constexpr auto kCenteredSigmoidGrad = [](auto g, auto v) {
  using P = decltype(v);
  const P s = simd::sigmoid_p(v);
  return ei::pmul(ei::pmul(g, s), ei::psub(constant<P>(1), s));
};

// centered_sigmoid_backward(g, x): itself in g; in x, g s(1-s)(1-2s).
template <class T>
struct CenteredSigmoidGrad {
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> x = b.input(1);
    if (b.needs(0))
      b.accumulate(0, d::map2("centered_sigmoid_backward", simd::vectorized(kCenteredSigmoidGrad), *this, b.grad(), x));
    if (b.needs(1)) {
      const TensorT<T> s = sigmoid(x);
      b.accumulate(1, b.grad() * b.input(0) * (s * (T(1) - s) * (T(1) - s * T(2))));
    }
  }
};

}  // namespace

// Fused: x * sigmoid(x) from two nodes would give NaN (-inf * 0) at x = -inf
// and keep an extra buffer.
template <class T>
TensorT<T> silu(const TensorT<T>& x) {
  auto out = map(x, [](auto v) {
    const auto s = simd::sigmoid_p(v);
    return where(ei::pcmp_eq(s, ei::pzero(s)), s, ei::pmul(v, s));
  });
  // d/dx x s(x) = s + x s(1-s)
  return record(out, "silu", {x}, [](auto& b) {
    b.accumulate(0, d::map2("silu_backward", simd::vectorized(kSiluGrad), SiluGrad<T>{}, b.grad(), b.input(0)));
  });
}

// Fused: log(1 + exp(x)) from nodes overflows at x > 88 in float and rounds
// to 0 (gradient 0) for x < -17 in float.
template <class T>
TensorT<T> softplus(const TensorT<T>& x) {
  auto out = map(x, [](auto v) { return simd::softplus_p(v); });
  // d/dx softplus = sigmoid(x), exact and nonzero far into the lower tail
  return record(out, "softplus", {x}, [](auto& b) { b.accumulate(0, b.grad() * d::sigmoid(b.input(0))); });
}

// Fused, for three reasons: the node is named "centered_sigmoid" (diagnostics
// find activations by op name); sigmoid(x) - 1/2 cancels near 0 (absolute
// error ~ulp(1/2), so 0 for |x| < 1e-8 in float) while tanh(x/2)/2 =
// -t/(2(2+t)) with t = e^-|x| - 1 keeps full precision; and the backward
// computes the sigmoid's own derivative bit for bit.
template <class T>
TensorT<T> centered_sigmoid(const TensorT<T>& x) {
  auto out = map(x, [](auto v) {
    using P = decltype(v);
    const P t = simd::expm1_p(ei::pnegate(ei::pabs(v)));
    const P half = ei::pdiv(ei::pnegate(t), ei::pmul(constant<P>(2), ei::padd(constant<P>(2), t)));
    return where(ei::pcmp_lt(v, ei::pzero(v)), ei::pnegate(half), half);
  });
  // d/dx (sigmoid - 1/2) = s(1-s), s = sigmoid(x) recomputed exactly as sigmoid does
  return record(out, "centered_sigmoid", {x}, [](auto& b) {
    b.accumulate(0, d::map2("centered_sigmoid_backward", simd::vectorized(kCenteredSigmoidGrad),
                            CenteredSigmoidGrad<T>{}, b.grad(), b.input(0)));
  });
}

template <class T>
TensorT<T> identity(const TensorT<T>& x) {
  auto out = TensorT<T>::empty(x.shape());
  out.values() = x.values();
  // d/dx x = 1
  return record(out, "identity", {x}, [](auto& b) { b.accumulate(0, b.grad()); });
}

// --- lookup by name -------------------------------------------------------------

std::vector<std::string> activation_names() {
  return {"sigmoid",     "tanh",      "relu", "leaky_relu", "elu",  "gelu",    "gelu_tanh",   "silu",
          "softplus",    "centered_sigmoid", "identity",   "log_sigmoid", "hardtanh", "relu6",
          "hardsigmoid", "hardswish", "selu", "celu",       "mish", "softsign",
          "relu_squared"};
}

template <class T>
ActivationFn<T> activation(std::string_view name) {
  using X = const TensorT<T>&;
  if (name == "sigmoid") return [](X x) { return sigmoid(x); };
  if (name == "tanh") return [](X x) { return tanh(x); };
  if (name == "relu") return [](X x) { return relu(x); };
  if (name == "leaky_relu") return [](X x) { return leaky_relu(x); };
  if (name == "elu") return [](X x) { return elu(x); };
  if (name == "gelu") return [](X x) { return gelu(x); };
  if (name == "gelu_tanh") return [](X x) { return gelu(x, GeluApproximation::tanh); };
  if (name == "silu") return [](X x) { return silu(x); };
  if (name == "softplus") return [](X x) { return softplus(x); };
  if (name == "centered_sigmoid") return [](X x) { return centered_sigmoid(x); };
  if (name == "identity") return [](X x) { return identity(x); };
  if (name == "log_sigmoid") return [](X x) { return log_sigmoid(x); };
  if (name == "hardtanh") return [](X x) { return hardtanh(x); };
  if (name == "relu6") return [](X x) { return relu6(x); };
  if (name == "hardsigmoid") return [](X x) { return hardsigmoid(x); };
  if (name == "hardswish") return [](X x) { return hardswish(x); };
  if (name == "selu") return [](X x) { return selu(x); };
  if (name == "celu") return [](X x) { return celu(x); };
  if (name == "mish") return [](X x) { return mish(x); };
  if (name == "softsign") return [](X x) { return softsign(x); };
  if (name == "relu_squared") return [](X x) { return relu_squared(x); };

  std::string valid;
  for (const auto& n : activation_names()) valid += (valid.empty() ? "" : ", ") + n;
  fail<ValueError>("activation: unknown name '{}'; valid names: {}", name, valid);
}

#define EMBER_INSTANTIATE(T)                                                       \
  template TensorT<T> sigmoid(const TensorT<T>&);                                  \
  template TensorT<T> tanh(const TensorT<T>&);                                     \
  template TensorT<T> relu(const TensorT<T>&);                                     \
  template TensorT<T> leaky_relu(const TensorT<T>&, ScalarOf<T>);                  \
  template TensorT<T> elu(const TensorT<T>&, ScalarOf<T>);                         \
  template TensorT<T> gelu(const TensorT<T>&, GeluApproximation);                  \
  template TensorT<T> silu(const TensorT<T>&);                                     \
  template TensorT<T> softplus(const TensorT<T>&);                                 \
  template TensorT<T> centered_sigmoid(const TensorT<T>&);                         \
  template TensorT<T> identity(const TensorT<T>&);                                 \
  template ActivationFn<T> activation<T>(std::string_view);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
