#include "init.hpp"

#include <cmath>
#include <string>

namespace ember {

const char* to_string(Init scheme) {
  switch (scheme) {
    case Init::standard: return "standard";
    case Init::xavier_uniform: return "xavier_uniform";
    case Init::xavier_normal: return "xavier_normal";
    case Init::kaiming_uniform: return "kaiming_uniform";
    case Init::kaiming_normal: return "kaiming_normal";
  }
  return "unknown";
}

Init parse_init(std::string_view name) {
  if (name == "standard" || name == "default") return Init::standard;
  if (name == "xavier" || name == "glorot" || name == "xavier_uniform") return Init::xavier_uniform;
  if (name == "xavier_normal") return Init::xavier_normal;
  if (name == "kaiming" || name == "he" || name == "kaiming_normal") return Init::kaiming_normal;
  if (name == "kaiming_uniform") return Init::kaiming_uniform;
  fail<ValueError>("parse_init: unknown init scheme '{}' (known: standard, xavier, xavier_uniform, xavier_normal, "
                   "kaiming, kaiming_uniform, kaiming_normal)",
                   name);
}

Fans calculate_fans(const Shape& shape) {
  if (shape.rank() < 2)
    fail<ShapeError>("calculate_fans: tensor of shape {} has fewer than 2 dimensions, so fan_in and fan_out are "
                     "undefined",
                     shape.str());
  Index receptive = 1;
  for (int a = 2; a < shape.rank(); ++a) receptive *= shape[a];
  return {shape[1] * receptive, shape[0] * receptive};
}

double calculate_gain(std::string_view nonlinearity, std::optional<double> param) {
  const std::string_view n = nonlinearity;
  if (n == "linear" || n == "identity" || n == "sigmoid" || n == "centered_sigmoid") return 1.0;
  if (n == "tanh") return 5.0 / 3.0;
  if (n == "relu" || n == "elu" || n == "gelu" || n == "gelu_tanh" || n == "silu" || n == "softplus") return std::sqrt(2.0);
  if (n == "leaky_relu") {
    const double a = param.value_or(0.01);
    return std::sqrt(2.0 / (1.0 + a * a));
  }
  if (n == "selu") return 0.75;
  fail<ValueError>("calculate_gain: unknown nonlinearity '{}' (known: linear, identity, sigmoid, centered_sigmoid, "
                   "tanh, relu, leaky_relu, elu, gelu, gelu_tanh, silu, softplus, selu)",
                   nonlinearity);
}

namespace init {

namespace {

template <class T>
TensorT<T> fill_uniform(TensorT<T> t, Generator& gen, double low, double high) {
  T* p = t.data();
  for (Index i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.uniform(low, high));
  return t;
}

template <class T>
TensorT<T> fill_normal(TensorT<T> t, Generator& gen, double mean, double stddev) {
  T* p = t.data();
  for (Index i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.normal(mean, stddev));
  return t;
}

Index fan(const Shape& shape, FanMode mode) {
  const Fans f = calculate_fans(shape);
  return mode == FanMode::fan_in ? f.fan_in : f.fan_out;
}

}  // namespace

template <class T>
TensorT<T> uniform_(TensorT<T> t, Generator& gen, double low, double high) {
  if (!(low <= high)) fail<ValueError>("uniform_: low {} is above high {}", low, high);
  return fill_uniform(t, gen, low, high);
}

template <class T>
TensorT<T> normal_(TensorT<T> t, Generator& gen, double mean, double stddev) {
  if (!(stddev >= 0)) fail<ValueError>("normal_: standard deviation {} is negative", stddev);
  return fill_normal(t, gen, mean, stddev);
}

template <class T>
TensorT<T> constant_(TensorT<T> t, double value) {
  t.values().setConstant(static_cast<T>(value));
  return t;
}
template <class T>
TensorT<T> zeros_(TensorT<T> t) {
  return constant_(t, 0.0);
}
template <class T>
TensorT<T> ones_(TensorT<T> t) {
  return constant_(t, 1.0);
}

template <class T>
TensorT<T> standard_(TensorT<T> t, Generator& gen, Index fan_in) {
  if (fan_in < 0) fail<ValueError>("standard_: fan_in {} is negative", fan_in);
  if (fan_in == 0) fan_in = calculate_fans(t.shape()).fan_in;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  return fill_uniform(t, gen, -bound, bound);
}

template <class T>
TensorT<T> xavier_uniform_(TensorT<T> t, Generator& gen, double gain) {
  const Fans f = calculate_fans(t.shape());
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(f.fan_in + f.fan_out));
  return fill_uniform(t, gen, -bound, bound);
}

template <class T>
TensorT<T> xavier_normal_(TensorT<T> t, Generator& gen, double gain) {
  const Fans f = calculate_fans(t.shape());
  return fill_normal(t, gen, 0.0, gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out)));
}

template <class T>
TensorT<T> kaiming_uniform_(TensorT<T> t, Generator& gen, double a, FanMode mode, std::string_view nonlinearity) {
  const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t.shape(), mode)));
  const double bound = std::sqrt(3.0) * stddev;  // U(-b, b) has variance b²/3
  return fill_uniform(t, gen, -bound, bound);
}

template <class T>
TensorT<T> kaiming_normal_(TensorT<T> t, Generator& gen, double a, FanMode mode, std::string_view nonlinearity) {
  const double stddev = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t.shape(), mode)));
  return fill_normal(t, gen, 0.0, stddev);
}

template <class T>
void layer_(TensorT<T> weight, TensorT<T> bias, Init scheme, Generator& gen, double gain) {
  const Fans f = calculate_fans(weight.shape());
  const double std_in = gain / std::sqrt(static_cast<double>(f.fan_in));
  switch (scheme) {
    case Init::standard:
      standard_(weight, gen, f.fan_in);
      if (bias.defined()) standard_(bias, gen, f.fan_in);
      return;
    case Init::xavier_uniform: xavier_uniform_(weight, gen, gain); break;
    case Init::xavier_normal: xavier_normal_(weight, gen, gain); break;
    case Init::kaiming_uniform: fill_uniform(weight, gen, -std::sqrt(3.0) * std_in, std::sqrt(3.0) * std_in); break;
    case Init::kaiming_normal: fill_normal(weight, gen, 0.0, std_in); break;
  }
  if (bias.defined()) zeros_(bias);
}

#define EMBER_INSTANTIATE(T)                                                                 \
  template TensorT<T> uniform_(TensorT<T>, Generator&, double, double);                     \
  template TensorT<T> normal_(TensorT<T>, Generator&, double, double);                      \
  template TensorT<T> constant_(TensorT<T>, double);                                        \
  template TensorT<T> zeros_(TensorT<T>);                                                   \
  template TensorT<T> ones_(TensorT<T>);                                                    \
  template TensorT<T> standard_(TensorT<T>, Generator&, Index);                             \
  template TensorT<T> xavier_uniform_(TensorT<T>, Generator&, double);                      \
  template TensorT<T> xavier_normal_(TensorT<T>, Generator&, double);                       \
  template TensorT<T> kaiming_uniform_(TensorT<T>, Generator&, double, FanMode, std::string_view); \
  template TensorT<T> kaiming_normal_(TensorT<T>, Generator&, double, FanMode, std::string_view);  \
  template void layer_(TensorT<T>, TensorT<T>, Init, Generator&, double);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace init
}  // namespace ember
