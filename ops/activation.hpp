// Activation functions: elementwise nonlinearities, and softmax/log-softmax
// along an axis. Each is one recorded node whose op name is its lookup name
// ("sigmoid", "gelu_tanh", ...), so diagnostics can find activations by name.
//
// Every op here is finite for every finite input (no overflow to inf or NaN,
// in float or double) and gives NaN for a NaN input, in value and gradient.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "../engine/tensor.hpp"
#include "arithmetic.hpp"

namespace ember {

// 1/(1+e^-x), in [0, 1]; no overflow at x = ±1000.
template <class T> TensorT<T> sigmoid(const TensorT<T>& x);
template <class T> TensorT<T> tanh(const TensorT<T>& x);
// max(x, 0); the gradient at x = 0 is 0 (as in PyTorch, JAX, TensorFlow).
template <class T> TensorT<T> relu(const TensorT<T>& x);
// x for x > 0, slope*x otherwise; the gradient at x = 0 is `slope` (as in
// PyTorch), so leaky_relu with slope 0 has relu's convention.
template <class T> TensorT<T> leaky_relu(const TensorT<T>& x, ScalarOf<T> slope = T(0.01));
// x for x > 0, alpha*(e^x - 1) otherwise; the gradient at x = 0 is alpha.
template <class T> TensorT<T> elu(const TensorT<T>& x, ScalarOf<T> alpha = T(1));

enum class GeluApproximation { none, tanh };
// x*Phi(x), Phi the standard normal CDF (exact, via erfc); or, with
// GeluApproximation::tanh, x/2*(1 + tanh(sqrt(2/pi)*(x + 0.044715x^3))),
// recorded as "gelu_tanh".
template <class T> TensorT<T> gelu(const TensorT<T>& x, GeluApproximation approximate = GeluApproximation::none);
template <class T> TensorT<T> silu(const TensorT<T>& x);      // x*sigmoid(x)
template <class T> TensorT<T> softplus(const TensorT<T>& x);  // log(1+e^x), exact for every x
// sigmoid(x) - 1/2 = tanh(x/2)/2: the sigmoid's exact derivative, zero mean.
template <class T> TensorT<T> centered_sigmoid(const TensorT<T>& x);
// A recorded copy of x (op "identity"), so that a linear layer's activation
// is a node like any other.
template <class T> TensorT<T> identity(const TensorT<T>& x);

// e^x / sum(e^x) and its log along `axis` (negative counts from the back),
// shifted by the maximum so no exponential overflows.
// More activations (ops/activation_more.cpp), PyTorch's definitions.
template <class T> TensorT<T> log_sigmoid(const TensorT<T>& x);  // log(sigmoid(x)) = -softplus(-x)
template <class T> TensorT<T> hardtanh(const TensorT<T>& x, ScalarOf<T> min_val = T(-1), ScalarOf<T> max_val = T(1));
template <class T> TensorT<T> relu6(const TensorT<T>& x);        // hardtanh(x, 0, 6)
template <class T> TensorT<T> hardsigmoid(const TensorT<T>& x);  // clamp(x/6 + 1/2, 0, 1)
template <class T> TensorT<T> hardswish(const TensorT<T>& x);    // x hardsigmoid(x)
template <class T> TensorT<T> selu(const TensorT<T>& x);         // scale elu(x, alpha), the self-normalizing constants
template <class T> TensorT<T> celu(const TensorT<T>& x, ScalarOf<T> alpha = T(1));  // max(0,x) + min(0, alpha(e^(x/alpha)-1))
template <class T> TensorT<T> mish(const TensorT<T>& x);         // x tanh(softplus(x))
template <class T> TensorT<T> softsign(const TensorT<T>& x);     // x / (1 + |x|)
// x for x > 0, w x else; `weight` holds 1 slope or one per channel (axis 1,
// or 0 for a vector), learnable.
template <class T> TensorT<T> prelu(const TensorT<T>& x, const TensorT<T>& weight);
// a sigmoid(b), a and b the two halves of x along `axis`.
template <class T> TensorT<T> glu(const TensorT<T>& x, int axis = -1);

// BitNet b1.58's feed-forward activations (ops/activation_gated.cpp).
// relu(x)^2: 0 for x <= 0 (gradient 0 there, continuous), x^2 above; the
// activation of BitNet b1.58 2B4T. In activation_names().
template <class T> TensorT<T> relu_squared(const TensorT<T>& x);
// silu(a) * b, a and b the first and second halves of the last axis
// ([..., 2h] -> [..., h]); the LLaMA/BitNet b1.58 SwiGLU with both
// projections fused into one linear layer of width 2h. Not in
// activation_names(): it halves its input's width, so it cannot stand where
// an elementwise activation does. An odd last axis is a ShapeError.
template <class T> TensorT<T> swiglu(const TensorT<T>& x);

template <class T> TensorT<T> softmax(const TensorT<T>& x, int axis = -1);
template <class T> TensorT<T> log_softmax(const TensorT<T>& x, int axis = -1);

// Lookup by name, for trainers driven by the command line: "sigmoid", "tanh",
// "relu", "leaky_relu", "elu", "gelu", "gelu_tanh", "silu", "softplus",
// "centered_sigmoid", "identity", "log_sigmoid", "hardtanh", "relu6",
// "hardsigmoid", "hardswish", "selu", "celu", "mish", "softsign",
// "relu_squared" (parameters at their defaults; prelu needs a weight, glu
// and swiglu halve their input, so they are not here). An unknown name is a ValueError that lists the valid names.
// Each records a node under its lookup name, which diagnostics recognise.
template <class T>
using ActivationFn = std::function<TensorT<T>(const TensorT<T>&)>;
template <class T> ActivationFn<T> activation(std::string_view name);
std::vector<std::string> activation_names();

}  // namespace ember
