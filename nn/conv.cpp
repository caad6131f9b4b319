#include "conv.hpp"

#include <fmt/format.h>

namespace ember {

namespace {

std::string pair(Size2 s) { return fmt::format("({}, {})", s.h, s.w); }

void check_channels(const char* layer, Index in, Index out, Index groups) {
  if (in <= 0 || out <= 0)
    fail<ValueError>("{}: in_channels and out_channels must be positive, got {} and {}", layer, in, out);
  if (groups < 1 || in % groups != 0 || out % groups != 0)
    fail<ValueError>("{}: in_channels {} and out_channels {} must both be divisible by groups {}", layer, in, out,
                     groups);
}

// PyTorch's reset_parameters for convolutions: kaiming_uniform_(a = √5) on
// the weight, which is U(±1/√fan_in), then the bias U(±1/√fan_in).
template <class T>
void reset_conv(TensorT<T>& weight, TensorT<T>& bias, Generator& gen) {
  init::standard_(weight, gen);
  if (bias.defined()) init::standard_(bias, gen, calculate_fans(weight.shape()).fan_in);
}

}  // namespace

template <class T>
Conv2dT<T>::Conv2dT(Index in_channels, Index out_channels, Size2 k, Generator& gen, Conv2dOptions options)
    : options_(options) {
  check_channels("Conv2d", in_channels, out_channels, options.groups);
  if (k.h < 1 || k.w < 1) fail<ValueError>("Conv2d: kernel_size {} must be positive", pair(k));
  weight = this->register_parameter("weight", TensorT<T>::empty({out_channels, in_channels / options.groups, k.h, k.w}));
  if (options.bias) bias = this->register_parameter("bias", TensorT<T>::empty({out_channels}));
  reset_parameters(gen);
}

template <class T>
void Conv2dT<T>::reset_parameters(Generator& gen) {
  reset_conv(weight, bias, gen);
}

template <class T>
TensorT<T> Conv2dT<T>::forward(const TensorT<T>& x) {
  const auto& o = options_;
  return conv2d(x, weight, bias, o.stride, o.padding, o.dilation, o.groups);
}

template <class T>
std::string Conv2dT<T>::extra_repr() const {
  const Shape& s = weight.shape();
  std::string r = fmt::format("{}, {}, kernel_size=({}, {}), stride={}", s[1] * options_.groups, s[0], s[2], s[3],
                              pair(options_.stride));
  if (options_.padding.h || options_.padding.w) r += ", padding=" + pair(options_.padding);
  if (options_.dilation.h != 1 || options_.dilation.w != 1) r += ", dilation=" + pair(options_.dilation);
  if (options_.groups != 1) r += fmt::format(", groups={}", options_.groups);
  if (!bias.defined()) r += ", bias=False";
  return r;
}

template <class T>
Conv1dT<T>::Conv1dT(Index in_channels, Index out_channels, Index k, Generator& gen, Conv1dOptions options)
    : options_(options) {
  check_channels("Conv1d", in_channels, out_channels, options.groups);
  if (k < 1) fail<ValueError>("Conv1d: kernel_size {} must be positive", k);
  weight = this->register_parameter("weight", TensorT<T>::empty({out_channels, in_channels / options.groups, k}));
  if (options.bias) bias = this->register_parameter("bias", TensorT<T>::empty({out_channels}));
  reset_parameters(gen);
}

template <class T>
void Conv1dT<T>::reset_parameters(Generator& gen) {
  reset_conv(weight, bias, gen);
}

template <class T>
TensorT<T> Conv1dT<T>::forward(const TensorT<T>& x) {
  const auto& o = options_;
  return conv1d(x, weight, bias, o.stride, o.padding, o.dilation, o.groups);
}

template <class T>
std::string Conv1dT<T>::extra_repr() const {
  const Shape& s = weight.shape();
  std::string r = fmt::format("{}, {}, kernel_size=({},), stride=({},)", s[1] * options_.groups, s[0], s[2],
                              options_.stride);
  if (options_.padding) r += fmt::format(", padding=({},)", options_.padding);
  if (options_.dilation != 1) r += fmt::format(", dilation=({},)", options_.dilation);
  if (options_.groups != 1) r += fmt::format(", groups={}", options_.groups);
  if (!bias.defined()) r += ", bias=False";
  return r;
}

template <class T>
MaxPool2dT<T>::MaxPool2dT(Size2 kernel, Size2 stride, Size2 padding)
    : kernel_(kernel), stride_(stride.h == 0 && stride.w == 0 ? kernel : stride), padding_(padding) {}
template <class T>
TensorT<T> MaxPool2dT<T>::forward(const TensorT<T>& x) {
  return max_pool2d(x, kernel_, stride_, padding_);
}
template <class T>
std::string MaxPool2dT<T>::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", pair(kernel_), pair(stride_), pair(padding_));
}

template <class T>
AvgPool2dT<T>::AvgPool2dT(Size2 kernel, Size2 stride, Size2 padding, bool count_include_pad)
    : kernel_(kernel),
      stride_(stride.h == 0 && stride.w == 0 ? kernel : stride),
      padding_(padding),
      count_include_pad_(count_include_pad) {}
template <class T>
TensorT<T> AvgPool2dT<T>::forward(const TensorT<T>& x) {
  return avg_pool2d(x, kernel_, stride_, padding_, count_include_pad_);
}
template <class T>
std::string AvgPool2dT<T>::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", pair(kernel_), pair(stride_), pair(padding_));
}

template <class T>
AdaptiveAvgPool2dT<T>::AdaptiveAvgPool2dT(Size2 output) : output_(output) {}
template <class T>
TensorT<T> AdaptiveAvgPool2dT<T>::forward(const TensorT<T>& x) {
  return adaptive_avg_pool2d(x, output_);
}
template <class T>
std::string AdaptiveAvgPool2dT<T>::extra_repr() const {
  return "output_size=" + pair(output_);
}

template class Conv2dT<float>;
template class Conv2dT<double>;
template class Conv1dT<float>;
template class Conv1dT<double>;
template class MaxPool2dT<float>;
template class MaxPool2dT<double>;
template class AvgPool2dT<float>;
template class AvgPool2dT<double>;
template class AdaptiveAvgPool2dT<float>;
template class AdaptiveAvgPool2dT<double>;

}  // namespace ember
