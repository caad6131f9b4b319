// Elementwise arithmetic with NumPy broadcasting, and elementwise math.
#pragma once

#include <type_traits>

#include "../engine/tensor.hpp"

namespace ember {

template <class T>
using ScalarOf = std::type_identity_t<T>;  // a scalar argument that does not drive deduction

template <class T> TensorT<T> operator+(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> operator-(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> operator*(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> operator/(const TensorT<T>& a, const TensorT<T>& b);

template <class T> TensorT<T> operator+(const TensorT<T>& a, ScalarOf<T> s);
template <class T> TensorT<T> operator+(ScalarOf<T> s, const TensorT<T>& a);
template <class T> TensorT<T> operator-(const TensorT<T>& a, ScalarOf<T> s);
template <class T> TensorT<T> operator-(ScalarOf<T> s, const TensorT<T>& a);
template <class T> TensorT<T> operator*(const TensorT<T>& a, ScalarOf<T> s);
template <class T> TensorT<T> operator*(ScalarOf<T> s, const TensorT<T>& a);
template <class T> TensorT<T> operator/(const TensorT<T>& a, ScalarOf<T> s);
template <class T> TensorT<T> operator/(ScalarOf<T> s, const TensorT<T>& a);
template <class T> TensorT<T> operator-(const TensorT<T>& a);

template <class T> TensorT<T> exp(const TensorT<T>& x);
template <class T> TensorT<T> log(const TensorT<T>& x);
template <class T> TensorT<T> sqrt(const TensorT<T>& x);
template <class T> TensorT<T> abs(const TensorT<T>& x);  // gradient 0 at 0
template <class T> TensorT<T> pow(const TensorT<T>& x, ScalarOf<T> exponent);
// x^y elementwise with broadcasting. The gradient in the exponent is
// x^y log x, taken as 0 where x = 0 and y >= 0 (PyTorch's rule); NaN for x < 0.
// The base's gradient y x^(y-1) is 0 where y = 0.
template <class T> TensorT<T> pow(const TensorT<T>& x, const TensorT<T>& y);
// Limits values to [low, high]; the gradient is 1 inside, 0 outside (and 1
// at the bounds themselves, as in PyTorch). low > high is a ValueError.
template <class T> TensorT<T> clamp(const TensorT<T>& x, ScalarOf<T> low, ScalarOf<T> high);

}  // namespace ember
