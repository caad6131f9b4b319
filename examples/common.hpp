// What every example trainer shares: the command line (--out, --seed,
// --quick, --data, --check, --no-plots), the output folder, a tidy-CSV
// writer, terminal tables, a gnuplot runner that never fails the run, and the
// --check bookkeeping that CTest relies on.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace ember::examples {

namespace fs = std::filesystem;

struct Options {
  fs::path out;               // where CSVs and plots go; empty until prepare_run() picks the default
  std::string trainer;        // names the default folder: results/<trainer>/ (results/<trainer>-quick/ with --quick)
  fs::path data;              // folder holding breast_cancer.csv, digits.csv, ...
  std::uint64_t seed = 0;
  bool quick = false;         // a CI-sized run of a few seconds
  bool check = false;         // assert the documented CSVs and the science; exit 1 if not
  bool plots = true;          // render PNGs with gnuplot when it is installed
  int threads = 1;            // Eigen threads; the trainers' nets are too small to gain from more
};

// Adds the shared flags to `app`; `trainer` names the default output folder
// results/<trainer>/, or results/<trainer>-quick/ for a --quick run, so a
// quick run never overwrites a full run's CSVs and plots.
void add_common_options(CLI::App& app, Options& options, std::string_view trainer, std::uint64_t default_seed);

// Sets Eigen's thread count, resolves the default options.out (see
// add_common_options) and creates it (and parents); prints where results go.
void prepare_run(Options& options);

// The data set file `name` (e.g. "breast_cancer.csv") in options.data, or an
// error that says how to point --data at it.
fs::path data_file(const Options& options, std::string_view name);

// Tidy CSV: one header line, then one observation a line. Numbers are written
// with enough digits to read back the same float, and nothing else varies, so
// a fixed seed gives a byte-identical file.
class CsvWriter {
 public:
  CsvWriter(const fs::path& path, std::vector<std::string> header);
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  template <class... Cells>
  void row(const Cells&... cells) {
    if (sizeof...(Cells) != columns_) bad_row(sizeof...(Cells));
    file_ << line(cells...) << '\n';
  }
  // One row as text (what row() writes), to build rows elsewhere (a sweep
  // point on another rank) and write them later with write_line().
  template <class... Cells>
  static std::string line(const Cells&... cells) {
    std::string text;
    bool first = true;
    ((text += (first ? "" : ","), text += cell(cells), first = false), ...);
    return text;
  }
  void write_line(const std::string& text);  // checks the number of cells
  const fs::path& path() const { return path_; }
  // Flushes and closes the file (before a plot or a check reads it); the
  // destructor does the same.
  void close();

  static std::string cell(const std::string& s) { return s; }
  static std::string cell(std::string_view s) { return std::string(s); }
  static std::string cell(const char* s) { return s; }
  static std::string cell(double v);  // NaN -> empty cell (undefined value)
  static std::string cell(float v) { return cell(double(v)); }
  template <class I>
    requires std::is_integral_v<I>
  static std::string cell(I v) { return std::to_string(v); }

 private:
  [[noreturn]] void bad_row(std::size_t got) const;
  fs::path path_;
  std::size_t columns_;
  std::ofstream file_;
};

// A terminal table: the header, then rows of preformatted cells; columns are
// sized to fit, text left-aligned and numbers right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Whether `gnuplot` is an executable on PATH.
bool gnuplot_available();

// Writes `script` to <out>/<name>.gp and runs gnuplot on it inside <out> (so
// the script names CSVs and PNGs relative to the folder, and can be rerun by
// hand). Never fails the run: without gnuplot, or when it errors, prints what
// to do instead. Returns whether the plots were made.
bool render_plots(const Options& options, std::string_view name, std::string_view script);

// The gnuplot preamble every script starts with: PNG terminal, CSV input,
// readable fonts. `width`/`height` in pixels.
std::string gnuplot_preamble(int width = 900, int height = 600);

// --check bookkeeping: each expectation prints PASS/FAIL with a reason, and
// exit_code() is 1 when any failed.
class Checker {
 public:
  void expect(bool ok, std::string_view what);
  // The file exists and its first line is exactly `header`.
  void expect_csv_header(const fs::path& path, std::string_view header);
  int exit_code() const { return failures_ == 0 ? 0 : 1; }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

// Wall-clock seconds since construction.
class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// CPU seconds this thread has run since construction: unlike wall-clock
// time, it does not count time the thread waited while other processes ran,
// so it compares activations fairly on a busy machine.
class CpuStopwatch {
 public:
  CpuStopwatch() : start_(now()) {}
  double seconds() const { return now() - start_; }
  static double now();

 private:
  double start_;
};

// Number formatting for tables: "1.2e-08", "0.993", "-".
std::string sci(double v, int digits = 2);
std::string fixed(double v, int digits = 3);
std::string percent(double fraction, int digits = 1);

// Prints a section title underlined, for the terminal summary.
void heading(std::string_view title);

}  // namespace ember::examples
