// Ternary inference for BitLinear layers: weights packed at 2 bits each, and
// a product on int8 activations that uses only additions and subtractions
// (plus the bit operations that decode the weights), accumulating in int32.
//
// Packed layout (PackedTernary::bytes), for a weight [out, in]:
//   each row takes Q = ceil(in / 4) bytes, rows one after another;
//   the row is cut into four quarters of Q weights: weight j is in quarter
//   j / Q at position k = j % Q, stored in byte k of the row at bits
//   2 (j / Q) and 2 (j / Q) + 1 (least significant pair = first quarter);
//   codes: 0b00 = 0, 0b01 = +1, 0b10 = -1; 0b11 is invalid; the padding past
//   `in` (positions in..4Q-1: at most 3 weights, which can span the last two
//   quarters when Q is small) is 0b00.
// Quarters rather than four neighbours per byte: decoding quarter q of a row
// is one shift and mask over contiguous bytes, which vectorizes.
// The real weight is code * scale. Saved and loaded by io/packed_ternary.hpp;
// numpy unpacking: docs/q6-bitnet.md.
#pragma once

#include <cstdint>
#include <vector>

#include "../engine/tensor.hpp"
#include "quantize.hpp"

namespace ember {

struct PackedTernary {
  Index out_features = 0, in_features = 0;
  double scale = 0;                 // the real weight is code * scale (> 0, finite)
  std::vector<std::uint8_t> bytes;  // out_features * row_bytes()
  Index row_bytes() const { return in_features / 4 + (in_features % 4 != 0); }
  std::size_t memory_bytes() const { return bytes.size() + sizeof(scale); }
};

// From quantize_ternary's result, or from a tensor of -1/0/1 values and a
// scale. A value other than -1, 0, 1, a weight that is not 2-D, or a scale
// that is not finite and positive is a ValueError naming it.
template <class T> PackedTernary pack_ternary(const TernaryWeights<T>& w);
template <class T> PackedTernary pack_ternary(const TensorT<T>& ternary, double scale);
// The -1/0/1 codes as a tensor [out, in] (not scaled), and the real weight.
template <class T> TensorT<T> unpack_ternary(const PackedTernary& w);
template <class T> TensorT<T> dequantize_ternary(const PackedTernary& w);

// acc[r, o] = sum_j x[r, j] * code[o, j], computed as (x & plus) - (x & minus)
// on int8 lanes, summed in int16 blocks (no overflow: at most 256 terms of
// |x| <= 127 per lane) and int32 totals. x: rows * in_features values.
void ternary_accumulate(const std::int8_t* x, Index rows, const PackedTernary& w, std::int32_t* acc);
// y[r, o] = acc[r, o] * step[r] * scale: the float result of BitLinear's
// forward, from its quantized input (quantize_int8 of the normalized input).
template <class T> TensorT<T> ternary_matmul(const Int8Activations<T>& x, const PackedTernary& w);
// Inference through a trained BitLinear weight: rms_normalize, quantize_int8,
// ternary_matmul. No graph.
template <class T> TensorT<T> ternary_linear(const TensorT<T>& x, const PackedTernary& w);

}  // namespace ember
