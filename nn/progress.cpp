#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>

#include "../engine/error.hpp"

namespace ember {

namespace {

bool is_terminal(const std::ostream* out) {
  if (out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  if (out == &std::cerr || out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  return false;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

Progress::Progress(int epochs, Index steps_per_epoch, ProgressOptions options)
    : options_(std::move(options)), epochs_(epochs), steps_per_epoch_(steps_per_epoch) {
  if (epochs <= 0) fail<ValueError>("Progress: epochs must be positive, got {}", epochs);
  if (steps_per_epoch < 0) fail<ValueError>("Progress: steps_per_epoch must be >= 0, got {}", steps_per_epoch);
  if (!(options_.refresh_seconds >= 0 && options_.log_seconds >= 0))
    fail<ValueError>("Progress: refresh_seconds and log_seconds must be >= 0, got {} and {}", options_.refresh_seconds,
                     options_.log_seconds);
  out_ = options_.out ? options_.out : &std::cerr;
  live_ = !options_.quiet && options_.live.value_or(is_terminal(out_));
  start_time_ = epoch_start_ = last_draw_ = now();
}

Progress::~Progress() { finish(); }

double Progress::now() const { return options_.clock ? options_.clock() : steady_seconds(); }

void Progress::step(double loss, Index samples) {
  ++epoch_steps_;
  ++total_steps_;
  epoch_samples_ += samples;
  epoch_loss_sum_ += loss * static_cast<double>(samples);
  if (options_.quiet) return;
  const double t = now();
  if (t - last_draw_ >= (live_ ? options_.refresh_seconds : options_.log_seconds)) draw(t);
}

double Progress::epoch_loss() const {
  return epoch_samples_ ? epoch_loss_sum_ / static_cast<double>(epoch_samples_) : std::nan("");
}

double Progress::samples_per_second() const {
  const double dt = now() - epoch_start_;
  return dt > 0 ? static_cast<double>(epoch_samples_) / dt : 0.0;
}

std::string Progress::eta(double t) const {
  if (steps_per_epoch_ <= 0 || total_steps_ == 0) return "?";
  const double total = static_cast<double>(steps_per_epoch_) * epochs_;
  const double per_step = (t - start_time_) / static_cast<double>(total_steps_);
  return duration(per_step * std::max(0.0, total - static_cast<double>(total_steps_)));
}

std::string Progress::status_line() const {
  const double t = now();
  std::string steps = steps_per_epoch_ > 0 ? fmt::format("{}/{}", epoch_steps_, steps_per_epoch_)
                                           : fmt::format("{}", epoch_steps_);
  const double dt = t - epoch_start_;
  const double rate = dt > 0 ? static_cast<double>(epoch_samples_) / dt : 0.0;
  return fmt::format("epoch {}/{}  step {}  loss {:.4g}  {:.0f} samples/s  ETA {}", epoch_, epochs_, steps,
                     epoch_loss(), rate, eta(t));
}

void Progress::draw(double t) {
  last_draw_ = t;
  if (live_) {
    *out_ << '\r' << status_line() << "\x1b[K" << std::flush;
    line_pending_ = true;
  } else {
    *out_ << status_line() << '\n' << std::flush;
  }
}

void Progress::end_epoch(std::initializer_list<std::pair<std::string_view, double>> metrics) {
  const double t = now();
  if (!options_.quiet) {
    std::string line = fmt::format("epoch {}/{}  loss {:.4g}", epoch_, epochs_, epoch_loss());
    for (const auto& [name, value] : metrics) line += fmt::format("  {} {:.4g}", name, value);
    const double dt = t - epoch_start_;
    line += fmt::format("  {:.2f}s  {:.0f} samples/s", dt, dt > 0 ? static_cast<double>(epoch_samples_) / dt : 0.0);
    write_line(line);
  }
  if (steps_per_epoch_ <= 0) steps_per_epoch_ = epoch_steps_;
  ++epoch_;
  epoch_steps_ = epoch_samples_ = 0;
  epoch_loss_sum_ = 0;
  epoch_start_ = last_draw_ = t;
}

void Progress::write_line(std::string_view text) {
  if (options_.quiet) return;
  if (line_pending_) *out_ << "\r\x1b[K";
  line_pending_ = false;
  *out_ << text << '\n' << std::flush;
}

void Progress::finish() {
  if (line_pending_) *out_ << '\n' << std::flush;
  line_pending_ = false;
}

}  // namespace ember
