// Optimizers (SGD, Adam, AdamW), learning-rate schedules and gradient
// clipping, with PyTorch's update rules and defaults.
//
// An optimizer holds handles to the parameters (the same nodes the model
// holds) and updates their values in place through Eigen maps. All state
// buffers are allocated when the optimizer is built, so step() allocates
// nothing. Parameters without a gradient (none reached them yet) are skipped,
// as in PyTorch.
//
//   SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
//   CosineAnnealingLR schedule(opt, epochs);
//   for (...) { opt.zero_grad(); loss.backward(); opt.step(); }  schedule.step() per epoch
#pragma once

#include <utility>
#include <vector>

#include "../engine/buffer.hpp"
#include "../engine/tensor.hpp"

namespace ember {

// What every optimizer has regardless of its scalar type: a learning rate
// (what schedules change), step() and zero_grad().
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual void zero_grad() = 0;  // sets existing gradients to zero, keeping their buffers
  double lr() const { return lr_; }
  void set_lr(double lr);  // ValueError when negative or NaN

 protected:
  Optimizer(const char* name, double lr);
  const char* name_;
  double lr_;
};

template <class T>
class OptimizerT : public Optimizer {
 public:
  const std::vector<TensorT<T>>& params() const { return params_; }
  void zero_grad() override;

 protected:
  // Checks that every parameter is a defined leaf and none appears twice.
  OptimizerT(const char* name, std::vector<TensorT<T>> params, double lr);
  std::vector<TensorT<T>> params_;
};

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // L2 penalty added to the gradient
  bool nesterov = false;    // needs momentum > 0 and dampening 0
};

// g = grad + wd·p; with momentum: buf = g on the first step, else
// buf = momentum·buf + (1-dampening)·g, and g = g + momentum·buf (Nesterov)
// or g = buf; then p -= lr·g.
template <class T>
class SGDT : public OptimizerT<T> {
 public:
  SGDT(std::vector<TensorT<T>> params, SGDOptions options = {});
  void step() override;
  const SGDOptions& options() const { return options_; }

 private:
  SGDOptions options_;
  std::vector<Buffer<T>> momentum_;  // one per parameter when momentum != 0
  std::vector<char> started_;        // the parameter's buffer holds a value
};

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;  // L2 penalty added to the gradient (Adam)
};
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p *= 1 - lr·wd before the Adam step
};

// Kingma & Ba: t += 1, m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
// p -= lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps), with g = grad + wd·p.
template <class T>
class AdamT : public OptimizerT<T> {
 public:
  AdamT(std::vector<TensorT<T>> params, AdamOptions options = {});
  void step() override;
  const AdamOptions& options() const { return options_; }

 protected:
  AdamT(const char* name, std::vector<TensorT<T>> params, AdamOptions options, bool decoupled);

 private:
  AdamOptions options_;
  bool decoupled_;
  std::vector<Buffer<T>> m_, v_;
  std::vector<Index> steps_;  // per parameter: steps that found a gradient
};

// Loshchilov & Hutter: Adam whose weight decay shrinks the weights directly
// (p *= 1 - lr·wd) instead of entering the gradient and the moments.
template <class T>
class AdamWT : public AdamT<T> {
 public:
  AdamWT(std::vector<TensorT<T>> params, AdamWOptions options = {});
};

using SGD = SGDT<float>;
using SGD64 = SGDT<double>;
using Adam = AdamT<float>;
using Adam64 = AdamT<double>;
using AdamW = AdamWT<float>;
using AdamW64 = AdamWT<double>;

// --- learning-rate schedules -----------------------------------------------
// Each holds the optimizer's learning rate at construction as base_lr and
// sets lr = lr_at(epoch) on every step(), as PyTorch's schedulers do (call
// step() once per epoch, after the optimizer's steps). The optimizer must
// outlive its schedule.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  void step();
  virtual double lr_at(int epoch) const = 0;
  int last_epoch() const { return last_epoch_; }
  double last_lr() const { return optimizer_->lr(); }
  double base_lr() const { return base_lr_; }

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  Optimizer* optimizer_;
  double base_lr_;
  int last_epoch_ = 0;
};

// lr = base_lr · gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int step_size, double gamma = 0.1);
  double lr_at(int epoch) const override;

 private:
  int step_size_;
  double gamma_;
};

// lr = eta_min + (base_lr - eta_min)·(1 + cos(π·epoch/t_max))/2: down to
// eta_min at epoch t_max (and, as in PyTorch, back up after it).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int t_max, double eta_min = 0);
  double lr_at(int epoch) const override;

 private:
  int t_max_;
  double eta_min_;
};

// Opt-in only (no optimizer clips by itself): scales all gradients by
// max_norm/(norm+1e-6) when their global L2 norm exceeds max_norm, as
// torch.nn.utils.clip_grad_norm_ does. Returns the norm before clipping
// (max_norm = infinity just measures it). A non-finite norm is returned and
// the gradients are left unchanged. Parameters without a gradient are skipped.
template <class T>
double clip_grad_norm(const std::vector<TensorT<T>>& params, double max_norm);

}  // namespace ember
