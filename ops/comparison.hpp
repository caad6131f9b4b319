// Comparisons: elementwise, broadcasting like arithmetic, between tensors or
// with a scalar. The result is a tensor of the same dtype holding 1 where the
// comparison holds and 0 elsewhere, and never requires grad (a comparison
// has derivative 0 wherever it has one). NaN compares false, except with !=.
// Masks feed where(), masked products and the derivative formulas.
#pragma once

#include "../engine/tensor.hpp"
#include "arithmetic.hpp"

namespace ember {

#define EMBER_DECLARE_COMPARISON(op)                                                    \
  template <class T> TensorT<T> operator op(const TensorT<T>& a, const TensorT<T>& b);  \
  template <class T> TensorT<T> operator op(const TensorT<T>& a, ScalarOf<T> s);        \
  template <class T> TensorT<T> operator op(ScalarOf<T> s, const TensorT<T>& a);
EMBER_DECLARE_COMPARISON(>)
EMBER_DECLARE_COMPARISON(>=)
EMBER_DECLARE_COMPARISON(<)
EMBER_DECLARE_COMPARISON(<=)
EMBER_DECLARE_COMPARISON(==)
EMBER_DECLARE_COMPARISON(!=)
#undef EMBER_DECLARE_COMPARISON

// -1, 0 or 1 (NaN for NaN); no grad, as for comparisons.
template <class T> TensorT<T> sign(const TensorT<T>& x);

}  // namespace ember
