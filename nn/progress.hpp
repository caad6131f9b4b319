// Progress: the training loop's status display.
//
// On a terminal it keeps one live line updated in place (epoch, step, running
// loss, samples/s, ETA); otherwise (a file, a pipe, CI) it writes a plain line
// every `log_seconds`. Both print one summary line per epoch. step() costs a
// clock read and a comparison; drawing is throttled by time.
//
//   Progress progress(epochs, batches_per_epoch);
//   for (int e = 0; e < epochs; ++e) {
//     for (auto& batch : loader) { ...; progress.step(loss.item(), batch_size); }
//     progress.end_epoch({{"test_acc", accuracy}});
//   }
#pragma once

#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "../engine/shape.hpp"

namespace ember {

struct ProgressOptions {
  bool quiet = false;            // print nothing (statistics are still kept)
  std::ostream* out = nullptr;   // default std::cerr
  std::optional<bool> live;      // live line on/off; default: whether `out` is a terminal
  double refresh_seconds = 0.1;  // live-line redraw interval
  double log_seconds = 10;       // plain-line interval when not live (0: after every step)
  std::function<double()> clock; // seconds, monotonic; default std::chrono::steady_clock
};

class Progress {
 public:
  // steps_per_epoch = 0 means unknown: it is learned from the first epoch
  // (no step total and no ETA until then).
  explicit Progress(int epochs, Index steps_per_epoch = 0, ProgressOptions options = {});
  ~Progress();  // calls finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // After each training step: its (mean) loss and how many samples it saw.
  void step(double loss, Index samples = 1);
  // After each epoch: prints the summary line with optional metrics.
  void end_epoch(std::initializer_list<std::pair<std::string_view, double>> metrics = {});
  // Prints a message on its own line without garbling the live line.
  void write_line(std::string_view text);
  // Ends a pending live line with a newline. Idempotent.
  void finish();

  int epoch() const { return epoch_; }  // 1-based, the epoch in progress
  Index epoch_step() const { return epoch_steps_; }
  double epoch_loss() const;            // sample-weighted mean loss of this epoch so far
  double samples_per_second() const;    // over this epoch so far
  bool live() const { return live_; }
  std::string status_line() const;      // what the live line shows now

 private:
  double now() const;
  void draw(double t);
  std::string eta(double t) const;

  ProgressOptions options_;
  std::ostream* out_;
  bool live_;
  int epochs_;
  Index steps_per_epoch_;
  int epoch_ = 1;
  Index epoch_steps_ = 0, total_steps_ = 0, epoch_samples_ = 0;
  double epoch_loss_sum_ = 0;
  double start_time_, epoch_start_, last_draw_;
  bool line_pending_ = false;  // a live line without its newline is on screen
};

}  // namespace ember
