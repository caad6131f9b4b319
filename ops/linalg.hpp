// Linear algebra: matrix products and transposes.
#pragma once

#include "../engine/tensor.hpp"

namespace ember {

// Matrix product: [n,k] @ [k,m] -> [n,m], or batched [B,n,k] @ [B,k,m] ->
// [B,n,m]. Other ranks, differing inner dimensions or batch sizes are a
// ShapeError naming both shapes.
template <class T> TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b);

// Swaps the last two dimensions: [..., r, c] -> [..., c, r] (rank >= 2).
template <class T> TensorT<T> transpose(const TensorT<T>& x);

}  // namespace ember
