#include "harness.hpp"

#include <Eigen/Core>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

#include "alloc_count.hpp"
#include "workloads.hpp"

namespace bench {

nlohmann::ordered_json measurement_row(const std::string& workload, const Measurement& m, int threads) {
  nlohmann::ordered_json row;
  row["workload"] = workload;
  row["impl"] = m.impl;
  row["threads"] = threads;
  row["median_us"] = m.median_us;
  row["min_us"] = m.min_us;
  row["thread_cpu_us"] = m.thread_cpu_median_us;
  row["reps"] = m.repetitions;
  return row;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs `units` units and returns the seconds taken (steady clock); `cpu`
// receives the calling thread's CPU seconds, which exclude the time other
// processes held the core.
double sample(const Impl& impl, long units, double* cpu = nullptr) {
  const double c0 = cpu ? thread_cpu_seconds() : 0;
  const auto t0 = Clock::now();
  for (long i = 0; i < units; ++i) impl.run();
  const double wall = seconds_since(t0);
  if (cpu) *cpu = thread_cpu_seconds() - c0;
  return wall;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

std::vector<Measurement> measure(std::vector<Impl>& impls, const TimingOptions& options) {
  const std::size_t k = impls.size();
  std::vector<Measurement> out(k);
  std::vector<std::vector<double>> per_unit(k), cpu_per_unit(k);
  double round_seconds = 0;
  for (std::size_t i = 0; i < k; ++i) {
    out[i].impl = impls[i].name;
    // Calibrate: one unit (also the first warm-up), then grow the count until
    // a sample takes about sample_ms.
    double one = sample(impls[i], 1);
    long units = 1;
    while (one * units < options.sample_ms * 1e-3 && units < (1L << 24)) {
      units *= 2;
      one = std::min(one, sample(impls[i], units) / units);
    }
    units = std::max(1L, static_cast<long>(std::lround(options.sample_ms * 1e-3 / one)));
    out[i].units_per_sample = units;
    // A unit of 50 ms or more was warmed up by the calibration run itself.
    if (one < 0.05)
      for (int w = 0; w < options.warmup_samples; ++w) sample(impls[i], units);
    round_seconds += one * units;
    // Allocations: one counted sample, outside the timing.
    const AllocStats before = alloc_stats();
    set_alloc_counting(true);
    const long counted_units = std::min(units, 16L);
    sample(impls[i], counted_units);
    set_alloc_counting(false);
    const AllocStats d = alloc_stats() - before;
    out[i].allocs_per_unit = static_cast<double>(d.allocations) / static_cast<double>(counted_units);
    out[i].alloc_bytes_per_unit = static_cast<double>(d.bytes) / static_cast<double>(counted_units);
  }
  int reps = options.repetitions;
  if (round_seconds * reps > options.max_seconds)
    reps = std::max(3, static_cast<int>(options.max_seconds / std::max(round_seconds, 1e-9)));
  for (int r = 0; r < reps; ++r)
    for (std::size_t i = 0; i < k; ++i) {
      // Rotate the starting implementation so none always runs right after another.
      const std::size_t j = (i + static_cast<std::size_t>(r)) % k;
      const auto units = static_cast<double>(out[j].units_per_sample);
      // One untimed unit first: each implementation is timed in its own
      // steady state, not in the caches and allocator state the previous
      // implementation left behind.
      sample(impls[j], 1);
      double cpu = 0;
      per_unit[j].push_back(sample(impls[j], out[j].units_per_sample, &cpu) / units);
      cpu_per_unit[j].push_back(cpu / units);
    }
  for (std::size_t i = 0; i < k; ++i) {
    out[i].repetitions = reps;
    out[i].median_us = median(per_unit[i]) * 1e6;
    out[i].thread_cpu_median_us = median(cpu_per_unit[i]) * 1e6;
    out[i].min_us = *std::min_element(per_unit[i].begin(), per_unit[i].end()) * 1e6;
  }
  return out;
}

void set_threads(int threads) {
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
  torch_set_threads(threads);
}

// --- reporting -----------------------------------------------------------------

void Report::add(nlohmann::ordered_json row) {
  if (json_) {
    std::printf("%s\n", row.dump().c_str());
    std::fflush(stdout);
  }
  rows_.push_back(std::move(row));
}

namespace {

std::string case_label(const nlohmann::ordered_json& row) {
  std::string label = row["workload"].get<std::string>();
  if (row.contains("activation"))
    label = fmt::format("{} {} {}", row["activation"].get<std::string>(), row["pass"].get<std::string>(),
                        row["size_label"].get<std::string>());
  if (row.contains("op"))
    label = fmt::format("{} {} {}", row["op"].get<std::string>(), row["pass"].get<std::string>(),
                        row["size_label"].get<std::string>());
  return label;
}

std::string time_str(double us) {
  if (us >= 1e4) return fmt::format("{:.2f} ms", us / 1e3);
  if (us >= 100) return fmt::format("{:.0f} us", us);
  if (us >= 1) return fmt::format("{:.2f} us", us);
  return fmt::format("{:.0f} ns", us * 1e3);
}

std::string ratio_str(const std::map<std::string, double>& t, const char* a, const char* b) {
  if (!t.count(a) || !t.count(b) || t.at(b) <= 0) return "-";
  return fmt::format("{:.3f}", t.at(a) / t.at(b));
}

}  // namespace

// Columns: medians by the steady clock, their ratios, and the ratios of the
// timing thread's CPU time (which other processes on the machine inflate less).
void Report::print_table() const {
  if (json_) return;
  // Group rows by (case, threads), keeping first-seen order.
  std::vector<std::pair<std::string, int>> keys;
  std::map<std::pair<std::string, int>, std::map<std::string, double>> times, cpu;
  std::map<std::pair<std::string, int>, std::string> notes;
  for (const auto& row : rows_) {
    const std::pair<std::string, int> key{case_label(row), row["threads"].get<int>()};
    if (!times.count(key)) keys.push_back(key);
    // Chains of different lengths compare per node.
    const double per = row.contains("nodes") ? row["nodes"].get<double>() : 1.0;
    times[key][row["impl"].get<std::string>()] = row["median_us"].get<double>() / per;
    cpu[key][row["impl"].get<std::string>()] = row["thread_cpu_us"].get<double>() / per;
    if (row.contains("ns_per_node"))
      notes[key] += fmt::format("{}: {:.0f} ns/node, {:.0f} B/node live, {:.1f} allocs/node  ",
                                row["impl"].get<std::string>(), row["ns_per_node"].get<double>(),
                                row["bytes_per_node"].get<double>(), row["allocs_per_node"].get<double>());
    if (row.contains("ns_per_element"))
      notes[key] += fmt::format("{}: {:.3f} ns/elem  ", row["impl"].get<std::string>(),
                                row["ns_per_element"].get<double>());
    if (row.contains("weight_bytes"))  // ternary_matmul: the ternary kernel has no column of its own
      notes[key] += fmt::format("{}: {} us, {:.2f} MB  ", row["impl"].get<std::string>(),
                                fmt::format("{:.1f}", row["median_us"].get<double>()),
                                row["weight_bytes"].get<double>() / 1e6);
    if (row.contains("allocs_per_step"))
      notes[key] += fmt::format("{}{} {:.0f}", notes[key].empty() ? "allocs/step: " : ", ",
                                row["impl"].get<std::string>(), row["allocs_per_step"].get<double>());
  }
  std::printf("%-28s %3s %11s %11s %11s %11s %10s %11s %10s  %s\n", "workload", "thr", "hand", "ember", "libtorch",
              "ember/torch", "ember/hand", "(cpu) e/t", "(cpu) e/h", "notes");
  for (const auto& key : keys) {
    const auto& t = times[key];
    auto cell = [&](const char* impl) { return t.count(impl) ? time_str(t.at(impl)) : std::string("-"); };
    const auto& c = cpu[key];
    std::printf("%-28s %3d %11s %11s %11s %11s %10s %11s %10s  %s\n", key.first.c_str(), key.second,
                cell("hand").c_str(), cell("ember").c_str(), cell("libtorch").c_str(),
                ratio_str(t, "ember", "libtorch").c_str(), ratio_str(t, "ember", "hand").c_str(),
                ratio_str(c, "ember", "libtorch").c_str(), ratio_str(c, "ember", "hand").c_str(), notes[key].c_str());
  }
}

}  // namespace bench
