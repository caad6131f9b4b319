// Convolution: conv2d and conv1d as in torch.nn.functional, one recorded
// node per call. The forward is im2col + GEMMs per group over chunks of
// samples (one sample per product for wide images; ops/conv.cpp); the
// backward writes dX (col2im of Wᵀ·G), dW (G·colsᵀ) and db (Σ G) straight
// into the gradient buffers through the same GEMM helper (engine/gemm.hpp).
// 3x3 kernels at stride 1 with at least 16 channels in and out per group
// take Winograd F(2x2, 3x3) instead for the forward, dX and dW
// (ops/conv_winograd.hpp): 16 products per 2x2 output tile instead of 36.
//
// Higher order: the three gradients are ops of their own (conv_input_grad,
// a transposed convolution; conv_weight_grad; conv_bias_grad) whose
// derivatives are again conv ops, so double backward through a convolution
// is exact and itself differentiable to any order.
#pragma once

#include "../engine/tensor.hpp"

namespace ember {

// A size per spatial axis, from one number (both axes) or {h, w}.
struct Size2 {
  Index h, w;
  Size2(Index both) : h(both), w(both) {}  // implicit: conv2d(x, w, b, 2)
  Size2(Index h_, Index w_) : h(h_), w(w_) {}
};

// x:[N, C, H, W] weight:[O, C/groups, kh, kw] bias:[O] (undefined: none)
// -> [N, O, OH, OW], OH = (H + 2·pad_h − dil_h·(kh − 1) − 1) / stride_h + 1
// (floor), and the same for W. PyTorch's cross-correlation (no kernel flip),
// zero padding. ShapeError (one line naming the op and the shapes) for a
// wrong rank, channels not divisible by groups, a weight whose in-channels
// are not C/groups, a kernel larger than the padded input, a bias not [O];
// ValueError for stride or dilation < 1, padding < 0, groups < 1.
template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias = {}, Size2 stride = 1,
                  Size2 padding = 0, Size2 dilation = 1, Index groups = 1);

// x:[N, C, L] weight:[O, C/groups, k] bias:[O] -> [N, O, OL]: conv2d with
// H = 1, in one node of its own (no reshapes recorded).
template <class T>
TensorT<T> conv1d(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias = {}, Index stride = 1,
                  Index padding = 0, Index dilation = 1, Index groups = 1);

}  // namespace ember
