// OneCycleLR and ReduceLROnPlateau, with PyTorch's formulas.
#include <cmath>
#include <climits>
#include <limits>
#include <numbers>

#include "../engine/error.hpp"
#include "scheduler.hpp"

namespace ember {

namespace {

double scalar_at(const StateScalars& in, const std::string& key, const std::string& where) {
  const auto it = in.find(key);
  if (it == in.end()) fail<ValueError>("{}: the state lacks the scalar {}", where, quote_text(key, 80));
  return it->second;
}

void check_count(const StateScalars& in, const std::string& key, const std::string& where) {
  const double v = scalar_at(in, key, where);
  if (!(v >= 0 && v <= INT_MAX && v == std::floor(v))) fail<ValueError>("{}: {} is {}, not a count", where, key, v);
}

}  // namespace

// --- OneCycleLR --------------------------------------------------------------------

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int total_steps, OneCycleOptions options)
    : LRScheduler(optimizer), max_lr_(max_lr), total_steps_(total_steps), options_(options) {
  if (!(max_lr > 0 && std::isfinite(max_lr))) fail<ValueError>("OneCycleLR: max_lr must be positive, got {}", max_lr);
  if (total_steps <= 0) fail<ValueError>("OneCycleLR: total_steps must be positive, got {}", total_steps);
  const double pct = options.pct_start;
  if (!(pct >= 0 && pct <= 1)) fail<ValueError>("OneCycleLR: pct_start must be in [0, 1], got {}", pct);
  if (!(options.div_factor > 0 && std::isfinite(options.div_factor)))
    fail<ValueError>("OneCycleLR: div_factor must be positive, got {}", options.div_factor);
  if (!(options.final_div_factor > 0 && std::isfinite(options.final_div_factor)))
    fail<ValueError>("OneCycleLR: final_div_factor must be positive, got {}", options.final_div_factor);
  const double initial = max_lr / options.div_factor, min_lr = initial / options.final_div_factor;
  const double total = total_steps, rise_end = pct * total - 1;
  if (options.three_phase)
    phases_ = {{rise_end, initial, max_lr}, {2 * pct * total - 2, max_lr, initial}, {total - 1, initial, min_lr}};
  else
    phases_ = {{rise_end, initial, max_lr}, {total - 1, max_lr, min_lr}};
  // A phase of no steps would divide by zero in lr_at.
  double start_step = 0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    if (!(phases_[i].end_step > start_step))
      fail<ValueError>("OneCycleLR: phase {} ends at step {}, not after step {} (pct_start {} of {} steps)", i + 1,
                       phases_[i].end_step, start_step, pct, total_steps);
    start_step = phases_[i].end_step;
  }
  // As PyTorch, the cycle's initial lr replaces the optimizer's as the base.
  base_lr_ = initial;
  start();
}

double OneCycleLR::lr_at(int step) const {
  if (step < 0 || step > total_steps_)
    fail<ValueError>("OneCycleLR: step {} is outside the cycle of total_steps {}", step, total_steps_);
  double start_step = 0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const Phase& p = phases_[i];
    if (step <= p.end_step || i + 1 == phases_.size()) {
      const double pct = (step - start_step) / (p.end_step - start_step);
      if (options_.cos_anneal) return p.end_lr + (p.start_lr - p.end_lr) / 2 * (std::cos(std::numbers::pi * pct) + 1);
      return (p.end_lr - p.start_lr) * pct + p.start_lr;
    }
    start_step = p.end_step;
  }
  return phases_.back().end_lr;  // not reached
}

void OneCycleLR::settings(StateScalars& out, const std::string& prefix) const {
  out[prefix + "max_lr"] = max_lr_;
  out[prefix + "total_steps"] = total_steps_;
  out[prefix + "pct_start"] = options_.pct_start;
  out[prefix + "cos_anneal"] = options_.cos_anneal ? 1 : 0;
  out[prefix + "div_factor"] = options_.div_factor;
  out[prefix + "final_div_factor"] = options_.final_div_factor;
  out[prefix + "three_phase"] = options_.three_phase ? 1 : 0;
}

// --- ReduceLROnPlateau ---------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options)
    : Scheduler(optimizer), options_(options) {
  if (!(options.factor >= 0 && options.factor < 1))
    fail<ValueError>("ReduceLROnPlateau: factor must be in [0, 1), got {}", options.factor);
  if (options.patience < 0) fail<ValueError>("ReduceLROnPlateau: patience must be >= 0, got {}", options.patience);
  if (options.cooldown < 0) fail<ValueError>("ReduceLROnPlateau: cooldown must be >= 0, got {}", options.cooldown);
  if (!(options.threshold >= 0))
    fail<ValueError>("ReduceLROnPlateau: threshold must be >= 0, got {}", options.threshold);
  if (!(options.min_lr >= 0)) fail<ValueError>("ReduceLROnPlateau: min_lr must be >= 0, got {}", options.min_lr);
  if (!(options.eps >= 0)) fail<ValueError>("ReduceLROnPlateau: eps must be >= 0, got {}", options.eps);
  best_ = options.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::better(double a) const {
  const double t = options_.threshold;
  if (!options_.maximize) return options_.relative_threshold ? a < best_ * (1 - t) : a < best_ - t;
  return options_.relative_threshold ? a > best_ * (1 + t) : a > best_ + t;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    const double old_lr = optimizer_->lr(), new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    if (old_lr - new_lr > options_.eps) optimizer_->set_lr(new_lr);
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
}

void ReduceLROnPlateau::settings(StateScalars& out, const std::string& prefix) const {
  out[prefix + "maximize"] = options_.maximize ? 1 : 0;
  out[prefix + "factor"] = options_.factor;
  out[prefix + "patience"] = options_.patience;
  out[prefix + "threshold"] = options_.threshold;
  out[prefix + "relative_threshold"] = options_.relative_threshold ? 1 : 0;
  out[prefix + "cooldown"] = options_.cooldown;
  out[prefix + "min_lr"] = options_.min_lr;
  out[prefix + "eps"] = options_.eps;
}

void ReduceLROnPlateau::progress(StateScalars& out, const std::string& prefix) const {
  Scheduler::progress(out, prefix);
  out[prefix + "best"] = best_;
  out[prefix + "num_bad_epochs"] = num_bad_epochs_;
  out[prefix + "cooldown_counter"] = cooldown_counter_;
}

void ReduceLROnPlateau::check_progress(const StateScalars& in, const std::string& prefix,
                                       const std::string& where) const {
  Scheduler::check_progress(in, prefix, where);
  const double best = scalar_at(in, prefix + "best", where);
  if (std::isnan(best)) fail<ValueError>("{}: {}best is NaN", where, prefix);
  check_count(in, prefix + "num_bad_epochs", where);
  check_count(in, prefix + "cooldown_counter", where);
}

void ReduceLROnPlateau::set_progress(const StateScalars& in, const std::string& prefix) {
  Scheduler::set_progress(in, prefix);
  best_ = in.at(prefix + "best");
  num_bad_epochs_ = static_cast<int>(in.at(prefix + "num_bad_epochs"));
  cooldown_counter_ = static_cast<int>(in.at(prefix + "cooldown_counter"));
}

}  // namespace ember
