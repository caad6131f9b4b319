// Normalization layers: LayerNorm, RMSNorm (fused ops from
// ops/normalization.hpp) and BatchNorm1d / BatchNorm2d (composed of ember
// ops, with running statistics as buffers). Names are torch.nn's: weight,
// bias, running_mean, running_var, num_batches_tracked.
#pragma once

#include <optional>
#include <string>

#include "../ops/normalization.hpp"
#include "module.hpp"

namespace ember {

// torch.nn.LayerNorm: layer_norm over the trailing normalized_shape axes;
// with elementwise_affine, weight (ones) and bias (zeros) of that shape.
template <class T>
class LayerNormT : public ModuleT<T> {
 public:
  explicit LayerNormT(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  explicit LayerNormT(Index dim, double eps = 1e-5, bool elementwise_affine = true)
      : LayerNormT(Shape{dim}, eps, elementwise_affine) {}
  TensorT<T> forward(const TensorT<T>& x) override { return layer_norm(x, shape_, weight, bias, eps_); }
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  TensorT<T> weight, bias;  // undefined without elementwise_affine

 private:
  Shape shape_;
  double eps_;
};

// torch.nn.RMSNorm: rms_norm over the trailing axes, weight (ones) with
// elementwise_affine; eps defaults to T's machine epsilon, as in PyTorch.
template <class T>
class RMSNormT : public ModuleT<T> {
 public:
  explicit RMSNormT(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true);
  explicit RMSNormT(Index dim, std::optional<double> eps = std::nullopt, bool elementwise_affine = true)
      : RMSNormT(Shape{dim}, eps, elementwise_affine) {}
  TensorT<T> forward(const TensorT<T>& x) override { return rms_norm(x, shape_, weight, eps_); }
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;

  TensorT<T> weight;  // undefined without elementwise_affine

 private:
  Shape shape_;
  std::optional<double> eps_;
};

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 - momentum) running + momentum batch
  bool affine = true;     // learnable weight (ones) and bias (zeros)
};

// Batch normalization over every axis but the channel axis 1, as
// torch.nn.BatchNorm1d ([N, C] or [N, C, L]) and BatchNorm2d ([N, C, H, W]).
// In train(): normalizes with the batch's mean and biased variance, and
// updates running_mean / running_var with the batch mean and the unbiased
// variance (n/(n-1), n values per channel), counting num_batches_tracked;
// a batch with one value per channel is a ValueError (its variance is
// undefined). In eval(): normalizes with the running statistics.
template <class T>
class BatchNormT : public ModuleT<T> {
 public:
  TensorT<T> forward(const TensorT<T>& x) override;
  Index num_features() const { return running_mean.numel(); }
  std::string type_name() const override { return name_; }
  std::string extra_repr() const override;

  TensorT<T> weight, bias;                // [C], undefined without affine
  TensorT<T> running_mean, running_var;   // [C] buffers, start at 0 and 1
  TensorT<T> num_batches_tracked;         // rank-0 buffer (int64 in PyTorch)

 protected:
  BatchNormT(const char* name, Index num_features, BatchNormOptions options, int rank_a, int rank_b);

 private:
  const char* name_;
  BatchNormOptions options_;
  int rank_a_, rank_b_;  // the input ranks accepted
};

template <class T>
class BatchNorm1dT : public BatchNormT<T> {
 public:
  explicit BatchNorm1dT(Index num_features, BatchNormOptions options = {})
      : BatchNormT<T>("BatchNorm1d", num_features, options, 2, 3) {}
};

template <class T>
class BatchNorm2dT : public BatchNormT<T> {
 public:
  explicit BatchNorm2dT(Index num_features, BatchNormOptions options = {})
      : BatchNormT<T>("BatchNorm2d", num_features, options, 4, 4) {}
};

using LayerNorm = LayerNormT<float>;
using LayerNorm64 = LayerNormT<double>;
using RMSNorm = RMSNormT<float>;
using RMSNorm64 = RMSNormT<double>;
using BatchNorm1d = BatchNorm1dT<float>;
using BatchNorm1d64 = BatchNorm1dT<double>;
using BatchNorm2d = BatchNorm2dT<float>;
using BatchNorm2d64 = BatchNorm2dT<double>;

extern template class LayerNormT<float>;
extern template class LayerNormT<double>;
extern template class RMSNormT<float>;
extern template class RMSNormT<double>;
extern template class BatchNormT<float>;
extern template class BatchNormT<double>;

}  // namespace ember
