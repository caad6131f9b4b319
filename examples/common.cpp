#include "common.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <Eigen/Core>
#include <ember/ember.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include <time.h>
#include <unistd.h>

#ifndef EMBER_EXAMPLES_DATA_DIR
#define EMBER_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace ember::examples {

void add_common_options(CLI::App& app, Options& options, std::string_view trainer, std::uint64_t default_seed) {
  options.trainer = std::string(trainer);
  options.data = EMBER_EXAMPLES_DATA_DIR;
  options.seed = default_seed;
  app.add_option("--out", options.out,
                 fmt::format("Folder for the CSVs, gnuplot scripts and PNGs [default: results/{0}, or results/{0}-quick "
                             "with --quick]",
                             trainer));
  app.add_option("--data", options.data, "Folder holding the data sets (breast_cancer.csv, digits.csv)")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "Seed of every random choice (init, split, batch order)")
      ->capture_default_str();
  app.add_flag("--quick", options.quick, "A CI-sized run of a few seconds");
  app.add_flag("--check", options.check,
               "Assert the CSV headers and the expected science; exit with status 1 if any fails");
  app.add_flag("!--no-plots", options.plots, "Do not run gnuplot");
  app.add_option("--threads", options.threads,
                 "Threads for matrix products and large elementwise ops (more only slows these small nets, badly so on a busy machine)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
}

void prepare_run(Options& options) {
  if (options.out.empty()) options.out = fs::path("results") / (options.trainer + (options.quick ? "-quick" : ""));
  Eigen::setNbThreads(options.threads);
#ifdef _OPENMP
  omp_set_num_threads(options.threads);  // ember's own split of large elementwise ops and products
#endif
  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create output folder {}: {}", options.out.string(), ec.message()));
  // What the results' last bits depend on (engine/build_info.hpp); the pages
  // show it, and their freshness tests compare numbers only when it matches.
  std::ofstream(options.out / "arithmetic.txt") << ember::arithmetic() << '\n';
  fmt::print("results go to {}/\n", options.out.string());
}

fs::path data_file(const Options& options, std::string_view name) {
  fs::path path = options.data / std::string(name);
  if (!fs::exists(path))
    throw std::runtime_error(fmt::format("data set {} not found; point --data at the folder holding {} (ember ships "
                                         "it in examples/data/)",
                                         path.string(), name));
  return path;
}

// --- CSV ---------------------------------------------------------------------

CsvWriter::CsvWriter(const fs::path& path, std::vector<std::string> header)
    : path_(path), columns_(header.size()), file_(path) {
  if (!file_) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  std::string line;
  for (std::size_t i = 0; i < header.size(); ++i) line += (i ? "," : "") + header[i];
  file_ << line << '\n';
}

std::string CsvWriter::cell(double v) {
  if (std::isnan(v)) return "";
  return fmt::format("{}", v);  // shortest text that reads back as the same double
}

void CsvWriter::write_line(const std::string& text) {
  const std::size_t cells = static_cast<std::size_t>(std::count(text.begin(), text.end(), ',')) + 1;
  if (cells != columns_) bad_row(cells);
  file_ << text << '\n';
}

void CsvWriter::close() {
  if (!file_.is_open()) return;
  file_.close();
  if (!file_) throw std::runtime_error(fmt::format("writing {} failed", path_.string()));
}

void CsvWriter::bad_row(std::size_t got) const {
  throw std::logic_error(fmt::format("{}: row of {} cells, header has {}", path_.string(), got, columns_));
}

// --- tables ------------------------------------------------------------------

namespace {
bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  char c = s[0];
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || s == "nan" || s == "inf";
}
}  // namespace

void Table::print() const {
  std::vector<std::size_t> width(header_.size(), 0);
  for (std::size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto print_row = [&](const std::vector<std::string>& row, bool is_header) {
    std::string line;
    for (std::size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      bool right = !is_header && looks_numeric(cell);
      line += "  ";
      line += right ? fmt::format("{:>{}}", cell, width[c]) : fmt::format("{:<{}}", cell, width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  };
  print_row(header_, true);
  std::string rule = "  ";
  for (std::size_t c = 0; c < width.size(); ++c) rule += std::string(width[c], '-') + (c + 1 < width.size() ? "  " : "");
  fmt::print("{}\n", rule);
  for (const auto& row : rows_) print_row(row, false);
}

// --- gnuplot -----------------------------------------------------------------

bool gnuplot_available() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string_view rest(path);
  while (!rest.empty()) {
    auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    if (dir.empty()) dir = ".";
    fs::path candidate = fs::path(dir) / "gnuplot";
    if (::access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string gnuplot_preamble(int width, int height) {
  return fmt::format(
      "set terminal pngcairo size {},{} noenhanced font 'Sans,11'\n"
      "set datafile separator ','\n"
      "set datafile missing NaN\n"  // filtered-out rows do not break lines
      "set grid lc rgb '#dddddd'\n",
      width, height);
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
}  // namespace

bool render_plots(const Options& options, std::string_view name, std::string_view script) {
  fs::path script_path = options.out / (std::string(name) + ".gp");
  {
    std::ofstream f(script_path);
    f << script;
  }
  if (!options.plots) return false;
  if (!gnuplot_available()) {
    fmt::print(
        "plots: gnuplot is not installed, so no PNGs were drawn. To get them: `sudo apt-get install gnuplot-nox`, "
        "then rerun this command (or run `cd {} && gnuplot {}.gp`).\n",
        options.out.string(), name);
    return false;
  }
  std::string command = fmt::format("cd {} && gnuplot {} 2>&1", shell_quote(options.out.string()),
                                    shell_quote(std::string(name) + ".gp"));
  std::fflush(stdout);
  int status = std::system(command.c_str());
  if (status != 0) {
    fmt::print("plots: gnuplot failed on {} (status {}); the CSVs are complete, the PNGs may not be.\n",
               script_path.string(), status);
    return false;
  }
  return true;
}

// --- checks ------------------------------------------------------------------

void Checker::expect(bool ok, std::string_view what) {
  fmt::print("  {} {}\n", ok ? "PASS" : "FAIL", what);
  if (!ok) ++failures_;
}

void Checker::expect_csv_header(const fs::path& path, std::string_view header) {
  std::ifstream f(path);
  std::string first;
  if (!f || !std::getline(f, first)) {
    expect(false, fmt::format("{} exists and is readable", path.string()));
    return;
  }
  expect(first == header, fmt::format("{} has header `{}`{}", path.filename().string(), header,
                                      first == header ? "" : fmt::format(" (found `{}`)", first)));
}

double CpuStopwatch::now() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// --- formatting ----------------------------------------------------------------

std::string sci(double v, int digits) {
  if (std::isnan(v)) return "-";
  return fmt::format("{:.{}e}", v, digits - 1);
}
std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "-";
  return fmt::format("{:.{}f}", v, digits);
}
std::string percent(double fraction, int digits) {
  if (std::isnan(fraction)) return "-";
  return fmt::format("{:.{}f}%", 100.0 * fraction, digits);
}

void heading(std::string_view title) {
  fmt::print("\n{}\n{}\n", title, std::string(title.size(), '='));
}

}  // namespace ember::examples
