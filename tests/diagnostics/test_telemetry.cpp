// Telemetry: tidy rows, CSV that reads back, the terminal table.
#include <ember/ember.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

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
