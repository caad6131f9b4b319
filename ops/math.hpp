// Elementwise math beyond arithmetic.hpp, and reductions built from it.
// Each op is one node whose derivative is written once for first and higher
// order (docs/adding-an-op.md).
#pragma once

#include "../engine/tensor.hpp"
#include "arithmetic.hpp"

namespace ember {

template <class T> TensorT<T> square(const TensorT<T>& x);      // x^2
template <class T> TensorT<T> reciprocal(const TensorT<T>& x);  // 1/x
template <class T> TensorT<T> rsqrt(const TensorT<T>& x);       // 1/sqrt(x)
template <class T> TensorT<T> log1p(const TensorT<T>& x);       // log(1 + x), exact near 0
template <class T> TensorT<T> expm1(const TensorT<T>& x);       // e^x - 1, exact near 0
template <class T> TensorT<T> sin(const TensorT<T>& x);
template <class T> TensorT<T> cos(const TensorT<T>& x);
// s^x; pow(x, y) with a tensor exponent is in arithmetic.hpp.
template <class T> TensorT<T> pow(ScalarOf<T> s, const TensorT<T>& x);

// log(sum(exp(x))) along an axis, shifted by the maximum (finite for any
// finite input); the gradient is softmax(x) along the axis.
template <class T> TensorT<T> logsumexp(const TensorT<T>& x, int axis, bool keepdim = false);
// Variance and standard deviation along an axis or over all elements, with
// Bessel's `correction` (1: sample variance, PyTorch's default; 0: population).
template <class T> TensorT<T> var(const TensorT<T>& x, int axis, double correction = 1, bool keepdim = false);
template <class T> TensorT<T> var(const TensorT<T>& x, double correction = 1);
template <class T> TensorT<T> std(const TensorT<T>& x, int axis, double correction = 1, bool keepdim = false);
template <class T> TensorT<T> std(const TensorT<T>& x, double correction = 1);

}  // namespace ember
