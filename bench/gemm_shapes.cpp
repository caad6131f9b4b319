// gemm_shapes: Eigen's GEMM called once against ember's panelled gemm()
// (engine/gemm.hpp) on the product shapes of the benchmark MLPs and a few
// others, one thread, median of 15 samples. The evidence for the panels:
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
double median_us(F f, int units) {
  std::vector<double> samples;
  f();  // warm-up
  for (int s = 0; s < 15; ++s) {
    const auto start = std::chrono::steady_clock::now();
    for (int u = 0; u < units; ++u) f();
    samples.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
                      units);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main() {
  Eigen::setNbThreads(1);
  struct Shape {
    int m, k, n;
  };
  const Shape shapes[] = {{64, 784, 128}, {128, 64, 784}, {64, 128, 784}, {64, 128, 10},  {256, 1024, 1024},
                          {1024, 256, 1024}, {256, 1024, 10}, {64, 32, 32},  {32, 16, 16}, {16, 784, 128},
                          {128, 784, 128}, {64, 784, 256}, {64, 512, 512}, {64, 4096, 64}};
  fmt::print("{:>24}  {:>12}  {:>12}  {:>6}\n", "C[m,n] = A[m,k] B[k,n]", "Eigen (us)", "panels (us)", "ratio");
  for (const Shape s : shapes) {
    const Mat a = Mat::Random(s.m, s.k), b = Mat::Random(s.k, s.n);
    Mat c(s.m, s.n);
    const double macs = double(s.m) * s.n * s.k;
    const int units = std::max(1, int(2e6 / macs));
    const double eigen = median_us([&] { c.noalias() = a * b; }, units);
    const double panels = median_us([&] { ember::gemm_panels(c, a, b, ember::Gemm::assign); }, units);
    fmt::print("{:>24}  {:>12.1f}  {:>12.1f}  {:>6.2f}\n", fmt::format("m {} k {} n {}", s.m, s.k, s.n), eigen,
               panels, panels / eigen);
  }
}
