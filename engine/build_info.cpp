#include "build_info.hpp"

namespace ember {

BuildInfo build_info() {
  BuildInfo info{};
#ifdef __OPTIMIZE__
  info.optimized = true;
#endif
#ifndef NDEBUG
  info.asserts = true;
#endif
#ifdef EMBER_NATIVE_CPU
  info.native = true;
#endif
#ifdef _OPENMP
  info.openmp = true;
#endif
  return info;
}

}  // namespace ember
