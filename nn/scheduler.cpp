// Epoch schedules in closed form and the state every schedule saves
// (OneCycleLR and ReduceLROnPlateau are in scheduler_more.cpp).
#include "scheduler.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numbers>

#include "../engine/error.hpp"

namespace ember {

namespace {

std::string quoted(std::string_view s) { return quote_text(s, 80); }

double scalar_at(const StateScalars& in, const std::string& key, const std::string& where) {
  const auto it = in.find(key);
  if (it == in.end()) fail<ValueError>("{}: the state lacks the scalar {}", where, quoted(key));
  return it->second;
}

}  // namespace

// --- Scheduler ---------------------------------------------------------------

SchedulerState Scheduler::state_dict() const {
  SchedulerState state{kind(), {}};
  settings(state.scalars, "");
  progress(state.scalars, "");
  return state;
}

void Scheduler::check_state_dict(const SchedulerState& state) const {
  const std::string where = fmt::format("{}.load_state_dict", kind());
  if (state.kind != kind()) fail<ValueError>("{}: the state is from {}, not {}", where, quoted(state.kind), kind());
  StateScalars ours, ours_progress;
  settings(ours, "");
  progress(ours_progress, "");
  for (const auto& [key, value] : state.scalars)
    if (!ours.count(key) && !ours_progress.count(key))
      fail<ValueError>("{}: the state has the unexpected scalar {}", where, quoted(key));
  for (const auto& [key, value] : ours_progress) (void)scalar_at(state.scalars, key, where);
  for (const auto& [key, value] : ours) {
    const double theirs = scalar_at(state.scalars, key, where);
    if (!(theirs == value)) fail<ValueError>("{}: {} is {} in the state, {} in this schedule", where, key, theirs, value);
  }
  check_progress(state.scalars, "", where);
}

void Scheduler::load_state_dict(const SchedulerState& state) {
  check_state_dict(state);
  set_progress(state.scalars, "");
}

void Scheduler::progress(StateScalars& out, const std::string& prefix) const {
  out[prefix + "last_epoch"] = last_epoch_;
}

void Scheduler::check_progress(const StateScalars& in, const std::string& prefix, const std::string& where) const {
  const double epoch = scalar_at(in, prefix + "last_epoch", where);
  if (!(epoch >= 0 && epoch <= INT_MAX && epoch == std::floor(epoch)))
    fail<ValueError>("{}: {}last_epoch is {}, not an epoch count", where, prefix, epoch);
}

void Scheduler::set_progress(const StateScalars& in, const std::string& prefix) {
  last_epoch_ = static_cast<int>(in.at(prefix + "last_epoch"));
}

// --- LRScheduler ---------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer) : Scheduler(optimizer) {
  optimizer.set_initial_lr_once(optimizer.lr());
  base_lr_ = optimizer.initial_lr();
}

void LRScheduler::step() {
  const double lr = lr_at(last_epoch_ + 1);
  optimizer_->set_lr(lr);
  ++last_epoch_;
}

void LRScheduler::progress(StateScalars& out, const std::string& prefix) const {
  Scheduler::progress(out, prefix);
  out[prefix + "base_lr"] = base_lr_;
}

void LRScheduler::check_progress(const StateScalars& in, const std::string& prefix, const std::string& where) const {
  Scheduler::check_progress(in, prefix, where);
  const double base = scalar_at(in, prefix + "base_lr", where);
  if (!(base >= 0 && std::isfinite(base)))
    fail<ValueError>("{}: {}base_lr is {}, not a finite non-negative lr", where, prefix, base);
}

void LRScheduler::set_progress(const StateScalars& in, const std::string& prefix) {
  Scheduler::set_progress(in, prefix);
  base_lr_ = in.at(prefix + "base_lr");
}

// --- StepLR, CosineAnnealingLR, LinearLR, LambdaLR -------------------------------

StepLR::StepLR(Optimizer& optimizer, int step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) fail<ValueError>("StepLR: step_size must be positive, got {}", step_size);
  if (!(gamma >= 0)) fail<ValueError>("StepLR: gamma must be >= 0, got {}", gamma);
  start();
}

double StepLR::lr_at(int epoch) const { return base_lr_ * std::pow(gamma_, epoch / step_size_); }

void StepLR::settings(StateScalars& out, const std::string& prefix) const {
  out[prefix + "step_size"] = step_size_;
  out[prefix + "gamma"] = gamma_;
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  if (t_max <= 0) fail<ValueError>("CosineAnnealingLR: t_max must be positive, got {}", t_max);
  if (!(eta_min >= 0)) fail<ValueError>("CosineAnnealingLR: eta_min must be >= 0, got {}", eta_min);
  start();
}

double CosineAnnealingLR::lr_at(int epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(phase)) / 2;
}

void CosineAnnealingLR::settings(StateScalars& out, const std::string& prefix) const {
  out[prefix + "t_max"] = t_max_;
  out[prefix + "eta_min"] = eta_min_;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, int total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  if (!(start_factor > 0 && start_factor <= 1))
    fail<ValueError>("LinearLR: start_factor must be in (0, 1], got {}", start_factor);
  if (!(end_factor >= 0 && end_factor <= 1))
    fail<ValueError>("LinearLR: end_factor must be in [0, 1], got {}", end_factor);
  if (total_iters <= 0) fail<ValueError>("LinearLR: total_iters must be positive, got {}", total_iters);
  start();
}

double LinearLR::lr_at(int epoch) const {
  const double done = static_cast<double>(std::min(epoch, total_iters_)) / static_cast<double>(total_iters_);
  return base_lr_ * (start_factor_ + (end_factor_ - start_factor_) * done);
}

void LinearLR::settings(StateScalars& out, const std::string& prefix) const {
  out[prefix + "start_factor"] = start_factor_;
  out[prefix + "end_factor"] = end_factor_;
  out[prefix + "total_iters"] = total_iters_;
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int)> factor)
    : LRScheduler(optimizer), factor_(std::move(factor)) {
  if (!factor_) fail<ValueError>("LambdaLR: the factor function is empty");
  start();
}

double LambdaLR::lr_at(int epoch) const {
  const double f = factor_(epoch);
  if (!(f >= 0 && std::isfinite(f)))
    fail<ValueError>("LambdaLR: the factor function gave {} at epoch {}; it must be finite and >= 0", f, epoch);
  return base_lr_ * f;
}

// --- SequentialLR ----------------------------------------------------------------

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedules,
                           std::vector<int> milestones)
    : LRScheduler(optimizer), schedules_(std::move(schedules)), milestones_(std::move(milestones)) {
  if (schedules_.empty()) fail<ValueError>("SequentialLR: no schedules given");
  for (std::size_t i = 0; i < schedules_.size(); ++i) {
    if (!schedules_[i]) fail<ValueError>("SequentialLR: schedule {} is null", i);
    if (&schedules_[i]->optimizer() != &optimizer)
      fail<ValueError>("SequentialLR: schedule {} ({}) drives another optimizer", i, schedules_[i]->kind());
  }
  if (milestones_.size() + 1 != schedules_.size())
    fail<ValueError>("SequentialLR: {} schedules need {} milestones, got {}", schedules_.size(),
                     schedules_.size() - 1, milestones_.size());
  for (std::size_t i = 0; i < milestones_.size(); ++i)
    if (milestones_[i] <= (i ? milestones_[i - 1] : 0))
      fail<ValueError>("SequentialLR: milestones must be positive and increasing, got {} after {}", milestones_[i],
                       i ? milestones_[i - 1] : 0);
  start();
}

double SequentialLR::lr_at(int epoch) const {
  const auto i = static_cast<std::size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), epoch) -
                                          milestones_.begin());
  return schedules_[i]->lr_at(epoch - (i ? milestones_[i - 1] : 0));
}

std::string SequentialLR::kind() const {
  std::string s = "SequentialLR(";
  for (std::size_t i = 0; i < schedules_.size(); ++i) s += (i ? ", " : "") + schedules_[i]->kind();
  return s + ")";
}

void SequentialLR::settings(StateScalars& out, const std::string& prefix) const {
  for (std::size_t i = 0; i < milestones_.size(); ++i) out[fmt::format("{}milestone.{}", prefix, i)] = milestones_[i];
  for (std::size_t i = 0; i < schedules_.size(); ++i) schedules_[i]->settings(out, fmt::format("{}{}.", prefix, i));
}

void SequentialLR::progress(StateScalars& out, const std::string& prefix) const {
  LRScheduler::progress(out, prefix);
  for (std::size_t i = 0; i < schedules_.size(); ++i) schedules_[i]->progress(out, fmt::format("{}{}.", prefix, i));
}

void SequentialLR::check_progress(const StateScalars& in, const std::string& prefix, const std::string& where) const {
  LRScheduler::check_progress(in, prefix, where);
  for (std::size_t i = 0; i < schedules_.size(); ++i)
    schedules_[i]->check_progress(in, fmt::format("{}{}.", prefix, i), where);
}

void SequentialLR::set_progress(const StateScalars& in, const std::string& prefix) {
  LRScheduler::set_progress(in, prefix);
  for (std::size_t i = 0; i < schedules_.size(); ++i) schedules_[i]->set_progress(in, fmt::format("{}{}.", prefix, i));
}

}  // namespace ember
