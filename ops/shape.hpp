// Shape and index ops: reshape, concat, index_select, where.
#pragma once

#include <initializer_list>
#include <span>
#include <vector>

#include "../engine/tensor.hpp"

namespace ember {

// The same values (row-major order) in a new shape. One dimension may be -1:
// it is inferred from the number of elements. A shape with another element
// count is a ShapeError naming both shapes. (A Shape cannot hold -1: infer
// with the list or span forms.)
template <class T> TensorT<T> reshape(const TensorT<T>& x, std::span<const Index> dims);
template <class T> TensorT<T> reshape(const TensorT<T>& x, std::initializer_list<Index> dims);  // reshape(x, {-1, 4})
template <class T> TensorT<T> reshape(const TensorT<T>& x, const Shape& shape);

// Joins tensors along `axis`; all other dimensions must agree. An empty list
// is a ValueError, a mismatch a ShapeError naming the shapes.
template <class T> TensorT<T> concat(const std::vector<TensorT<T>>& tensors, int axis);
template <class T> TensorT<T> concat(std::initializer_list<TensorT<T>> tensors, int axis);  // concat({a, b}, 0)

// The rows x[rows[0]], x[rows[1]], ... along axis 0 (mini-batches). Indices
// may repeat (their gradients add up); one outside [0, x.size(0)) is a
// ValueError naming it and the size.
template <class T> TensorT<T> index_select(const TensorT<T>& x, std::span<const Index> rows);
template <class T> TensorT<T> index_select(const TensorT<T>& x, std::initializer_list<Index> rows);

// Elementwise `mask != 0 ? a : b` (a NaN mask counts as true), with mask, a
// and b broadcast to one shape. The mask gets no gradient; a and b get the
// upstream gradient where they were chosen and exactly 0 elsewhere.
template <class T> TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b);

// x[..., start:stop:step, ...] along `axis`, as in Python: negative
// positions count from the end, positions beyond the ends are clamped (an
// empty result, not an error); step must be positive. narrow(x, axis,
// start, length) is slice(x, axis, start, start + length) but refuses a
// range that does not fit.
template <class T>
TensorT<T> slice(const TensorT<T>& x, int axis, Index start, Index stop, Index step = 1);
template <class T> TensorT<T> narrow(const TensorT<T>& x, int axis, Index start, Index length);

// x broadcast to `shape` (NumPy rules), as a copy; the gradient sums the
// copies back. sum_to is its adjoint: x summed over the dimensions `shape`
// broadcasts along, so that sum_to(x, s) has shape s.
template <class T> TensorT<T> expand(const TensorT<T>& x, const Shape& shape);
template <class T> TensorT<T> sum_to(const TensorT<T>& x, const Shape& shape);

}  // namespace ember
