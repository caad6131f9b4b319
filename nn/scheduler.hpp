// Learning-rate schedules, with PyTorch's formulas (torch.optim.lr_scheduler)
// and their state for resuming training.
//
// An epoch schedule (LRScheduler) holds the optimizer's initial lr as
// base_lr and sets lr = lr_at(epoch) at construction (epoch 0) and on every
// step(), in closed form, as PyTorch's schedulers do: call step() once per
// epoch (per batch for OneCycleLR), after the optimizer's steps.
// ReduceLROnPlateau instead reacts to a measured metric: step(val_loss).
// The optimizer must outlive its schedule.
//
//   LinearLR warmup(opt, 0.1, 1.0, 5);           // or, composed:
//   auto w = std::make_shared<LinearLR>(opt, 0.1, 1.0, 5);
//   auto c = std::make_shared<CosineAnnealingLR>(opt, 95);
//   SequentialLR schedule(opt, {w, c}, {5});      // warmup 5 epochs, then cosine
//
// state_dict() gives a schedule's state as named scalars: its settings
// (step_size, gamma, ...; a resumed schedule must have been built with the
// same ones) and its progress (last_epoch, base_lr, and for
// ReduceLROnPlateau best, num_bad_epochs, cooldown_counter), which
// load_state_dict() restores. A LambdaLR's function is the caller's: only
// its progress is saved. The lr itself lives in the optimizer's state.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "optim.hpp"

namespace ember {

struct SchedulerState {
  std::string kind;  // "StepLR", ..., "SequentialLR(LinearLR, CosineAnnealingLR)"
  StateScalars scalars;
};

// What every schedule has: an optimizer, an epoch count, and its state.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::string kind() const = 0;
  int last_epoch() const { return last_epoch_; }
  double last_lr() const { return optimizer_->lr(); }
  Optimizer& optimizer() const { return *optimizer_; }

  SchedulerState state_dict() const;
  // Restores the progress. The state must be of the same kind with the same
  // settings; any difference is a one-line ValueError naming it, and nothing
  // is changed unless everything fits. Does not touch the optimizer's lr.
  void load_state_dict(const SchedulerState& state);
  void check_state_dict(const SchedulerState& state) const;  // the checks alone

  // Used by SequentialLR to nest its children's scalars under "<i>.".
  virtual void settings(StateScalars& out, const std::string& prefix) const = 0;
  virtual void progress(StateScalars& out, const std::string& prefix) const;
  virtual void check_progress(const StateScalars& in, const std::string& prefix, const std::string& where) const;
  virtual void set_progress(const StateScalars& in, const std::string& prefix);

 protected:
  explicit Scheduler(Optimizer& optimizer) : optimizer_(&optimizer) {}
  Optimizer* optimizer_;
  int last_epoch_ = 0;
};

// A schedule given in closed form by lr_at(epoch).
class LRScheduler : public Scheduler {
 public:
  void step();  // lr = lr_at(last_epoch + 1); an lr_at error leaves everything as it was
  virtual double lr_at(int epoch) const = 0;
  double base_lr() const { return base_lr_; }

  void progress(StateScalars& out, const std::string& prefix) const override;
  void check_progress(const StateScalars& in, const std::string& prefix, const std::string& where) const override;
  void set_progress(const StateScalars& in, const std::string& prefix) override;

 protected:
  // base_lr is the optimizer's initial_lr(): the lr when the first schedule
  // was attached to it.
  explicit LRScheduler(Optimizer& optimizer);
  void start() { optimizer_->set_lr(lr_at(0)); }  // derived constructors end with this
  double base_lr_;
};

// lr = base_lr · gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int step_size, double gamma = 0.1);
  double lr_at(int epoch) const override;
  std::string kind() const override { return "StepLR"; }
  void settings(StateScalars& out, const std::string& prefix) const override;

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
  std::string kind() const override { return "CosineAnnealingLR"; }
  void settings(StateScalars& out, const std::string& prefix) const override;

 private:
  int t_max_;
  double eta_min_;
};

// Linear warmup (or decay) of the factor:
// lr = base_lr · (start + (end - start)·min(epoch, total_iters)/total_iters).
// start_factor in (0, 1], end_factor in [0, 1], total_iters > 0.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, int total_iters = 5);
  double lr_at(int epoch) const override;
  std::string kind() const override { return "LinearLR"; }
  void settings(StateScalars& out, const std::string& prefix) const override;

 private:
  double start_factor_, end_factor_;
  int total_iters_;
};

// lr = base_lr · factor(epoch), factor the caller's function; a factor that
// is negative or not finite is a ValueError naming the epoch.
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int)> factor);
  double lr_at(int epoch) const override;
  std::string kind() const override { return "LambdaLR"; }
  void settings(StateScalars&, const std::string&) const override {}

 private:
  std::function<double(int)> factor_;
};

struct OneCycleOptions {
  double pct_start = 0.3;           // fraction of the steps spent rising
  bool cos_anneal = true;           // false: linear
  double div_factor = 25;           // initial lr = max_lr / div_factor
  double final_div_factor = 1e4;    // min lr = initial lr / final_div_factor
  bool three_phase = false;         // rise, fall back to the initial lr, then anneal to the min lr
};

// Smith's 1cycle policy, stepped once per batch for total_steps steps:
// from max_lr/div_factor up to max_lr over the first pct_start·total_steps - 1
// steps, then down to the min lr at step total_steps - 1 (PyTorch's phase
// boundaries; with three_phase the descent returns to the initial lr at
// 2·pct_start·total_steps - 2 and anneals to the min lr after it). Sets the
// optimizer's lr (and base_lr) to max_lr/div_factor at construction; a step
// past total_steps is a ValueError. Momentum is not cycled (PyTorch's
// cycle_momentum=False).
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, int total_steps, OneCycleOptions options = {});
  double lr_at(int step) const override;
  std::string kind() const override { return "OneCycleLR"; }
  void settings(StateScalars& out, const std::string& prefix) const override;

 private:
  struct Phase {
    double end_step, start_lr, end_lr;
  };
  double max_lr_;
  int total_steps_;
  OneCycleOptions options_;
  std::vector<Phase> phases_;
};

// Runs schedules one after another: schedules[i] takes over at epoch
// milestones[i-1] and runs from its own epoch 0 (PyTorch's SequentialLR,
// e.g. warmup then cosine). The children are built on the same optimizer
// and only read through lr_at (do not step them yourself); their base_lr is
// the optimizer's initial lr, whatever the earlier ones set.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedules, std::vector<int> milestones);
  double lr_at(int epoch) const override;
  std::string kind() const override;
  void settings(StateScalars& out, const std::string& prefix) const override;
  void progress(StateScalars& out, const std::string& prefix) const override;
  void check_progress(const StateScalars& in, const std::string& prefix, const std::string& where) const override;
  void set_progress(const StateScalars& in, const std::string& prefix) override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedules_;
  std::vector<int> milestones_;
};

struct PlateauOptions {
  bool maximize = false;           // mode "max": a larger metric is better
  double factor = 0.1;             // new lr = max(lr·factor, min_lr), factor in [0, 1)
  int patience = 10;               // bad epochs tolerated before reducing
  double threshold = 1e-4;         // how much better counts as better
  bool relative_threshold = true;  // "rel": best·(1 ∓ threshold); false, "abs": best ∓ threshold
  int cooldown = 0;                // epochs after a reduction during which bad epochs are not counted
  double min_lr = 0;
  double eps = 1e-8;               // a reduction smaller than this is skipped
};

// Lowers the lr by `factor` when the metric passed to step() has not
// improved for more than `patience` epochs (PyTorch's ReduceLROnPlateau).
// A NaN metric is never an improvement.
class ReduceLROnPlateau : public Scheduler {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options = {});
  void step(double metric);
  std::string kind() const override { return "ReduceLROnPlateau"; }
  double best() const { return best_; }
  int num_bad_epochs() const { return num_bad_epochs_; }
  int cooldown_counter() const { return cooldown_counter_; }

  void settings(StateScalars& out, const std::string& prefix) const override;
  void progress(StateScalars& out, const std::string& prefix) const override;
  void check_progress(const StateScalars& in, const std::string& prefix, const std::string& where) const override;
  void set_progress(const StateScalars& in, const std::string& prefix) override;

 private:
  bool better(double metric) const;
  PlateauOptions options_;
  double best_;
  int num_bad_epochs_ = 0, cooldown_counter_ = 0;
};

}  // namespace ember
