// engine/gemm.hpp: every path (Eigen's panels, OpenBLAS when linked) gives
// the product Eigen computes, for plain, transposed and strided operands,
// assign and add; the same inputs give the same bits twice.
#include <Eigen/Core>

#include <cstring>
#include <string>

#include "../../engine/build_info.hpp"
#include "../../engine/gemm.hpp"
#include "../test_helpers.hpp"

namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Mat64 = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Relative error of c against the product in double.
template <class C, class A, class B>
double error(const C& c, const A& a, const B& b, const Mat64& before, bool add) {
  Mat64 exact = a.template cast<double>() * b.template cast<double>();
  if (add) exact += before;
  return (c.template cast<double>() - exact).norm() / exact.norm();
}

}  // namespace

TEST_CASE("gemm: plain, transposed and strided operands, assign and add, match the exact product") {
  // (1, 784, 128) and (64, 32, 32) pass the BLAS rule, (256, 10, 64) and
  // (10, 256, 64) do not, (300, 600, 20) splits into panels.
  const int shapes[][3] = {{1, 784, 128}, {64, 32, 32}, {256, 10, 64}, {10, 256, 64}, {300, 600, 20}, {3, 5, 7}};
  for (const auto& s : shapes) {
    const int m = s[0], k = s[1], n = s[2];
    CAPTURE(m);
    CAPTURE(k);
    CAPTURE(n);
    const Mat a = Mat::Random(m, k), b = Mat::Random(k, n);
    const Mat at = a.transpose(), bt = b.transpose();  // stored transposed: read back through .transpose()
    const Mat wide = Mat::Random(m, k + 9);             // a strided block of a wider matrix
    const Mat c0 = Mat::Random(m, n);
    for (const bool add : {false, true}) {
      const auto how = add ? ember::Gemm::add : ember::Gemm::assign;
      Mat c = c0;
      ember::gemm(c, a, b, how);
      CHECK(error(c, a, b, c0.cast<double>(), add) < 1e-5);
      c = c0;
      ember::gemm(c, at.transpose(), bt.transpose(), how);
      CHECK(error(c, a, b, c0.cast<double>(), add) < 1e-5);
      c = c0;
      ember::gemm(c, wide.middleCols(4, k), b, how);
      CHECK(error(c, wide.middleCols(4, k), b, c0.cast<double>(), add) < 1e-5);
      Mat big = Mat::Random(m, n + 5);  // the destination a block too
      const Mat64 before = big.middleCols(2, n).cast<double>();
      ember::gemm(big.middleCols(2, n), a, b, how);
      CHECK(error(big.middleCols(2, n), a, b, before, add) < 1e-5);
    }
  }
}

TEST_CASE("gemm: double products through every path") {
  const Mat64 a = Mat64::Random(256, 64), b = Mat64::Random(64, 48);
  Mat64 c(256, 48);
  ember::gemm(c, a, b, ember::Gemm::assign);
  CHECK((c - a * b).norm() / (a * b).norm() < 1e-13);
}

TEST_CASE("gemm: the same inputs give the same bits twice") {
  const Mat a = Mat::Random(256, 784), b = Mat::Random(784, 128);
  Mat c1(256, 128), c2(256, 128);
  ember::gemm(c1, a, b.transpose().transpose(), ember::Gemm::assign);
  ember::gemm(c2, a, b, ember::Gemm::assign);
  CHECK(std::memcmp(c1.data(), c2.data(), sizeof(float) * c1.size()) == 0);
}

TEST_CASE("gemm: OpenBLAS's path gives the exact product on every operand layout, whatever the rule picks here") {
  // gemm() may send no product to OpenBLAS on this CPU (see the next case),
  // so its path is called directly.
  if (!ember::detail::blas_linked()) return;
  const int shapes[][3] = {{1, 784, 128}, {64, 32, 32}, {256, 10, 64}, {3, 5, 7}};
  for (const auto& s : shapes) {
    const int m = s[0], k = s[1], n = s[2];
    CAPTURE(m);
    CAPTURE(k);
    CAPTURE(n);
    const Mat a = Mat::Random(m, k), b = Mat::Random(k, n), at = a.transpose(), c0 = Mat::Random(m, n);
    const Mat wide = Mat::Random(m, k + 9);
    for (const bool add : {false, true}) {
      const auto how = add ? ember::Gemm::add : ember::Gemm::assign;
      Mat c = c0;
      ember::gemm_blas(c, a, b, how);
      CHECK(error(c, a, b, c0.cast<double>(), add) < 1e-5);
      c = c0;
      ember::gemm_blas(c, at.transpose(), b, how);
      CHECK(error(c, a, b, c0.cast<double>(), add) < 1e-5);
      c = c0;
      ember::gemm_blas(c, wide.middleCols(4, k), b, how);
      CHECK(error(c, wide.middleCols(4, k), b, c0.cast<double>(), add) < 1e-5);
    }
  }
}

TEST_CASE("gemm: OpenBLAS takes no product where its kernels are narrower than Eigen's vectors") {
  if (!ember::detail::blas_linked()) {
    CHECK_FALSE(ember::detail::blas_pays(64, 32, 32));
    return;
  }
  const int blas = ember::detail::blas_vector_bits(), eigen = ember::detail::eigen_vector_bits();
  CAPTURE(ember::detail::blas_core());
  CHECK((blas == 128 || blas == 256 || blas == 512));
  CHECK((eigen == 128 || eigen == 256 || eigen == 512));
  // (64, 32, 32) and a row vector pass the shape rule; (256, 10, 64) does not.
  CHECK(ember::detail::blas_pays(64, 32, 32) == (blas >= eigen));
  CHECK(ember::detail::blas_pays(1, 128, 784) == (blas >= eigen));
  CHECK_FALSE(ember::detail::blas_pays(256, 64, 10));
}

TEST_CASE("arithmetic(): names the compiler, Eigen's SIMD sets and the GEMM library the rule uses") {
  const std::string line = ember::arithmetic();
  CAPTURE(line);
  CHECK(line.find("; SIMD ") != std::string::npos);
  CHECK(line.find(Eigen::SimdInstructionSetsInUse()) != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);  // one line: the pages embed it
  // OpenBLAS is named exactly when the rule can send it a product.
  const bool blas_used = ember::detail::blas_pays(64, 32, 32) || ember::detail::blas_pays(1, 128, 784);
  CHECK((line.find("GEMM OpenBLAS") != std::string::npos) == blas_used);
  CHECK((line.rfind("GEMM Eigen") == line.size() - std::string("GEMM Eigen").size()) == !blas_used);
}
