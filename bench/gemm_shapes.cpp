// gemm_shapes: one product C[m,n] = A[m,k]·B[k,n] (row-major float) timed
// three ways on one thread, median of 15 samples each, interleaved: Eigen's
// GEMM called once, ember's Eigen path (engine/gemm.hpp's panels) and
// OpenBLAS (gemm_blas, when linked); the last column says which one gemm()
// picks for the shape. The evidence for the panels and for the BLAS rule
// (docs/performance.md):
//   build/bench/bench/gemm_shapes
#include <Eigen/Core>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "../engine/gemm.hpp"

namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class F>
double time_us(F f, int units) {
  const auto start = std::chrono::steady_clock::now();
  for (int u = 0; u < units; ++u) f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / units;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  Eigen::setNbThreads(1);
  struct Shape {
    int m, k, n;
  };
  // The benchmark MLPs' forward and backward products (mnist_mlp batch 64,
  // inference 784-128-10 batch 1 and 256, large_mlp batch 256), then others.
  const Shape shapes[] = {{64, 784, 128},   {128, 64, 784},   {64, 128, 784},  {64, 128, 10},   {1, 784, 128},
                          {1, 128, 10},     {256, 784, 128},  {256, 128, 10},  {256, 1024, 1024}, {1024, 256, 1024},
                          {256, 1024, 10},  {10, 256, 1024},  {256, 10, 1024}, {64, 32, 32},   {32, 16, 16},
                          {32, 64, 64},     {64, 64, 64},     {16, 784, 128},  {128, 784, 128}, {64, 784, 256},
                          {64, 512, 512},   {64, 4096, 64},   {128, 128, 128}, {32, 128, 128}};
  const bool blas = ember::detail::blas_linked();
  if (blas)
    fmt::print("OpenBLAS kernels: {} ({}-bit); Eigen compiled for {}-bit vectors{}\n", ember::detail::blas_core(),
               ember::detail::blas_vector_bits(), ember::detail::eigen_vector_bits(),
               ember::detail::blas_vector_bits() < ember::detail::eigen_vector_bits()
                   ? ": OpenBLAS's are narrower, every product stays with Eigen"
                   : "");
  fmt::print("{:>24}  {:>10}  {:>11}  {:>11}  {:>12}  {:>8}\n", "C[m,n] = A[m,k] B[k,n]", "Eigen (us)", "panels (us)",
             "OpenBLAS (us)", "BLAS/panels", "gemm()");
  for (const Shape s : shapes) {
    const Mat a = Mat::Random(s.m, s.k), b = Mat::Random(s.k, s.n);
    Mat c(s.m, s.n);
    const double macs = double(s.m) * s.n * s.k;
    const int units = std::max(1, int(2e6 / macs));
    auto eigen = [&] { c.noalias() = a * b; };
    auto panels = [&] { ember::gemm_panels(c, a, b, ember::Gemm::assign); };
    auto openblas = [&] { ember::gemm_blas(c, a, b, ember::Gemm::assign); };
    eigen(), panels();
    if (blas) openblas();
    std::vector<double> te, tp, tb;
    for (int r = 0; r < 15; ++r) {
      te.push_back(time_us(eigen, units));
      tp.push_back(time_us(panels, units));
      if (blas) tb.push_back(time_us(openblas, units));
    }
    const double e = median(te), p = median(tp), o = blas ? median(tb) : 0;
    const char* pick = blas && ember::detail::blas_pays(s.m, s.n, s.k) ? "OpenBLAS" : "Eigen";
    fmt::print("{:>24}  {:>10.2f}  {:>11.2f}  {:>13}  {:>12}  {:>8}\n", fmt::format("m {} k {} n {}", s.m, s.k, s.n), e,
               p, blas ? fmt::format("{:.2f}", o) : "-", blas ? fmt::format("{:.2f}", o / p) : "-", pick);
  }
}
