// Normalization over the trailing dimensions: layer_norm and rms_norm. Each
// is one fused node (the forward keeps each row's statistics, the backward
// is one pass per row, straight into the gradient buffers); the recorded
// gradient (create_graph) is the same formula in ember ops, so it can be
// differentiated again.
#pragma once

#include <optional>

#include "../engine/tensor.hpp"

namespace ember {

// PyTorch's F.layer_norm: each row of the trailing `normalized_shape`
// dimensions of x (which must be x's last dimensions) becomes
//   y = (x - mean) / sqrt(var + eps) * weight + bias
// with the biased variance (divided by the row's size D). weight and bias
// have shape normalized_shape; an undefined one (`TensorT<T>{}`) is left out.
//   layer_norm(x, {512}, w, b)     // x [N, 512]
template <class T>
TensorT<T> layer_norm(const TensorT<T>& x, const Shape& normalized_shape, const TensorT<T>& weight = {},
                      const TensorT<T>& bias = {}, double eps = 1e-5);

// PyTorch's F.rms_norm: y = x / sqrt(mean(x^2) + eps) * weight over the
// trailing normalized_shape dimensions. eps defaults, as in PyTorch, to the
// machine epsilon of T.
template <class T>
TensorT<T> rms_norm(const TensorT<T>& x, const Shape& normalized_shape, const TensorT<T>& weight = {},
                    std::optional<double> eps = std::nullopt);

}  // namespace ember
