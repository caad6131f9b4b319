// linear: the fused affine map of a fully connected layer, out = x·Wᵀ + b.
#pragma once

#include "../engine/tensor.hpp"

namespace ember {

// x:[..., in] weight:[out, in] bias:[out] -> [..., out]. Leading dims of x
// fold into rows, as in PyTorch's F.linear; the weight layout [out, in] is
// PyTorch's, so checkpoints load into torch.nn.Linear unchanged. An undefined
// bias (`TensorT<T>{}`) means no bias.
//
// One recorded node rather than matmul + add: the forward is one GEMM into
// the output plus a rowwise bias add, and the backward writes dX, dW and db
// straight into the gradient buffers, with no broadcast or transposed copies.
template <class T>
TensorT<T> linear(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias = {});

}  // namespace ember
