// What the question trainers (Q1, Q2) share to feed their pages: a spread
// over seeds (min, median, max), Markdown tables written next to the CSVs, a
// summary.json the page templates read (scripts/render_docs.py), and a
// deterministic parallel map over independent runs.
#pragma once

#include "common.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace ember::examples {

// min / median / max of one measurement over seeds; NaNs are left out and
// counted as missing (a diverged run, a target never reached).
struct Spread {
  double min = 0, median = 0, max = 0;
  int count = 0, missing = 0;
  static Spread of(const std::vector<double>& values);
  bool empty() const { return count == 0; }
  nlohmann::json json() const;
  // "0.12" when min == max in that format, else "0.10–0.15"; "-" when empty.
  std::string text(std::string (*format)(double)) const;
};

std::string fmt_sci(double v);      // 1.2e-08
std::string fmt_percent(double v);  // 97.4%
std::string fmt_2(double v);        // 0.24
std::string fmt_int(double v);      // 2477

// A GitHub Markdown table, written to a file a page template inlines.
class MarkdownTable {
 public:
  explicit MarkdownTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string text() const;
  void write(const fs::path& path) const;  // the text, ending in a newline

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Writes `summary` to `path`, indented, numbers as JSON numbers (NaN and
// infinities become null).
void write_summary(const fs::path& path, const nlohmann::json& summary);

// Runs job(i) for i in [0, n) on `threads` threads and returns the results in
// index order: each job owns its generators, so the output does not depend
// on the thread count or the scheduling. The first exception is rethrown.
template <class R>
std::vector<R> parallel_map(std::size_t n, int threads, const std::function<R(std::size_t)>& job) {
  std::vector<R> results(n);
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (std::size_t i; !failed && (i = next++) < n;) {
      try {
        results[i] = job(i);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return results;
}

// The default worker count: the machine's cores (at least 1).
int default_jobs();

}  // namespace ember::examples
