// OpenBLAS behind engine/gemm.hpp: the calls, the thread count and the
// per-shape rule. Compiled with EMBER_HAVE_BLAS only when CMake found
// OpenBLAS (option EMBER_BLAS); otherwise every product stays with Eigen.
#include "gemm.hpp"

#include <string>

#ifdef EMBER_HAVE_BLAS
#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <string>

// The CBLAS entry points, declared here so that no cblas.h (netlib's or
// OpenBLAS's, whichever the system selects) is needed. Debian's libopenblas
// uses 32-bit integers; the enums are C ints.
extern "C" {
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
void cblas_dgemm(int order, int trans_a, int trans_b, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc);
void openblas_set_num_threads(int threads);
char* openblas_get_corename(void);
}
#endif

namespace ember::detail {

using Eigen::Index;

#ifdef EMBER_HAVE_BLAS

bool blas_linked() { return true; }

int blas_vector_bits() {
  // OpenBLAS picks its kernels for the CPU at load time (DYNAMIC_ARCH) and
  // names them; the width is what its sgemm kernels use.
  static const int bits = [] {
    std::string core = openblas_get_corename();
    std::transform(core.begin(), core.end(), core.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char* wide : {"skylakex", "cooperlake", "sapphirerapids"})
      if (core.find(wide) != std::string::npos) return 512;
    for (const char* avx : {"haswell", "zen", "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"})
      if (core.find(avx) != std::string::npos) return 256;
    return 128;
  }();
  return bits;
}

std::string blas_core() { return openblas_get_corename(); }

bool blas_pays(Index m, Index n, Index k) {
  // The rule and the measurements behind it: gemm.hpp, docs/performance.md.
  if (blas_vector_bits() < eigen_vector_bits()) return false;
  if (std::max({m, n, k}) >= INT_MAX) return false;
  const double work = double(m) * double(n) * double(k);
  const bool shape = m == 1 || std::min(m, k) >= kBlasMinSide;
  return n >= 1 && k >= 1 && shape && (work <= kBlasMaxSmallWork || m >= kBlasMinRows);
}

namespace {

// OpenBLAS's threads follow ember's setting (Eigen::nbThreads(), which
// follows OpenMP's count unless set); inside a parallel region, one thread.
void follow_threads() {
  static std::atomic<int> current{-1};
  const int threads = omp_in_parallel_or_zero() ? 1 : Eigen::nbThreads();
  if (current.load(std::memory_order_relaxed) != threads) {
    openblas_set_num_threads(threads);
    current.store(threads, std::memory_order_relaxed);
  }
}

constexpr int kRowMajor = 101, kColMajor = 102, kNoTrans = 111, kTrans = 112;

}  // namespace

void blas_gemm(bool row_major, bool trans_a, bool trans_b, Index m, Index n, Index k, const float* a, Index lda,
               const float* b, Index ldb, float beta, float* c, Index ldc) {
  follow_threads();
  cblas_sgemm(row_major ? kRowMajor : kColMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, int(m),
              int(n), int(k), 1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
void blas_gemm(bool row_major, bool trans_a, bool trans_b, Index m, Index n, Index k, const double* a, Index lda,
               const double* b, Index ldb, double beta, double* c, Index ldc) {
  follow_threads();
  cblas_dgemm(row_major ? kRowMajor : kColMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, int(m),
              int(n), int(k), 1.0, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

#else

bool blas_linked() { return false; }
int blas_vector_bits() { return 0; }
std::string blas_core() { return ""; }
bool blas_pays(Index, Index, Index) { return false; }
void blas_gemm(bool, bool, bool, Index, Index, Index, const float*, Index, const float*, Index, float, float*, Index) {}
void blas_gemm(bool, bool, bool, Index, Index, Index, const double*, Index, const double*, Index, double, double*,
               Index) {}

#endif

}  // namespace ember::detail
