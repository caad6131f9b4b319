// Parameter initialization, seeded and reproducible: the same Generator seed
// gives the same values on every run and machine. Vocabulary and formulas are
// PyTorch's torch.nn.init; every function fills a tensor's values in place
// (recording nothing) and returns the same handle.
#pragma once

#include <optional>
#include <string_view>

#include "../engine/random.hpp"
#include "../engine/tensor.hpp"

namespace ember {

// Which fan a Kaiming init preserves: fan_in keeps the forward activations'
// variance, fan_out the backward gradients'.
enum class FanMode { fan_in, fan_out };

// The schemes Linear and mlp() know, for a weight [out, in] and its bias.
enum class Init {
  standard,         // weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's nn.Linear default
  xavier_uniform,   // Glorot & Bengio 2010: weight U(±gain·sqrt(6/(fan_in+fan_out))), bias 0
  xavier_normal,    // weight N(0, gain²·2/(fan_in+fan_out)), bias 0
  kaiming_uniform,  // He et al. 2015: weight U(±gain·sqrt(3/fan_in)), bias 0
  kaiming_normal,   // weight N(0, gain²/fan_in), bias 0
  xavier = xavier_uniform,
  kaiming = kaiming_normal,
};
const char* to_string(Init scheme);        // "standard", "xavier_uniform", ...
Init parse_init(std::string_view name);  // also "xavier", "kaiming", "he"; ValueError otherwise

// fan_in and fan_out of a weight [out, in, k...]: in·∏k and out·∏k.
struct Fans {
  Index fan_in = 0;
  Index fan_out = 0;
};
Fans calculate_fans(const Shape& shape);  // ShapeError below rank 2

// The gain that keeps activation variance steady through `nonlinearity`.
// PyTorch's values: linear/identity/sigmoid 1, tanh 5/3, relu sqrt(2),
// leaky_relu sqrt(2/(1+a²)) with a = param (default 0.01), selu 3/4.
// ember's other activations (PyTorch has no gain for them; these are ember's
// choices): centered_sigmoid 1 (as sigmoid), elu, gelu, gelu_tanh, silu and softplus
// sqrt(2) (ReLU-like: roughly half of a centered input passes). Any other
// name is a ValueError listing the known ones.
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = std::nullopt);

namespace init {

template <class T> TensorT<T> uniform_(TensorT<T> t, Generator& gen, double low = 0, double high = 1);
template <class T> TensorT<T> normal_(TensorT<T> t, Generator& gen, double mean = 0, double stddev = 1);
template <class T> TensorT<T> constant_(TensorT<T> t, double value);
template <class T> TensorT<T> zeros_(TensorT<T> t);
template <class T> TensorT<T> ones_(TensorT<T> t);

// U(-1/sqrt(fan_in), 1/sqrt(fan_in)). fan_in = 0 takes t's own (t at least
// 2-D); pass the weight's fan_in for a bias.
template <class T> TensorT<T> standard_(TensorT<T> t, Generator& gen, Index fan_in = 0);

// Glorot: U(±gain·sqrt(6/(fan_in+fan_out))) and N(0, gain·sqrt(2/(fan_in+fan_out))).
template <class T> TensorT<T> xavier_uniform_(TensorT<T> t, Generator& gen, double gain = 1);
template <class T> TensorT<T> xavier_normal_(TensorT<T> t, Generator& gen, double gain = 1);

// He: with std = gain/sqrt(fan), U(±sqrt(3)·std) and N(0, std), where gain =
// calculate_gain(nonlinearity, a) and fan is fan_in or fan_out. The defaults
// are PyTorch's (leaky_relu with a = 0, i.e. gain sqrt(2)).
template <class T>
TensorT<T> kaiming_uniform_(TensorT<T> t, Generator& gen, double a = 0, FanMode mode = FanMode::fan_in,
                            std::string_view nonlinearity = "leaky_relu");
template <class T>
TensorT<T> kaiming_normal_(TensorT<T> t, Generator& gen, double a = 0, FanMode mode = FanMode::fan_in,
                           std::string_view nonlinearity = "leaky_relu");

// Initializes a layer's weight [out, in] and bias [out] (bias may be
// undefined) by `scheme` with `gain` (unused by Init::standard). Draws the
// weight's values first, then the bias's.
template <class T>
void layer_(TensorT<T> weight, TensorT<T> bias, Init scheme, Generator& gen, double gain = 1);

}  // namespace init
}  // namespace ember
