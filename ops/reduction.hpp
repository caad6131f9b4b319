// Reductions: sums, means and maxima over all elements or along one axis.
//
// Axis arguments may be negative (counting from the back, as in NumPy). With
// keepdim the reduced axis stays as a dimension of size 1, otherwise it is
// removed. Reducing an axis of size 0 gives 0 for sum and NaN for mean; max
// over it is a ShapeError.
#pragma once

#include "../engine/tensor.hpp"

namespace ember {

template <class T> TensorT<T> sum(const TensorT<T>& x);   // all elements -> rank-0 scalar
template <class T> TensorT<T> mean(const TensorT<T>& x);  // all elements -> rank-0 scalar (NaN if empty)
template <class T> TensorT<T> sum(const TensorT<T>& x, int axis, bool keepdim = false);
template <class T> TensorT<T> mean(const TensorT<T>& x, int axis, bool keepdim = false);
// The largest values along `axis` (NaN if the slice holds a NaN). The
// gradient goes to the FIRST maximal element of each slice only (lowest index
// along the axis; the first NaN if there is one), never split between ties.
template <class T> TensorT<T> max(const TensorT<T>& x, int axis, bool keepdim = false);

}  // namespace ember
