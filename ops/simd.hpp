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

#include "../engine/elementwise.hpp"
#include "../engine/tensor.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

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

// out = f(x) elementwise in one vectorized pass, `f` written with packet
// primitives. The elements Eigen computes one at a time (a one-element
// tensor, the tail after the last full packet) run the same packet code on a
// broadcast value, so an element gets the same bits whatever the tensor's
// size and its position in it.
template <class T, class F>
TensorT<T> map(const TensorT<T>& x, F f) {
  auto out = TensorT<T>::empty(x.shape());
  assign_elementwise(out.values(), x.values().unaryExpr(vectorized(f)));
  return out;
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

// -x by flipping the sign bit: Eigen's pnegate computes 0 - x, which gives +0
// for x = +0 where -x is -0.
template <class P>
EIGEN_STRONG_INLINE P negate_p(const P& x) {
  return ei::pxor(x, constant<P>(-0.0));
}

// The IEEE square root, correctly rounded like std::sqrt. With
// EIGEN_FAST_MATH (Eigen's default) its psqrt for AVX and AVX-512 is a
// reciprocal estimate and a Newton step: a few ulp off, NaN at +inf, +0 at
// -0, and 0 for subnormals. The sqrt instructions are exact at no extra cost.
template <class P>
EIGEN_STRONG_INLINE P sqrt_p(const P& x) {
  return ei::psqrt(x);  // a packet type without an overload below
}
#ifdef EIGEN_VECTORIZE_SSE2
EIGEN_STRONG_INLINE __m128 sqrt_p(const __m128& x) { return _mm_sqrt_ps(x); }
EIGEN_STRONG_INLINE __m128d sqrt_p(const __m128d& x) { return _mm_sqrt_pd(x); }
#endif
#ifdef EIGEN_VECTORIZE_AVX
EIGEN_STRONG_INLINE __m256 sqrt_p(const __m256& x) { return _mm256_sqrt_ps(x); }
EIGEN_STRONG_INLINE __m256d sqrt_p(const __m256d& x) { return _mm256_sqrt_pd(x); }
#endif
#ifdef EIGEN_VECTORIZE_AVX512
EIGEN_STRONG_INLINE __m512 sqrt_p(const __m512& x) { return _mm512_sqrt_ps(x); }
EIGEN_STRONG_INLINE __m512d sqrt_p(const __m512d& x) { return _mm512_sqrt_pd(x); }
#endif

// e^x as std::exp has it at the ends of the range. Eigen 3.4's packet exp
// overflows to inf from 88.38 in float (std::exp: from 88.72), flushes
// results below the smallest normal number to 0 (float) or returns 5.6e-309
// (double, even at -inf). Lanes past those points, rare, take (e^(x/2))^2:
// x/2 is exact and in range, and the square rounds once (into the
// subnormals, or to inf).
template <class P>
EIGEN_STRONG_INLINE P exp_ieee_p(const P& x) {
  constexpr bool is_float = sizeof(Lane<P>) == 4;
  const P outside = ei::por(ei::pcmp_lt(constant<P>(is_float ? 88.3762626647949 : 709.4), x),
                            ei::pcmp_lt(x, constant<P>(is_float ? -87.33654475 : -708.3964185322641)));
  const P r = ei::pexp(x);
  if (!ei::predux_any(outside)) return r;
  const P half = ei::pexp(ei::pmul(x, constant<P>(0.5)));
  return where(outside, ei::pmul(half, half), r);
}

// ln x as std::log has it for subnormal x, which Eigen's packet log treats
// as the smallest normal number: those lanes, rare, take ln(x 2^64) - 64 ln 2.
template <class P>
EIGEN_STRONG_INLINE P log_ieee_p(const P& x) {
  const P subnormal = ei::pand(ei::pcmp_lt(ei::pzero(x), x),
                               ei::pcmp_lt(x, constant<P>(std::numeric_limits<Lane<P>>::min())));
  P r = ei::plog(x);
  if (ei::predux_any(subnormal)) {
    const P scaled = ei::psub(ei::plog(ei::pmul(x, constant<P>(18446744073709551616.0))),  // 2^64
                              constant<P>(64 * 0.69314718055994530942));
    r = where(subnormal, scaled, r);
  }
  return r;
}

// |x|^p by Eigen's packet pow. That one rounds through pround, which Eigen
// 3.4 has on x86 only from SSE4.1 on: a build for the x86-64 baseline (SSE2,
// the portable preset) takes C's pow lane by lane instead.
#if defined(EIGEN_VECTORIZE_SSE) && !defined(EIGEN_VECTORIZE_SSE4_1)
inline constexpr bool kPacketPow = false;
#else
inline constexpr bool kPacketPow = true;
#endif
template <class P>
EIGEN_STRONG_INLINE P pow_abs(const P& x, Lane<P> p) {
  if constexpr (kPacketPow || std::is_same_v<P, Lane<P>>) {
    return ei::generic_pow(ei::pabs(x), ei::pset1<P>(p));
  } else {
    std::array<Lane<P>, ei::unpacket_traits<P>::size> lanes;
    ei::pstoreu(lanes.data(), ei::pabs(x));
    for (auto& v : lanes) v = std::pow(v, p);
    return ei::ploadu<P>(lanes.data());
  }
}

// x^p for a fixed exponent p, with C's pow results at the special inputs
// (C99 Annex F). Eigen 3.4's packet pow drops the sign of a negative base
// (it gives +inf for (-inf)^3, +0 for (-0)^3): here it runs on |x|, and the
// sign is put back for odd integer p; a finite negative base with a
// non-integer p is NaN. x^0 is 1, also for NaN.
template <class P>
EIGEN_STRONG_INLINE P pow_p(const P& x, Lane<P> p) {
  if (p == 0) return constant<P>(1);
  // Small integer powers by multiplication: exact where the result is
  // representable (pow(-2, 3) is -8), and all signs and specials come out
  // right by themselves.
  // (Positive only: 1 / x^n would lose the subnormal results of x^-n.)
  if (p == std::trunc(p) && p > 0 && p <= 4) {
    const P x2 = ei::pmul(x, x);
    const int n = static_cast<int>(p);
    return n == 1 ? x : n == 2 ? x2 : n == 3 ? ei::pmul(x2, x) : ei::pmul(x2, x2);
  }
  const P r = pow_abs(x, p);
  if (std::isinf(p)) return r;  // |x|^±inf is C's result for every sign of x (not an odd power)
  if (p == std::trunc(p)) {
    if (std::fmod(p, Lane<P>(2)) == 0) return r;
    return ei::pxor(r, ei::pand(x, constant<P>(-0.0)));  // odd: the sign of x
  }
  const P finite_negative = ei::pand(ei::pcmp_lt(x, ei::pzero(x)), ei::pcmp_lt(constant<P>(-INFINITY), x));
  return where(finite_negative, constant<P>(NAN), r);
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
