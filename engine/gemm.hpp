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
//
// With OpenBLAS (CMake option EMBER_BLAS, on when the library is found), a
// product whose shape passes blas_pays() goes to OpenBLAS's sgemm/dgemm
// instead, its threads set to the same count (engine/blas.cpp). The rule is
// fixed per shape, never timed at run time, and OpenBLAS partitions a
// product the same way at one thread count, so results still repeat bit for
// bit at a fixed thread count. The crossover table behind the rule is in
// docs/performance.md (bench/gemm_shapes prints it). The rule applies only
// where OpenBLAS's kernels for this CPU are at least as wide as the vectors
// Eigen was compiled for: on an AVX-512 CPU that OpenBLAS 0.3.21 runs with
// its AVX2 (Haswell) kernels, an AMD EPYC for one, Eigen measured faster on
// every shape, so there every product stays with Eigen.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <string>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember {

inline constexpr Eigen::Index kGemmPanel = 512;
inline constexpr Eigen::Index kGemmMinColumnsPerThread = 64;
inline constexpr double kGemmMinSplitWork = double(1 << 20);  // multiply-adds

// The BLAS rule (blas_pays, engine/blas.cpp), from bench/gemm_shapes on one
// thread: OpenBLAS for a row vector times a matrix, and for products with m
// and k of at least kBlasMinSide that are small (up to kBlasMaxSmallWork
// multiply-adds: Eigen's set-up dominates there) or have at least
// kBlasMinRows rows; Eigen's panels elsewhere (thin m or k, and the middle
// sizes with few rows, where Eigen measured as fast or faster).
inline constexpr Eigen::Index kBlasMinSide = 16;
inline constexpr double kBlasMaxSmallWork = double(1 << 20);
inline constexpr Eigen::Index kBlasMinRows = 256;

enum class Gemm { assign, add };

namespace detail {

inline bool omp_in_parallel_or_zero() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

// engine/blas.cpp: whether OpenBLAS is linked, the per-shape rule for
// C[m,n] = A[m,k]·B[k,n], and the call (C = op(A)·op(B) + beta C, each
// operand given by its storage as BLAS describes it).
bool blas_linked();
bool blas_pays(Eigen::Index m, Eigen::Index n, Eigen::Index k);
// The vector width of OpenBLAS's kernels on this CPU (0 when not linked) and
// their name, and the width Eigen was compiled for.
int blas_vector_bits();
std::string blas_core();
inline constexpr int eigen_vector_bits() {
  return int(Eigen::internal::packet_traits<float>::size) * 32;
}
void blas_gemm(bool row_major, bool trans_a, bool trans_b, Eigen::Index m, Eigen::Index n, Eigen::Index k,
               const float* a, Eigen::Index lda, const float* b, Eigen::Index ldb, float beta, float* c,
               Eigen::Index ldc);
void blas_gemm(bool row_major, bool trans_a, bool trans_b, Eigen::Index m, Eigen::Index n, Eigen::Index k,
               const double* a, Eigen::Index lda, const double* b, Eigen::Index ldb, double beta, double* c,
               Eigen::Index ldc);

template <class X>
inline constexpr bool kDirect = (std::decay_t<X>::Flags & Eigen::DirectAccessBit) != 0;

// True when the operands are float or double blocks of memory that BLAS can
// read as they are (unit inner stride).
template <class Dst, class Lhs, class Rhs>
bool blas_can_take(const Dst& c, const Lhs& a, const Rhs& b) {
  using S = typename std::decay_t<Dst>::Scalar;
  if constexpr ((std::is_same_v<S, float> || std::is_same_v<S, double>) &&
                std::is_same_v<S, typename std::decay_t<Lhs>::Scalar> &&
                std::is_same_v<S, typename std::decay_t<Rhs>::Scalar> && kDirect<Dst> && kDirect<Lhs> &&
                kDirect<Rhs>)
    return c.innerStride() == 1 && a.innerStride() == 1 && b.innerStride() == 1;
  else
    return false;
}

}  // namespace detail

// C = A·B or C += A·B through OpenBLAS, whatever the shape (gemm() decides
// when to call it; bench/gemm_shapes calls it directly). Needs
// detail::blas_can_take(c, a, b) and detail::blas_linked().
template <class Dst, class Lhs, class Rhs>
void gemm_blas(Dst&& c, const Lhs& a, const Rhs& b, Gemm how) {
  if constexpr (detail::kDirect<Dst> && detail::kDirect<Lhs> && detail::kDirect<Rhs>) {
    constexpr bool row = std::decay_t<Dst>::IsRowMajor;
    // In C's storage order, an operand stored the other way is transposed.
    constexpr bool trans_a = bool(std::decay_t<Lhs>::IsRowMajor) != row;
    constexpr bool trans_b = bool(std::decay_t<Rhs>::IsRowMajor) != row;
    // A one-row or one-column block reports the stride of its own layout;
    // BLAS wants the distance between its rows (or columns) as stored.
    auto ld = [](const auto& x, bool x_row) {
      const Eigen::Index inner = x_row ? x.cols() : x.rows();
      return std::max<Eigen::Index>({Eigen::Index(1), inner, x.outerStride()});
    };
    detail::blas_gemm(row, trans_a, trans_b, c.rows(), c.cols(), a.cols(), a.data(),
                      ld(a, std::decay_t<Lhs>::IsRowMajor), b.data(), ld(b, std::decay_t<Rhs>::IsRowMajor),
                      how == Gemm::assign ? 0 : 1, c.data(), ld(c, row));
  }
}

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
  if (detail::blas_linked() && detail::blas_pays(c.rows(), c.cols(), a.cols()) && detail::blas_can_take(c, a, b))
    return gemm_blas(c, a, b, how);
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
