// soak_csv: writes a large CSV, loads it with load_csv, and reports the peak
// resident memory against the file and the loaded data. Not part of the
// test suite (target soak_csv, built on request):
//   cmake --build --preset release --target soak_csv
//   build/release/tests/soak_csv /tmp/soak.csv 300      # about 300 MB
#include <ember/ember.hpp>
#include <fmt/format.h>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: soak_csv FILE MEGABYTES\n");
    return 2;
  }
  const std::string path = argv[1];
  const double target = std::atof(argv[2]) * 1e6;
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
      fmt::print(stderr, "soak_csv: cannot write {}\n", path);
      return 1;
    }
    ember::Generator gen(1);
    double written = 0;
    char line[512];
    while (written < target) {
      int n = 0;
      for (int c = 0; c < 16; ++c) n += std::snprintf(line + n, sizeof line - n, "%.6g,", gen.normal(0, 10));
      n += std::snprintf(line + n, sizeof line - n, "%d\n", static_cast<int>(gen.below(3)));
      std::fwrite(line, 1, static_cast<std::size_t>(n), f);
      written += n;
    }
    std::fclose(f);
  }
  const double before = peak_rss_bytes();
  const auto file_bytes = static_cast<double>(std::filesystem::file_size(path));
  const ember::Dataset d = ember::load_csv(path);
  const double peak = peak_rss_bytes();
  const double data = static_cast<double>(d.features.numel()) * sizeof(float) +
                      static_cast<double>(d.labels.size()) * sizeof(ember::Index);
  fmt::print("file {:.1f} MB, {} rows x {} features; loaded data {:.1f} MB (features + labels)\n", file_bytes / 1e6,
             d.size(), d.num_features(), data / 1e6);
  fmt::print("peak RSS {:.1f} MB (before loading {:.1f} MB): {:.2f}x the data, {:.2f}x the file\n", peak / 1e6,
             before / 1e6, peak / data, peak / file_bytes);
  return 0;
}
