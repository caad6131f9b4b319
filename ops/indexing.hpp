// Indexing with integer positions, and selection: Indices (an integer
// tensor: positions and their shape), index_select along any axis, gather,
// scatter_add, argmax/argmin, max/min over all elements or along an axis
// with their indices, cumsum, norm.
#pragma once

#include <initializer_list>
#include <span>
#include <vector>

#include "../engine/tensor.hpp"
#include "arithmetic.hpp"

namespace ember {

// Integer positions with a shape, as PyTorch's int64 index tensors.
struct Indices {
  std::vector<Index> values;
  Shape shape;
  Indices() = default;
  Indices(std::vector<Index> v, Shape s);
  Indices(std::initializer_list<Index> v);                                   // 1-D
  Indices(std::initializer_list<std::initializer_list<Index>> rows);         // 2-D
  Index at(std::initializer_list<Index> index) const;
  Index numel() const { return shape.numel(); }
};

// x's entries at `index` along `axis` (any axis; repeats allowed: their gradients add up).
template <class T> TensorT<T> index_select(const TensorT<T>& x, int axis, std::span<const Index> index);
// out[i][j][k] = x[index[i][j][k]][j][k] for axis 0 (and likewise for the others):
// index has x's rank and may be smaller than x outside `axis`.
template <class T> TensorT<T> gather(const TensorT<T>& x, int axis, const Indices& index);
// x with src added at `index` along `axis` (repeats add up); the inverse of gather.
template <class T> TensorT<T> scatter_add(const TensorT<T>& x, int axis, const Indices& index, const TensorT<T>& src);

// The flat position of the largest (smallest) element, or along an axis; the
// first one at a tie, a NaN counting as the largest (as in PyTorch).
template <class T> Index argmax(const TensorT<T>& x);
template <class T> Index argmin(const TensorT<T>& x);
template <class T> Indices argmax(const TensorT<T>& x, int axis, bool keepdim = false);
template <class T> Indices argmin(const TensorT<T>& x, int axis, bool keepdim = false);
// Over all elements, rank 0: the gradient is split evenly among tied
// maxima (as in PyTorch). Along an axis (max is in reduction.hpp) the
// gradient goes to the returned index.
template <class T> TensorT<T> max(const TensorT<T>& x);
template <class T> TensorT<T> min(const TensorT<T>& x);
template <class T> TensorT<T> min(const TensorT<T>& x, int axis, bool keepdim = false);
// Running sum along an axis.
template <class T> TensorT<T> cumsum(const TensorT<T>& x, int axis);
// (sum |x|^p)^(1/p) over all elements or along an axis, p > 0 (p = 2: the Euclidean norm).
// The gradient at an all-zero input is 0 (the subgradient PyTorch uses).
template <class T> TensorT<T> norm(const TensorT<T>& x, double p = 2);
template <class T> TensorT<T> norm(const TensorT<T>& x, double p, int axis, bool keepdim = false);

}  // namespace ember
