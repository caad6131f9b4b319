// Pooling over the last two axes of [N, C, H, W] (or [C, H, W]), as in
// torch.nn.functional, one recorded node per call. No ceil_mode and no
// dilation.
#pragma once

#include "../engine/tensor.hpp"
#include "conv.hpp"  // Size2

namespace ember {

// The largest value of each window. Windows start at i·stride − padding and
// span `kernel`; padded places are never chosen (as −inf). padding must be
// at most half the kernel (PyTorch's rule), so every window holds an input.
// stride 0 means stride = kernel (PyTorch's default). Ties: the value and
// the whole gradient go to the first maximum in the window in row-major scan
// order (PyTorch's CPU rule); a NaN in the window is chosen (the last NaN),
// so NaN propagates. Second derivative: zero, recorded (a gather of the
// upstream at the chosen places).
template <class T>
TensorT<T> max_pool2d(const TensorT<T>& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0);

// The mean of each window; padded places count as zeros in the divisor
// (kernel_h·kernel_w) when count_include_pad (PyTorch's default), else the
// divisor is the number of input places in the window.
template <class T>
TensorT<T> avg_pool2d(const TensorT<T>& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0,
                      bool count_include_pad = true);

// Averages over output.h x output.w windows that tile the input as in
// PyTorch: rows floor(i·H/OH) .. ceil((i+1)·H/OH), the same for columns.
// adaptive_avg_pool2d(x, 1) is global average pooling -> [N, C, 1, 1].
template <class T>
TensorT<T> adaptive_avg_pool2d(const TensorT<T>& x, Size2 output);

}  // namespace ember
