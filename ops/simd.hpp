// Internal to ops/: elementwise math written once for scalars and SIMD
// packets, so a fused op runs in one vectorized pass.
//
// Eigen vectorizes a custom functor when it has a `packetOp` and
// functor_traits says so. `vectorized(f)` wraps a generic lambda written with
// Eigen's packet primitives (which also accept plain scalars) into such a
// functor: x.unaryExpr(vectorized([](auto v) { return sigmoid_p(v); })).
// Eigen's own `select` is not vectorized, so fused ops branch with pselect.
// Use it in linear passes over whole arrays (dst = f(maps)): inside a
// broadcast, or a reduction over short rows, Eigen calls the scalar form per
// element, which costs a whole packet each.
#pragma once

#include <Eigen/Core>

#include <array>

namespace ember::simd {

namespace ei = Eigen::internal;

// The scalar call runs the packet code too, on a broadcast value: Eigen uses
// scalar calls for the elements before the first aligned address and after
// the last full packet, and these must not differ in the last bit from their
// neighbours (std::exp and Eigen's packet exp do), or results would depend
// on where a buffer happens to be allocated.
template <class F>
struct Vectorized {
  F f;
  template <class... P>
  EIGEN_STRONG_INLINE auto packetOp(const P&... p) const {
    return f(p...);
  }
  template <class S, class... Rest>
  EIGEN_STRONG_INLINE S operator()(const S& s, const Rest&... rest) const {
    using P = typename ei::packet_traits<S>::type;
    return ei::pfirst(f(ei::pset1<P>(s), ei::pset1<P>(rest)...));
  }
};
template <class F>
Vectorized<F> vectorized(F f) {
  return {f};
}

// An expression over a matrix or array `x` whose row and full reductions add
// in the same order wherever x lives: Eigen starts the packets of a reduction
// over direct-access data at its first aligned element, so the same values
// at another address would be summed in another order.
template <class X>
auto ordered(const X& x) {
  return x.unaryExpr(vectorized([](auto v) { return v; }));
}

template <class P>
using Lane = typename ei::unpacket_traits<P>::type;

template <class P>
EIGEN_STRONG_INLINE P constant(double v) {
  return ei::pset1<P>(static_cast<Lane<P>>(v));
}

// a where mask, else b (masks from ei::pcmp_*).
template <class P>
EIGEN_STRONG_INLINE P where(const P& mask, const P& a, const P& b) {
  return ei::pselect(mask, a, b);
}

// e^x, flushed to 0 below the log of the smallest normal number. (Eigen 3.4's
// double exp returns 5.6e-309, not 0, for x <= -709.8 and even for -inf.)
template <class P>
EIGEN_STRONG_INLINE P exp_p(const P& x) {
  const double lowest = sizeof(Lane<P>) == 4 ? -87.33654475 : -708.3964185322641;
  return where(ei::pcmp_lt(x, constant<P>(lowest)), ei::pzero(x), ei::pexp(x));
}

// log(1+e) for e >= -1, accurate for tiny e (Kahan's trick: the rounding of
// 1+e cancels in log(u)*e/(u-1)).
template <class P>
EIGEN_STRONG_INLINE P log1p_p(const P& e) {
  const P u = ei::padd(constant<P>(1), e);
  const P d = ei::psub(u, constant<P>(1));
  return where(ei::pcmp_eq(d, ei::pzero(e)), e, ei::pdiv(ei::pmul(ei::plog(u), e), d));
}

// e^x - 1: for |x| < ln 2 the Taylor series x + x^2/2! + ... + x^N/N!,
// whose first omitted term is below half an ulp there (N = 9 in float, 16 in
// double); elsewhere e^x - 1 itself, which does not cancel. -1 at -inf, inf
// at inf, NaN for NaN.
template <class P>
EIGEN_STRONG_INLINE P expm1_p(const P& x) {
  constexpr int n = sizeof(Lane<P>) == 4 ? 9 : 16;
  static constexpr auto inverse_factorial = [] {
    std::array<double, n + 1> a{1.0};
    for (int k = 1; k <= n; ++k) a[k] = a[k - 1] / k;
    return a;
  }();
  P series = constant<P>(inverse_factorial[n]);
  for (int k = n - 1; k >= 1; --k) series = ei::pmadd(series, x, constant<P>(inverse_factorial[k]));
  const P near_zero = ei::pmul(series, x);
  const P far = ei::psub(exp_p(x), constant<P>(1));
  return where(ei::pcmp_lt(ei::pabs(x), constant<P>(0.69314718055994530942)), near_zero, far);
}

// 1/(1+e^-x) without overflow: with e = e^-|x| <= 1, 1/(1+e) for x >= 0 and
// e/(1+e) for x < 0 (full relative precision in the lower tail too).
template <class P>
EIGEN_STRONG_INLINE P sigmoid_p(const P& x) {
  const P e = exp_p(ei::pnegate(ei::pabs(x)));
  const P r = ei::pdiv(constant<P>(1), ei::padd(constant<P>(1), e));
  return where(ei::pcmp_lt(x, ei::pzero(x)), ei::pmul(e, r), r);
}

// log(1+e^x) = max(x,0) + log(1+e^-|x|): never overflows, and equals e^x to
// full precision for very negative x.
template <class P>
EIGEN_STRONG_INLINE P softplus_p(const P& x) {
  const P pos = where(ei::pcmp_lt(ei::pzero(x), x), x, ei::pzero(x));
  return ei::padd(pos, log1p_p(exp_p(ei::pnegate(ei::pabs(x)))));
}

}  // namespace ember::simd

namespace Eigen::internal {
template <class F>
struct functor_traits<ember::simd::Vectorized<F>> {
  enum { Cost = 20 * NumTraits<float>::MulCost, PacketAccess = 1 };
};
}  // namespace Eigen::internal
