// Work split over threads (large elementwise ops, matrix products): the same
// bits for every thread count.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <ember/ember.hpp>

using ember::Tensor;

namespace {

#ifdef _OPENMP
constexpr bool kOpenMP = true;
#else
constexpr bool kOpenMP = false;
#endif

struct Result {
  std::vector<float> value, grad;
};

// f(x) and d(sum(f(x) * w))/dx on `threads` threads, for a size that is
// split (not a multiple of the chunk alignment, so a tail is included).
template <class F>
Result run(F f, int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
  ember::Generator gen(7);
  const ember::Index n = 3 * ember::kParallelMinElements + 77;
  Tensor x = Tensor::randn({n}, gen, 0.0f, 4.0f).requires_grad_();
  Tensor w = Tensor::randn({n}, gen);
  Tensor y = f(x);
  ember::sum(y * w).backward();
  return {y.to_vector(), x.grad().to_vector()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("threads: activations give the same bits on 1 and 2 threads" * doctest::skip(!kOpenMP)) {
  for (const std::string& name : ember::activation_names()) {
    auto f = ember::activation<float>(name);
    const Result one = run(f, 1), two = run(f, 2);
    CHECK_MESSAGE(same_bits(one.value, two.value), name, " forward");
    CHECK_MESSAGE(same_bits(one.grad, two.grad), name, " backward");
  }
#ifdef _OPENMP
  omp_set_num_threads(omp_get_num_procs());
#endif
}

TEST_CASE("threads: broadcasting arithmetic gives the same bits on 1 and 2 threads" * doctest::skip(!kOpenMP)) {
  auto f = [](const Tensor& x) { return (x * x + 1.0f) / (x * 3.0f + 0.5f); };
  const Result one = run(f, 1), two = run(f, 2);
  CHECK(same_bits(one.value, two.value));
  CHECK(same_bits(one.grad, two.grad));
#ifdef _OPENMP
  omp_set_num_threads(omp_get_num_procs());
#endif
}

// Matrix products are split differently on 2 threads (by output columns, and
// Eigen picks its cache blocking from each block's shape), so their sums may
// round differently: equal to float rounding across thread counts, and bit
// for bit from run to run at one thread count.
TEST_CASE("threads: linear and matmul agree across thread counts and repeat exactly at each" * doctest::skip(!kOpenMP)) {
  struct Case {
    ember::Index n, in, out;
  };
  // mnist-like (k = 784 in two panels, 128 columns split in two), a wide
  // split with an odd column count, a long shared dimension, and a narrow
  // output that is not split.
  for (Case c : {Case{64, 784, 128}, Case{37, 300, 531}, Case{16, 1500, 200}, Case{256, 512, 10}}) {
    auto run_linear = [&](int threads) {
#ifdef _OPENMP
      omp_set_num_threads(threads);
#else
      (void)threads;
#endif
      ember::Generator gen(11);
      Tensor x = Tensor::randn({c.n, c.in}, gen).requires_grad_();
      Tensor w = Tensor::randn({c.out, c.in}, gen).requires_grad_();
      Tensor b = Tensor::randn({c.out}, gen).requires_grad_();
      Tensor y = ember::linear(x, w, b);
      Tensor z = ember::matmul(y, w);  // [n,out]·[out,in]
      ember::sum(z * w.values().mean()).backward();
      return std::vector<std::vector<float>>{y.to_vector(), z.to_vector(), x.grad().to_vector(),
                                             w.grad().to_vector(), b.grad().to_vector()};
    };
    const auto one = run_linear(1), two = run_linear(2), two_again = run_linear(2);
    for (std::size_t i = 0; i < one.size(); ++i) {
      CHECK_MESSAGE(same_bits(two[i], two_again[i]), "case ", c.n, "x", c.in, "->", c.out, ", result ", i);
      REQUIRE(one[i].size() == two[i].size());
      double worst = 0, scale = 0;
      for (std::size_t j = 0; j < one[i].size(); ++j) {
        worst = std::max(worst, std::abs(double(one[i][j]) - double(two[i][j])));
        scale = std::max(scale, std::abs(double(one[i][j])));
      }
      CHECK_MESSAGE(worst <= 1e-5 * scale, "case ", c.n, "x", c.in, "->", c.out, ", result ", i, ": ", worst, " of ", scale);
    }
  }
#ifdef _OPENMP
  omp_set_num_threads(omp_get_num_procs());
#endif
}
