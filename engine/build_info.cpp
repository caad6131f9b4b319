#include "build_info.hpp"

#include <fmt/format.h>

#include <Eigen/Core>

#include "gemm.hpp"

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

std::string arithmetic() {
#if defined(__clang__)
  const std::string compiler = fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  const std::string compiler = fmt::format("g++ {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  const std::string compiler = "unknown compiler";
#endif
  // blas_vector_bits() is 0 without OpenBLAS; blas_pays() sends nothing to a
  // library whose kernels are narrower than Eigen's vectors.
  const std::string gemm = detail::blas_linked() && detail::blas_vector_bits() >= detail::eigen_vector_bits()
                               ? fmt::format("OpenBLAS {} above the crossover, Eigen below", detail::blas_core())
                               : std::string("Eigen");
  return fmt::format("{}; SIMD {}; GEMM {}", compiler, Eigen::SimdInstructionSetsInUse(), gemm);
}

}  // namespace ember
