// How the ember library itself was compiled, for programs (and tests) that
// want to know whether they linked an optimized, CPU-tuned build.
#pragma once

namespace ember {

struct BuildInfo {
  bool optimized;  // compiled with optimization (-O1 or higher)
  bool asserts;    // NDEBUG was not defined: Eigen's bounds checks are on
  bool native;     // tuned for the build machine's CPU (-march=native)
  bool openmp;     // OpenMP threads for large products and elementwise ops
};

// Describes the compilation of the library's own sources, not the caller's.
BuildInfo build_info();

}  // namespace ember
