// Selection with indices: topk along the last axis, and max/min along an
// axis returning values and indices together (PyTorch's torch.max(x, dim)).
// The values are a gather of x at the chosen indices, so their gradient (and
// every higher order) is gather's: the upstream goes to the chosen places.
#pragma once

#include "../engine/tensor.hpp"
#include "indexing.hpp"

namespace ember {

template <class T>
struct ValuesIndices {
  TensorT<T> values;
  Indices indices;
};

// The k largest (largest = false: smallest) entries along the last axis, in
// order from the best; shape [..., k]. A NaN counts as larger than every
// number (as in PyTorch); among equal values the lower index comes first
// (PyTorch leaves the order of ties unspecified). sorted = false keeps the
// same k entries in the order of their indices. 0 <= k <= size of the axis.
template <class T>
ValuesIndices<T> topk(const TensorT<T>& x, Index k, bool largest = true, bool sorted = true);

// max / min along an axis with the index of each: the first at a tie, a NaN
// counting as the largest (for min: the smallest); the gradient goes to the
// returned index, as in PyTorch.
template <class T> ValuesIndices<T> max_with_indices(const TensorT<T>& x, int axis, bool keepdim = false);
template <class T> ValuesIndices<T> min_with_indices(const TensorT<T>& x, int axis, bool keepdim = false);

}  // namespace ember
