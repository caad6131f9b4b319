// Timing harness: warm-up, calibrated samples, interleaved repetitions of
// the implementations, medians; thread settings; JSON lines or a table.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace bench {

struct TimingOptions {
  double sample_ms = 2.0;   // each sample repeats the unit until about this long
  int repetitions = 11;     // samples per implementation, interleaved
  int warmup_samples = 1;
  double max_seconds = 6;   // cap per case (all implementations); cuts repetitions, never below 3
};

// One implementation of a case: `run` does one unit of work (a training
// step, a forward+backward of a chain, ...).
struct Impl {
  std::string name;
  std::function<void()> run;
};

struct Measurement {
  std::string impl;
  double median_us = 0;
  double min_us = 0;
  double thread_cpu_median_us = 0;  // CPU time of the timing thread: robust to other processes
  int repetitions = 0;
  long units_per_sample = 0;
  double allocs_per_unit = 0;  // heap allocations (malloc family) per unit
  double alloc_bytes_per_unit = 0;
};

// Times every implementation: calibration and warm-up each, then
// `repetitions` rounds, each round one sample of every implementation in turn
// (so drifting machine load hits all alike), then the median per unit. The
// allocation counts come from one extra counted sample outside the timing.
std::vector<Measurement> measure(std::vector<Impl>& impls, const TimingOptions& options);

// Sets the thread count of OpenMP, Eigen and (when linked) libtorch alike.
void set_threads(int threads);

// Results: one JSON object per line, or a table at the end.
// The columns every row has: workload, impl, threads, median_us, min_us,
// thread_cpu_us, reps; callers add their own.
nlohmann::ordered_json measurement_row(const std::string& workload, const Measurement& m, int threads);

class Report {
 public:
  explicit Report(bool json) : json_(json) {}
  // `row` has at least workload, impl, threads, median_us.
  void add(nlohmann::ordered_json row);
  void print_table() const;  // no-op in JSON mode

 private:
  bool json_;
  std::vector<nlohmann::ordered_json> rows_;
};

}  // namespace bench
