// BitNet b1.58 quantization (Ma et al. 2024): absmean ternary weights,
// per-token absmax int8 activations, and the training op that uses both
// with a straight-through estimator (STE).
//
//   weights      W~ = RoundClip(W / s, -1, 1) * s,     s = mean|W| + eps   (one scale per tensor)
//   activations  x~ = Clip(round(x / a), -127, 127) * a, a = max(max|x_row|, eps) / 127 (one step per row)
//
// Rounding is to nearest, ties to even (std::nearbyint; torch.round's rule).
// The integers and scales are exposed so that inference (ops/ternary.hpp)
// computes exactly what training's forward computed.
#pragma once

#include <cstdint>
#include <vector>

#include "../engine/tensor.hpp"
#include "arithmetic.hpp"

namespace ember {

inline constexpr double kQuantEps = 1e-5;
inline constexpr int kInt8Max = 127;  // Q_b: activations in [-127, 127]

// Ternary weights: values in {-1, 0, 1}, row-major in the weight's shape; the
// real weight is values * scale.
template <class T>
struct TernaryWeights {
  std::vector<std::int8_t> values;
  Shape shape;
  T scale = 0;
};
template <class T> TernaryWeights<T> quantize_ternary(const TensorT<T>& weight, ScalarOf<T> eps = T(kQuantEps));

// int8 activations: x as [rows, cols] (leading axes folded), values in
// [-127, 127]; row r's real values are values * step[r].
template <class T>
struct Int8Activations {
  std::vector<std::int8_t> values;
  Index rows = 0, cols = 0;
  std::vector<T> step;
};
template <class T> Int8Activations<T> quantize_int8(const TensorT<T>& x, ScalarOf<T> eps = T(kQuantEps));

// The dequantized values, as tensors (no graph): W~ and x~ above.
template <class T> TensorT<T> fake_quantize_ternary(const TensorT<T>& weight, ScalarOf<T> eps = T(kQuantEps));
template <class T> TensorT<T> fake_quantize_int8(const TensorT<T>& x, ScalarOf<T> eps = T(kQuantEps));

// x / sqrt(mean(x^2 over the last axis) + eps), composed of ember ops (so
// exactly differentiable): the parameter-free RMSNorm BitLinear applies.
template <class T> TensorT<T> rms_normalize(const TensorT<T>& x, ScalarOf<T> eps = T(1e-6));

// y = x~ W~ᵀ for x:[..., in], weight:[out, in] -> [..., out]: one node
// "bitlinear_quant" whose backward is the STE — the quantizers count as the
// identity, so dx = G W~ and dW = Gᵀ x~ (the unquantized linear's backward
// at the quantized point; the reference code's x + (q(x) - x).detach()).
// Marked surrogate_gradient: gradcheck reports it, a second derivative
// through it is a GraphError.
template <class T> TensorT<T> quantized_linear(const TensorT<T>& x, const TensorT<T>& weight);

// BitLinear's forward: quantized_linear(rms_normalize(x), weight). No bias.
template <class T> TensorT<T> bitlinear(const TensorT<T>& x, const TensorT<T>& weight);

}  // namespace ember
