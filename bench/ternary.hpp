// The ternary_matmul workload group of ember_bench (ternary.cpp).
#pragma once

#include "harness.hpp"

namespace bench {

void run_ternary(int threads, const TimingOptions& timing, Report& report);

}  // namespace bench
