// Telemetry: tidy rows, CSV that reads back, the terminal table.
#include <ember/ember.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <malloc.h>

#include "../test_helpers.hpp"

using namespace ember;
using namespace ember::diag;

TEST_CASE("Telemetry: rows, lookups and series") {
  Telemetry t;
  t.add(0, "relu#0", "mean", 0.5);
  t.add(0, "relu#0", "zeros", 0.25);
  t.add(1, "relu#0", "mean", 0.75);
  t.add(1, "relu#0", "mean", 0.8);  // a re-logged value: the last one counts in lookups
  REQUIRE(t.size() == 4);
  CHECK(t.row(1).layer == "relu#0");
  CHECK(t.row(1).metric == "zeros");
  CHECK(t.row(1).value == 0.25);
  CHECK(t.value(1, "relu#0", "mean") == 0.8);
  CHECK_FALSE(t.value(1, "relu#0", "zeros").has_value());
  CHECK_FALSE(t.value(0, "nope", "mean").has_value());
  CHECK(t.series("relu#0", "mean").size() == 3);
  CHECK(t.last_step() == 1);
  t.clear();
  CHECK(t.size() == 0);
  CHECK_FALSE(t.last_step().has_value());
  CHECK(t.table().empty());
}

TEST_CASE("Telemetry: CSV is tidy, quotes only when needed, and round-trips values") {
  Telemetry t;
  t.add(3, "layers.0", "grad_norm", 0.1);
  t.add(3, "odd,\"name\"", "m", 1e-30);
  t.add(4, "x", "v", std::nan(""));
  CHECK(t.csv() ==
        "step,layer,metric,value\n"
        "3,layers.0,grad_norm,0.1\n"
        "3,\"odd,\"\"name\"\"\",m,1e-30\n"
        "4,x,v,nan\n");
  const std::string path = "telemetry_test_out.csv";
  t.write_csv(path);
  std::ifstream f(path);
  std::stringstream read;
  read << f.rdbuf();
  CHECK(read.str() == t.csv());
  std::remove(path.c_str());
  CHECK_THROWS_WITH_SUBSTR(t.write_csv("/nonexistent-dir/t.csv"), IoError, "write: cannot open '/nonexistent-dir/t.csv'");
}

TEST_CASE("Telemetry: the table of one step groups layers that share metrics and aligns columns") {
  Telemetry t;
  t.add(0, "old", "mean", 9);
  t.add(2, "sigmoid#0", "mean", 0.5);
  t.add(2, "sigmoid#0", "saturated", 0.125);
  t.add(2, "layers.0", "grad_norm", 1.5e-7);
  t.add(2, "sigmoid#1", "mean", 0.25);
  t.add(2, "sigmoid#1", "saturated", 1);
  CHECK(t.table() ==
        "step 2\n"
        "layer      mean  saturated\n"
        "sigmoid#0   0.5      0.125\n"
        "sigmoid#1  0.25          1\n"
        "layer     grad_norm\n"
        "layers.0    1.5e-07\n");
  CHECK(t.table(0) == "step 0\nlayer  mean\nold       9\n");
  CHECK(t.table(1).empty());
}

namespace {

// Heap bytes in use (glibc), for the memory per row.
std::size_t heap_in_use() { return mallinfo2().uordblks; }

// Logs `steps` steps of 25 rows, as a 25-layer monitor would.
void log_steps(Telemetry& t, std::int64_t steps) {
  static const std::vector<std::string> layers = [] {
    std::vector<std::string> v;
    for (int l = 0; l < 25; ++l) v.push_back("layer" + std::to_string(l));
    return v;
  }();
  for (std::int64_t s = 0; s < steps; ++s)
    for (const auto& l : layers) t.add(s, l, "mean", 0.5);
}

}  // namespace

// The figures in docs/diagnostics.md come from this test:
//   build/release/tests/test_telemetry -tc="*bytes per row*" -s
// The heap statistics mean nothing under AddressSanitizer (its allocator
// keeps its own books), so the asan build skips this case.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kHeapStatistics = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kHeapStatistics = false;
#else
constexpr bool kHeapStatistics = true;
#endif
#else
constexpr bool kHeapStatistics = true;
#endif

TEST_CASE("Telemetry: bytes per row, all rows kept or only the last N steps" * doctest::skip(!kHeapStatistics)) {
  const std::size_t before = heap_in_use();
  {
    Telemetry all;
    log_steps(all, 40000);  // 10^6 rows
    CHECK(all.size() == 1000000);
    const double per_row = static_cast<double>(heap_in_use() - before) / 1e6;
    MESSAGE("default mode: ", per_row, " bytes per row");
    CHECK(per_row >= 24);  // a row is 24 bytes
    CHECK(per_row < 32);   // deque blocks: no doubling slack
  }
  const std::size_t start = heap_in_use();
  Telemetry ring(100);
  log_steps(ring, 40000);
  CHECK(ring.size() == 2500);  // the last 100 steps of 25 rows
  CHECK(ring.value(39999, "layer3", "mean") == 0.5);
  CHECK_FALSE(ring.value(39899, "layer3", "mean").has_value());  // dropped
  CHECK(ring.value(39900, "layer3", "mean").has_value());
  const double bytes = static_cast<double>(heap_in_use() - start);
  MESSAGE("keep_steps = 100: ", bytes, " bytes in all for 10^6 rows logged");
  CHECK(bytes < 2500 * 32 + 16384);  // 2500 rows plus the names, whatever the run's length
  ring.clear();
  CHECK(ring.keep_steps() == 100);
}

TEST_CASE("FlowMonitor: MonitorOptions::keep_steps bounds the telemetry to the last steps") {
  diag::MonitorOptions options;
  options.keep_steps = 2;
  diag::FlowMonitor<float> monitor(options);
  auto x = Tensor::ones({2, 3});
  for (std::int64_t step = 0; step < 5; ++step) {
    auto watch = monitor.watch(step);
    (void)sum(relu(x));
  }
  const auto& t = monitor.telemetry();
  REQUIRE(t.size() > 0);
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(t.row(i).step >= 3);
  CHECK(t.row(t.size() - 1).step == 4);
}
