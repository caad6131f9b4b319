#include "norm.hpp"

#include <fmt/format.h>

#include "../ops/arithmetic.hpp"
#include "../ops/math.hpp"
#include "../ops/reduction.hpp"
#include "../ops/shape.hpp"

namespace ember {

namespace {
// "(3, 4)" / "(512,)": a shape as PyTorch prints normalized_shape.
std::string tuple_text(const Shape& s) {
  std::string out = "(";
  for (int i = 0; i < s.rank(); ++i) out += fmt::format("{}{}", i ? ", " : "", s[i]);
  return out + (s.rank() == 1 ? ",)" : ")");
}
}  // namespace

// --- LayerNorm, RMSNorm -------------------------------------------------------------

template <class T>
LayerNormT<T>::LayerNormT(Shape normalized_shape, double eps, bool elementwise_affine)
    : shape_(normalized_shape), eps_(eps) {
  if (shape_.rank() == 0 || shape_.numel() <= 0)
    fail<ValueError>("LayerNorm: normalized_shape {} must have at least one dimension and elements", shape_.str());
  if (!(eps > 0)) fail<ValueError>("LayerNorm: eps must be > 0, got {}", eps);
  if (elementwise_affine) {
    weight = this->register_parameter("weight", TensorT<T>::ones(shape_));
    bias = this->register_parameter("bias", TensorT<T>::zeros(shape_));
  }
}

template <class T>
std::string LayerNormT<T>::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", tuple_text(shape_), eps_, weight.defined() ? "True" : "False");
}

template <class T>
RMSNormT<T>::RMSNormT(Shape normalized_shape, std::optional<double> eps, bool elementwise_affine)
    : shape_(normalized_shape), eps_(eps) {
  if (shape_.rank() == 0 || shape_.numel() <= 0)
    fail<ValueError>("RMSNorm: normalized_shape {} must have at least one dimension and elements", shape_.str());
  if (eps && !(*eps > 0)) fail<ValueError>("RMSNorm: eps must be > 0, got {}", *eps);
  if (elementwise_affine) weight = this->register_parameter("weight", TensorT<T>::ones(shape_));
}

template <class T>
std::string RMSNormT<T>::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", tuple_text(shape_),
                     eps_ ? fmt::format("{}", *eps_) : std::string("None"), weight.defined() ? "True" : "False");
}

// --- BatchNorm ----------------------------------------------------------------------

template <class T>
BatchNormT<T>::BatchNormT(const char* name, Index num_features, BatchNormOptions options, int rank_a, int rank_b)
    : name_(name), options_(options), rank_a_(rank_a), rank_b_(rank_b) {
  if (num_features <= 0) fail<ValueError>("{}: num_features must be positive, got {}", name, num_features);
  if (!(options.eps > 0)) fail<ValueError>("{}: eps must be > 0, got {}", name, options.eps);
  if (!(options.momentum >= 0 && options.momentum <= 1))
    fail<ValueError>("{}: momentum must be in [0, 1], got {}", name, options.momentum);
  if (options.affine) {
    weight = this->register_parameter("weight", TensorT<T>::ones({num_features}));
    bias = this->register_parameter("bias", TensorT<T>::zeros({num_features}));
  }
  running_mean = this->register_buffer("running_mean", TensorT<T>::zeros({num_features}));
  running_var = this->register_buffer("running_var", TensorT<T>::ones({num_features}));
  num_batches_tracked = this->register_buffer("num_batches_tracked", TensorT<T>::zeros(Shape{}));
}

template <class T>
TensorT<T> BatchNormT<T>::forward(const TensorT<T>& x) {
  const int r = x.rank();
  if (r != rank_a_ && r != rank_b_) {
    const std::string want = rank_a_ == rank_b_ ? fmt::format("rank {} [N, C, H, W]", rank_a_)
                                                : fmt::format("rank {} [N, C] or {} [N, C, L]", rank_a_, rank_b_);
    fail<ShapeError>("{}: input {} must be {}", name_, x.shape().str(), want);
  }
  const Index c = num_features();
  if (x.shape()[1] != c)
    fail<ShapeError>("{}: input {} has {} channels (axis 1), expected {}", name_, x.shape().str(), x.shape()[1], c);
  // Per-channel statistics broadcast as [1, C, 1, ...].
  Shape stat_shape = x.shape();
  for (int i = 0; i < r; ++i)
    if (i != 1) stat_shape[i] = 1;
  const T eps = static_cast<T>(options_.eps);
  TensorT<T> xhat;
  if (this->training()) {
    const Index n = x.numel() / c;
    if (n <= 1)
      fail<ValueError>("{}: input {} has {} value per channel; training needs more than 1", name_, x.shape().str(),
                       n);
    // Means over every axis but 1, innermost first (equal group sizes, so a
    // mean of means is the mean).
    const auto reduce = [&](TensorT<T> t) {
      for (int i = r - 1; i >= 0; --i)
        if (i != 1) t = mean(t, i, true);
      return t;
    };
    const TensorT<T> mu = reduce(x);
    const TensorT<T> xc = x - mu;
    const TensorT<T> var = reduce(xc * xc);  // biased, for normalizing
    xhat = xc * rsqrt(var + eps);
    // running = (1 - m) running + m batch, with the unbiased variance.
    const T m = static_cast<T>(options_.momentum), unbias = T(n) / T(n - 1);
    running_mean.values() = (T(1) - m) * std::as_const(running_mean).values() + m * std::as_const(mu).values();
    running_var.values() =
        (T(1) - m) * std::as_const(running_var).values() + m * unbias * std::as_const(var).values();
    num_batches_tracked.values() += T(1);
  } else {
    xhat = (x - reshape(std::as_const(running_mean).detach(), stat_shape)) *
           reshape(rsqrt(std::as_const(running_var).detach() + eps), stat_shape);
  }
  if (weight.defined()) xhat = xhat * reshape(weight, stat_shape) + reshape(bias, stat_shape);
  return xhat;
}

template <class T>
std::string BatchNormT<T>::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats=True", num_features(), options_.eps,
                     options_.momentum, weight.defined() ? "True" : "False");
}

template class LayerNormT<float>;
template class LayerNormT<double>;
template class RMSNormT<float>;
template class RMSNormT<double>;
template class BatchNormT<float>;
template class BatchNormT<double>;

}  // namespace ember
