// NumPy broadcasting on raw row-major buffers: expand a value to a larger
// shape (forward), and sum a gradient back to the smaller shape (backward).
#pragma once

#include "shape.hpp"

namespace ember {

// dst[to] = src[from] broadcast; `from` must broadcast to `to`.
template <class T>
void expand(const T* src, const Shape& from, T* dst, const Shape& to);

// dst[to] += sum of src[from] over the dimensions `to` was broadcast along;
// `to` must broadcast to `from`.
template <class T>
void sum_to(const T* src, const Shape& from, T* dst, const Shape& to);

}  // namespace ember
