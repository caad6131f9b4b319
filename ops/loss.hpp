// Loss functions. Each is one fused node (they run on every training step),
// with PyTorch's reductions: the mean over elements (default), the sum, or
// no reduction (the per-element losses, shaped like the input).
//
// Prediction and target must have the same shape: a mismatch is a
// ShapeError naming both, never a silent broadcast.
#pragma once

#include <span>

#include "../engine/tensor.hpp"

namespace ember {

enum class Reduction { mean, sum, none };

// (pred - target)^2.
template <class T>
TensorT<T> mse_loss(const TensorT<T>& pred, const TensorT<T>& target, Reduction reduction = Reduction::mean);

// -(y log p + (1-y) log(1-p)), each log clamped at -100 as in PyTorch, so
// p = 0 or 1 gives a finite loss and gradient. A p outside [0, 1] (a tanh
// output, say) is a ValueError naming the value and its index; NaN gives NaN.
template <class T>
TensorT<T> binary_cross_entropy(const TensorT<T>& prob, const TensorT<T>& target,
                                Reduction reduction = Reduction::mean);

// binary_cross_entropy(sigmoid(z), y) in the stable fused form
// max(z,0) - z y + log(1 + e^-|z|): finite for every finite z, and its
// gradient is exactly sigmoid(z) - y.
template <class T>
TensorT<T> binary_cross_entropy_with_logits(const TensorT<T>& logits, const TensorT<T>& target,
                                            Reduction reduction = Reduction::mean);

// Multi-class losses over logits or log-probabilities of shape [N, C], with one
// class index in [0, C) per row. cross_entropy = nll_loss(log_softmax(logits)),
// fused; the mean is over the N rows. A wrong count of indices is a
// ShapeError, an index out of range a ValueError naming it and C.
template <class T>
TensorT<T> cross_entropy(const TensorT<T>& logits, std::span<const Index> classes,
                         Reduction reduction = Reduction::mean);
template <class T>
TensorT<T> nll_loss(const TensorT<T>& log_probs, std::span<const Index> classes, Reduction reduction = Reduction::mean);

}  // namespace ember
