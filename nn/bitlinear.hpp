// BitNet b1.58's layers (Ma et al. 2024): BitLinear, a linear layer with
// ternary weights and int8 activations trained through a straight-through
// estimator, and SwiGLU as a module (it halves the width, so it is not one
// of the elementwise activations ActivationT looks up by name).
#pragma once

#include "../ops/quantize.hpp"
#include "module.hpp"

namespace ember {

// y = quantized_linear(rms_normalize(x), W): parameter-free RMSNorm on the
// input, per-token absmax int8 activations, absmean ternary weights, no bias
// (ops/quantize.hpp). `weight` [out, in] is the latent full-precision weight
// the optimizer updates; its quantized form is recomputed every forward.
// Initialized like nn.Linear's weight (U(±1/sqrt(in))) unless `init` says otherwise.
template <class T>
class BitLinearT : public ModuleT<T> {
 public:
  BitLinearT(Index in_features, Index out_features, Generator& gen, Init init = Init::standard, double gain = 1);
  TensorT<T> forward(const TensorT<T>& x) override { return bitlinear(x, weight); }

  Index in_features() const { return weight.shape()[1]; }
  Index out_features() const { return weight.shape()[0]; }
  std::string type_name() const override { return "BitLinear"; }
  std::string extra_repr() const override;

  TensorT<T> weight;  // registered as "weight"
};

// swiglu(x): silu of the first half of the last axis times the second half.
template <class T>
class SwiGLUT : public ModuleT<T> {
 public:
  TensorT<T> forward(const TensorT<T>& x) override { return swiglu(x); }
  std::string type_name() const override { return "SwiGLU"; }
};

using BitLinear = BitLinearT<float>;
using BitLinear64 = BitLinearT<double>;
using SwiGLU = SwiGLUT<float>;
using SwiGLU64 = SwiGLUT<double>;

extern template class BitLinearT<float>;
extern template class BitLinearT<double>;
extern template class SwiGLUT<float>;
extern template class SwiGLUT<double>;

}  // namespace ember
