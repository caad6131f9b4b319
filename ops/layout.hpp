// Shape ops that move or relabel elements without arithmetic: unsqueeze,
// squeeze, flatten, permute, transpose of two axes, stack, split, chunk,
// repeat, masked_fill; and elementwise maximum/minimum. Each is one node (or
// a composition of recorded ops) whose gradient is itself differentiable.
#pragma once

#include <span>
#include <vector>

#include "../engine/tensor.hpp"
#include "arithmetic.hpp"

namespace ember {

template <class T> TensorT<T> unsqueeze(const TensorT<T>& x, int axis);  // axis in [-rank-1, rank]
template <class T> TensorT<T> squeeze(const TensorT<T>& x, int axis);    // a size-1 axis; other sizes unchanged (as in PyTorch)
template <class T> TensorT<T> squeeze(const TensorT<T>& x);              // every size-1 axis
template <class T> TensorT<T> flatten(const TensorT<T>& x, int start_axis = 0, int end_axis = -1);
// y[i_axes[0], ..., i_axes[r-1]] = x[i_0, ..., i_{r-1}]: axes is a permutation of 0..rank-1.
template <class T> TensorT<T> permute(const TensorT<T>& x, std::span<const int> axes);
template <class T> TensorT<T> permute(const TensorT<T>& x, std::initializer_list<int> axes);
template <class T> TensorT<T> transpose(const TensorT<T>& x, int a, int b);  // swaps two axes
// Joins tensors of one shape along a new axis.
template <class T> TensorT<T> stack(const std::vector<TensorT<T>>& tensors, int axis = 0);
// Pieces along `axis`: of the given sizes (which must add up to the axis'
// size), or of `size` each with a smaller last piece (PyTorch's split).
template <class T> std::vector<TensorT<T>> split(const TensorT<T>& x, std::span<const Index> sizes, int axis = 0);
template <class T> std::vector<TensorT<T>> split(const TensorT<T>& x, Index size, int axis = 0);
// n pieces of ceil(size/n) along `axis`, the last smaller (fewer than n when it does not divide).
template <class T> std::vector<TensorT<T>> chunk(const TensorT<T>& x, Index n, int axis = 0);
// Tiles x: repeats[i] copies along dimension i (repeats may add leading dimensions).
template <class T> TensorT<T> repeat(const TensorT<T>& x, std::span<const Index> repeats);
template <class T> TensorT<T> repeat(const TensorT<T>& x, std::initializer_list<Index> repeats);
// value where mask is nonzero, x elsewhere; no gradient to the masked places.
template <class T> TensorT<T> masked_fill(const TensorT<T>& x, const TensorT<T>& mask, ScalarOf<T> value);
// Elementwise, broadcasting; at a tie the gradient is split evenly between a and b (as in PyTorch).
template <class T> TensorT<T> maximum(const TensorT<T>& a, const TensorT<T>& b);
template <class T> TensorT<T> minimum(const TensorT<T>& a, const TensorT<T>& b);

// a += b is a = a + b: a new node, the handle rebound (the values another
// node saved are never changed in place). Likewise -=, *=, /=, with tensors
// or scalars.
template <class T> TensorT<T>& operator+=(TensorT<T>& a, const TensorT<T>& b) { return a = a + b; }
template <class T> TensorT<T>& operator-=(TensorT<T>& a, const TensorT<T>& b) { return a = a - b; }
template <class T> TensorT<T>& operator*=(TensorT<T>& a, const TensorT<T>& b) { return a = a * b; }
template <class T> TensorT<T>& operator/=(TensorT<T>& a, const TensorT<T>& b) { return a = a / b; }
template <class T> TensorT<T>& operator+=(TensorT<T>& a, ScalarOf<T> s) { return a = a + s; }
template <class T> TensorT<T>& operator-=(TensorT<T>& a, ScalarOf<T> s) { return a = a - s; }
template <class T> TensorT<T>& operator*=(TensorT<T>& a, ScalarOf<T> s) { return a = a * s; }
template <class T> TensorT<T>& operator/=(TensorT<T>& a, ScalarOf<T> s) { return a = a / s; }

}  // namespace ember
