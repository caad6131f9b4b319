#include "activation_stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "../engine/error.hpp"
#include "reduce.hpp"

namespace ember::diag {

namespace {

enum class Kind {
  sigmoid,
  centered_sigmoid,
  tanh,
  relu,
  leaky_relu,
  elu,
  gelu,
  gelu_tanh,
  silu,
  softplus,
  identity,
  log_sigmoid,
  hardtanh,
  relu6,
  hardsigmoid,
  hardswish,
  selu,
  celu,
  mish,
  softsign,
  relu_squared,
  none
};

Kind kind_of(std::string_view op) {
  if (op == "sigmoid") return Kind::sigmoid;
  if (op == "centered_sigmoid") return Kind::centered_sigmoid;
  if (op == "tanh") return Kind::tanh;
  if (op == "relu") return Kind::relu;
  if (op == "leaky_relu") return Kind::leaky_relu;
  if (op == "elu") return Kind::elu;
  if (op == "gelu") return Kind::gelu;
  if (op == "gelu_tanh") return Kind::gelu_tanh;
  if (op == "silu") return Kind::silu;
  if (op == "softplus") return Kind::softplus;
  if (op == "identity") return Kind::identity;
  if (op == "log_sigmoid") return Kind::log_sigmoid;
  if (op == "hardtanh") return Kind::hardtanh;
  if (op == "relu6") return Kind::relu6;
  if (op == "hardsigmoid") return Kind::hardsigmoid;
  if (op == "hardswish") return Kind::hardswish;
  if (op == "selu") return Kind::selu;
  if (op == "celu") return Kind::celu;
  if (op == "mish") return Kind::mish;
  if (op == "softsign") return Kind::softsign;
  if (op == "relu_squared") return Kind::relu_squared;
  return Kind::none;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <class T>
using Array = Eigen::Array<T, Eigen::Dynamic, 1>;

// leaky_relu's slope and elu's alpha are not in the op name; read them off any
// element of the negative region (H = slope*y, H = alpha*expm1(y)). They are
// only needed for the measure-zero case y == 0.
template <class T>
T negative_side_factor(ConstArrayMap<T> x, ConstArrayMap<T> h, Kind kind, T fallback) {
  for (Index i = 0; i < x.size(); ++i)
    if (x[i] < T(0)) return kind == Kind::leaky_relu ? h[i] / x[i] : h[i] / std::expm1(x[i]);
  return fallback;
}

// dH/dy per element, vectorized (the monitor runs this on every activation
// call of a monitored step).
template <class T>
Array<T> local_derivative(Kind kind, ConstArrayMap<T> x, ConstArrayMap<T> h) {
  const Index n = h.size();
  switch (kind) {
    case Kind::sigmoid:  // d/dy sigmoid = H(1-H)
      return h * (T(1) - h);
    case Kind::centered_sigmoid:  // H = sigmoid - 1/2: d/dy = (H+1/2)(1/2-H) = 1/4 - H^2
      return T(0.25) - h.square();
    case Kind::tanh:  // d/dy tanh = 1-H^2
      return T(1) - h.square();
    case Kind::relu:  // d/dy relu = 1{y>0}
      return (h > T(0)).template cast<T>();
    case Kind::leaky_relu: {  // d/dy = 1 (y>0), slope (y<=0)
      const T slope = negative_side_factor(x, h, kind, T(0.01));
      return slope + (T(1) - slope) * (x > T(0)).template cast<T>();
    }
    case Kind::elu: {  // d/dy = 1 (y>0), alpha e^y = H e^y / expm1(y) (y<0), alpha (y=0)
      const T alpha = negative_side_factor(x, h, kind, T(1));
      return (x > T(0)).select(Array<T>::Ones(n), (x < T(0)).select(h * x.exp() / x.expm1(), alpha));
    }
    case Kind::gelu: {  // d/dy y Phi(y) = Phi(y) + y phi(y); erfc has no Eigen array form in Core
      Array<T> d(n);
      const double inv_sqrt2 = 1.0 / std::numbers::sqrt2, inv_sqrt2pi = 0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2;
      for (Index i = 0; i < n; ++i) {
        const double y = x[i];
        d[i] = static_cast<T>(0.5 * std::erfc(-y * inv_sqrt2) + y * std::exp(-0.5 * y * y) * inv_sqrt2pi);
      }
      return d;
    }
    case Kind::gelu_tanh: {  // d/dy y/2 (1 + tanh u), u = c (y + k y^3): (1+t)/2 + y/2 (1-t^2) c (1 + 3k y^2)
      const T c = static_cast<T>(std::sqrt(2.0 / std::numbers::pi)), k = T(0.044715);
      const Array<T> t = (c * (x + k * x.cube())).tanh();
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t.square()) * c * (T(1) + T(3) * k * x.square());
    }
    case Kind::silu: {  // d/dy y s(y) = s (1 + y (1-s)), s = sigmoid(y)
      const Array<T> sy = T(1) / (T(1) + (-x).exp());
      return sy * (T(1) + x * (T(1) - sy));
    }
    case Kind::softplus:  // d/dy log(1+e^y) = sigmoid(y)
      return T(1) / (T(1) + (-x).exp());
    case Kind::identity:  // d/dy y = 1
      return Array<T>::Ones(n);
    case Kind::log_sigmoid:  // d/dy log sigmoid(y) = sigmoid(-y)
      return T(1) / (T(1) + x.exp());
    case Kind::hardtanh:  // 1 where H = y (inside the bounds, which the op name does not carry), else 0
      return (h == x).template cast<T>();
    case Kind::relu6:  // 1 on (0, 6)
      return (x > T(0) && x < T(6)).template cast<T>();
    case Kind::hardsigmoid:  // 1/6 on (-3, 3)
      return (x > T(-3) && x < T(3)).template cast<T>() / T(6);
    case Kind::hardswish:  // 0 below -3, y/3 + 1/2 on [-3, 3], 1 above
      return (x < T(-3)).select(T(0), (x > T(3)).select(T(1), x / T(3) + T(0.5)));
    case Kind::selu: {  // scale (y>0), scale alpha e^y = H + scale alpha (y<=0)
      const T scale = T(1.0507009873554804934193349852946), scale_alpha = T(1.0507009873554804934193349852946 * 1.6732632423543772848170429916717);
      return (x > T(0)).select(scale, h + scale_alpha);
    }
    case Kind::celu:  // 1 (y>0), e^(y/alpha) = 1 + H/alpha (y<=0), for the lookup's alpha = 1
      return (x > T(0)).select(T(1), T(1) + h);
    case Kind::mish: {  // t + y (1-t^2) sigmoid(y), t = tanh(softplus(y))
      const Array<T> t = (x > T(20)).select(x, x.exp().log1p()).tanh();
      return t + x * (T(1) - t.square()) / (T(1) + (-x).exp());
    }
    case Kind::softsign:  // 1 / (1 + |y|)^2
      return (T(1) + x.abs()).square().inverse();
    case Kind::relu_squared:  // d/dy relu(y)^2 = 2 relu(y)
      return (x > T(0)).select(T(2) * x, T(0));
    case Kind::none:
      break;
  }
  return Array<T>::Constant(n, std::numeric_limits<T>::quiet_NaN());
}

}  // namespace

bool is_activation(std::string_view op) { return kind_of(op) != Kind::none; }

bool is_relu_like(std::string_view op) {
  const Kind k = kind_of(op);
  return k == Kind::relu || k == Kind::leaky_relu || k == Kind::elu || k == Kind::relu6 || k == Kind::selu ||
         k == Kind::celu || k == Kind::relu_squared;
}

std::string layer_name(std::string_view op, int call) { return fmt::format("{}#{}", op, call); }

template <class T>
ActivationStats activation_stats(std::string_view op, const TensorT<T>& input, const TensorT<T>& output,
                                 const ActivationThresholds& th) {
  const ConstArrayMap<T> x = input.values(), h = output.values();
  const Kind kind = kind_of(op);
  if (kind == Kind::none)
    fail<ValueError>("activation_stats: '{}' is not a known activation (see activation_names())", op);
  if (x.size() != h.size())
    fail<ShapeError>("activation_stats: {}: input has {} elements, output {}", op, x.size(), h.size());
  ActivationStats s;
  s.count = h.size();
  if (s.count == 0) {
    s.mean = s.std = s.saturated = s.mean_derivative = s.zero_fraction = kNaN;
    return s;
  }
  // Two passes for the moments: E[H^2] - E[H]^2 cancels badly for saturated layers.
  const double n = static_cast<double>(s.count);
  s.mean = detail::blocked_sum(h) / n;
  s.std = std::sqrt(detail::blocked_sum((h - static_cast<T>(s.mean)).square()) / n);

  const Array<T> d = local_derivative<T>(kind, x, h);
  s.mean_derivative = detail::blocked_sum(d) / n;
  Index saturated;
  if (kind == Kind::sigmoid)
    saturated = (h < T(th.sigmoid_low) || h > T(th.sigmoid_high)).count();
  else if (kind == Kind::centered_sigmoid)  // saturated where the sigmoid it shifts is
    saturated = (h < T(th.sigmoid_low - 0.5) || h > T(th.sigmoid_high - 0.5)).count();
  else if (kind == Kind::tanh)
    saturated = (h.abs() > T(th.tanh_abs)).count();
  else
    saturated = (d.abs() < T(th.derivative)).count();
  s.saturated = static_cast<double>(saturated) / n;
  s.zero_fraction = is_relu_like(op) ? static_cast<double>((h == T(0)).count()) / n : kNaN;
  return s;
}

template ActivationStats activation_stats<float>(std::string_view, const Tensor&, const Tensor&,
                                                 const ActivationThresholds&);
template ActivationStats activation_stats<double>(std::string_view, const Tensor64&, const Tensor64&,
                                                  const ActivationThresholds&);

}  // namespace ember::diag
