// Convolution and pooling layers, as torch.nn: Conv1d, Conv2d, MaxPool2d,
// AvgPool2d, AdaptiveAvgPool2d. Parameter names ("weight", "bias"), their
// layouts ([out, in/groups, k...], [out]) and the default init are
// PyTorch's, so a checkpoint loads into the PyTorch layer unchanged.
#pragma once

#include <string>

#include "../ops/conv.hpp"
#include "../ops/pool.hpp"
#include "module.hpp"

namespace ember {

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  Index groups = 1;
  bool bias = true;
};

// y = conv2d(x, weight, bias, ...); x:[N, in, H, W]. weight
// [out, in/groups, kh, kw] and bias [out] are drawn from
// U(−1/√fan_in, 1/√fan_in), fan_in = in/groups·kh·kw (PyTorch's
// kaiming_uniform with a = √5, and its bias rule), weight first.
template <class T>
class Conv2dT : public ModuleT<T> {
 public:
  Conv2dT(Index in_channels, Index out_channels, Size2 kernel_size, Generator& gen, Conv2dOptions options = {});
  TensorT<T> forward(const TensorT<T>& x) override;
  void reset_parameters(Generator& gen);  // draws weight, then bias
  const Conv2dOptions& options() const { return options_; }
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;

  TensorT<T> weight;
  TensorT<T> bias;  // undefined without bias

 private:
  Conv2dOptions options_;
};

struct Conv1dOptions {
  Index stride = 1;
  Index padding = 0;
  Index dilation = 1;
  Index groups = 1;
  bool bias = true;
};

// y = conv1d(x, weight, bias, ...); x:[N, in, L], weight [out, in/groups, k].
// Init as Conv2d.
template <class T>
class Conv1dT : public ModuleT<T> {
 public:
  Conv1dT(Index in_channels, Index out_channels, Index kernel_size, Generator& gen, Conv1dOptions options = {});
  TensorT<T> forward(const TensorT<T>& x) override;
  void reset_parameters(Generator& gen);
  const Conv1dOptions& options() const { return options_; }
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;

  TensorT<T> weight;
  TensorT<T> bias;

 private:
  Conv1dOptions options_;
};

// max_pool2d(x, kernel, stride, padding); stride 0 (the default) = kernel.
template <class T>
class MaxPool2dT : public ModuleT<T> {
 public:
  explicit MaxPool2dT(Size2 kernel_size, Size2 stride = 0, Size2 padding = 0);
  TensorT<T> forward(const TensorT<T>& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

 private:
  Size2 kernel_, stride_, padding_;
};

template <class T>
class AvgPool2dT : public ModuleT<T> {
 public:
  explicit AvgPool2dT(Size2 kernel_size, Size2 stride = 0, Size2 padding = 0, bool count_include_pad = true);
  TensorT<T> forward(const TensorT<T>& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

 private:
  Size2 kernel_, stride_, padding_;
  bool count_include_pad_;
};

// adaptive_avg_pool2d(x, output_size); AdaptiveAvgPool2d(1) is global
// average pooling.
template <class T>
class AdaptiveAvgPool2dT : public ModuleT<T> {
 public:
  explicit AdaptiveAvgPool2dT(Size2 output_size);
  TensorT<T> forward(const TensorT<T>& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;

 private:
  Size2 output_;
};

using Conv2d = Conv2dT<float>;
using Conv2d64 = Conv2dT<double>;
using Conv1d = Conv1dT<float>;
using Conv1d64 = Conv1dT<double>;
using MaxPool2d = MaxPool2dT<float>;
using MaxPool2d64 = MaxPool2dT<double>;
using AvgPool2d = AvgPool2dT<float>;
using AvgPool2d64 = AvgPool2dT<double>;
using AdaptiveAvgPool2d = AdaptiveAvgPool2dT<float>;
using AdaptiveAvgPool2d64 = AdaptiveAvgPool2dT<double>;

extern template class Conv2dT<float>;
extern template class Conv2dT<double>;
extern template class Conv1dT<float>;
extern template class Conv1dT<double>;
extern template class MaxPool2dT<float>;
extern template class MaxPool2dT<double>;
extern template class AvgPool2dT<float>;
extern template class AvgPool2dT<double>;
extern template class AdaptiveAvgPool2dT<float>;
extern template class AdaptiveAvgPool2dT<double>;

}  // namespace ember
