// How the ember library itself was compiled, for programs (and tests) that
// want to know whether they linked an optimized, CPU-tuned build.
#pragma once

#include <string>

namespace ember {

struct BuildInfo {
  bool optimized;  // compiled with optimization (-O1 or higher)
  bool asserts;    // NDEBUG was not defined: Eigen's bounds checks are on
  bool native;     // tuned for the build machine's CPU (-march=native)
  bool openmp;     // OpenMP threads for large products and elementwise ops
};

// Describes the compilation of the library's own sources, not the caller's.
BuildInfo build_info();

// What decides the last bits of ember's floating-point results on this
// machine, as one line: the compiler, the vector instruction sets Eigen was
// compiled for, and which library takes the matrix products. Two builds with
// the same line give the same bits at a fixed thread count; builds that
// differ here may round differently (a sum over 16 lanes is not a sum over
// 8). The example trainers write it next to their results, and the question
// pages' freshness tests compare numbers only between equal lines.
std::string arithmetic();

}  // namespace ember
