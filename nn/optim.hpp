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

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../engine/buffer.hpp"
#include "../engine/tensor.hpp"

namespace ember {

// An optimizer's state as plain data, for checkpoints (io/training_state.hpp
// writes it to one file with the model). Names follow PyTorch's state_dict:
//   scalars  "lr", the hyperparameters ("momentum", "beta1", ...),
//            "num_params", and for Adam/AdamW "<i>.step" per parameter
//   tensors  SGD: "<i>.momentum_buffer" (parameters whose buffer holds a value);
//            Adam/AdamW: "<i>.exp_avg", "<i>.exp_avg_sq" for every parameter
// where <i> is the parameter's position in the optimizer's list.
using StateScalars = std::map<std::string, double>;

template <class T>
struct OptimizerState {
  std::string kind;  // "SGD", "Adam" or "AdamW"
  StateScalars scalars;
  std::vector<std::pair<std::string, TensorT<T>>> tensors;
};

// What every optimizer has regardless of its scalar type: a learning rate
// (what schedules change), step() and zero_grad().
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual void zero_grad() = 0;  // sets existing gradients to zero, keeping their buffers
  double lr() const { return lr_; }
  void set_lr(double lr);  // ValueError when negative or NaN
  const char* kind() const { return name_; }
  // The lr the first schedule attached to this optimizer found (PyTorch's
  // "initial_lr"): later schedules on the same optimizer start from it too,
  // so a warmup that lowers the lr at construction does not lower the next
  // schedule's base. Before any schedule, the current lr.
  double initial_lr() const { return initial_lr_ >= 0 ? initial_lr_ : lr_; }
  void set_initial_lr_once(double lr) {
    if (initial_lr_ < 0) initial_lr_ = lr;
  }

 protected:
  Optimizer(const char* name, double lr);
  const char* name_;
  double lr_;
  double initial_lr_ = -1;  // unset
};

template <class T>
class OptimizerT : public Optimizer {
 public:
  const std::vector<TensorT<T>>& params() const { return params_; }
  void zero_grad() override;

  // The state as named tensors (copies) and scalars; see OptimizerState.
  virtual OptimizerState<T> state_dict() const = 0;
  // Restores the lr, the buffers and the step counts. The state must come
  // from an optimizer of the same kind over parameters of the same shapes,
  // with the same hyperparameters other than lr (those are the caller's
  // construction, not progress); any difference is a ValueError of one line
  // naming it, and nothing is changed unless everything fits.
  void load_state_dict(const OptimizerState<T>& state);
  // The checks of load_state_dict alone.
  virtual void check_state_dict(const OptimizerState<T>& state) const = 0;

 protected:
  // Checks that every parameter is a defined leaf and none appears twice.
  OptimizerT(const char* name, std::vector<TensorT<T>> params, double lr);
  virtual void restore(const OptimizerState<T>& state) = 0;  // after check_state_dict passed
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
  OptimizerState<T> state_dict() const override;
  void check_state_dict(const OptimizerState<T>& state) const override;

 private:
  void restore(const OptimizerState<T>& state) override;
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
  OptimizerState<T> state_dict() const override;
  void check_state_dict(const OptimizerState<T>& state) const override;

 protected:
  AdamT(const char* name, std::vector<TensorT<T>> params, AdamOptions options, bool decoupled);

 private:
  void restore(const OptimizerState<T>& state) override;
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

// Opt-in only (no optimizer clips by itself): scales all gradients by
// max_norm/(norm+1e-6) when their global L2 norm exceeds max_norm, as
// torch.nn.utils.clip_grad_norm_ does. Returns the norm before clipping
// (max_norm = infinity just measures it). A non-finite norm is returned and
// the gradients are left unchanged. Parameters without a gradient are skipped.
template <class T>
double clip_grad_norm(const std::vector<TensorT<T>>& params, double max_norm);

}  // namespace ember

#include "scheduler.hpp"  // the learning-rate schedules, which users reach through this header
