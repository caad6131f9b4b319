// Matrix products for ops: C = A·B or C += A·B through Eigen's GEMM, with
// the shared dimension fed in panels of at most kGemmPanel.
//
// Why panels: Eigen 3.4 chooses its cache blocking from the shapes, and for
// some shapes with a long shared dimension the choice halves its speed. On
// the AVX-512 machines ember is tuned on, [64x784]·[784x128] (the first
// layer of an MNIST MLP) takes as long in one call as [128x784]·[784x128]
// (twice the work), and half as long as two products of 392-long panels.
// Panels of at most 512 keep Eigen on its fast path and measured no slower
// on the other shapes tried (docs/performance.md).
//
// With several threads (Eigen::nbThreads(), which follows OpenMP's count
// unless set), a product with enough columns and work is split by output
// columns, each thread running Eigen's single-threaded GEMM on its block:
// for the shapes of small MLPs this uses two cores where Eigen's own
// threading barely gains (see docs/performance.md). Block edges fall on
// multiples of 16 columns. Products may round differently at different
// thread counts (each block's shape, and Eigen's own threading for the
// products not split here, change Eigen's cache blocking); at one thread
// count they repeat bit for bit.
#pragma once

#include <Eigen/Core>

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember {

inline constexpr Eigen::Index kGemmPanel = 512;
inline constexpr Eigen::Index kGemmMinColumnsPerThread = 64;
inline constexpr double kGemmMinSplitWork = double(1 << 20);  // multiply-adds

enum class Gemm { assign, add };

template <class Dst, class Lhs, class Rhs>
void gemm_panels(Dst&& c, const Lhs& a, const Rhs& b, Gemm how) {
  const Eigen::Index k = a.cols();
  const Eigen::Index panels = (k + kGemmPanel - 1) / kGemmPanel;
  if (panels <= 1) {
    if (how == Gemm::assign) c.noalias() = a * b;
    else c.noalias() += a * b;
    return;
  }
  for (Eigen::Index p = 0; p < panels; ++p) {
    const Eigen::Index begin = k * p / panels, len = k * (p + 1) / panels - begin;
    if (p == 0 && how == Gemm::assign) c.noalias() = a.middleCols(begin, len) * b.middleRows(begin, len);
    else c.noalias() += a.middleCols(begin, len) * b.middleRows(begin, len);
  }
}

template <class Dst, class Lhs, class Rhs>
void gemm(Dst&& c, const Lhs& a, const Rhs& b, Gemm how) {
#ifdef _OPENMP
  const Eigen::Index n = c.cols();
  const double work = double(c.rows()) * double(n) * double(a.cols());
  if (work >= kGemmMinSplitWork && !omp_in_parallel()) {
    const int threads = static_cast<int>(std::min<Eigen::Index>(Eigen::nbThreads(), n / kGemmMinColumnsPerThread));
    if (threads > 1) {
      // Inside the parallel region Eigen's GEMM runs single-threaded.
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int t = 0; t < threads; ++t) {
        const Eigen::Index begin = n * t / threads / 16 * 16;
        const Eigen::Index end = t + 1 == threads ? n : n * (t + 1) / threads / 16 * 16;
        gemm_panels(c.middleCols(begin, end - begin), a, b.middleCols(begin, end - begin), how);
      }
      return;
    }
  }
#endif
  gemm_panels(c, a, b, how);
}

}  // namespace ember
