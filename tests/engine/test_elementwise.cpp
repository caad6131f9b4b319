// Large elementwise ops split over threads: same bits for every thread count.
#include <doctest/doctest.h>

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

TEST_CASE("elementwise: activations give the same bits on 1 and 2 threads" * doctest::skip(!kOpenMP)) {
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

TEST_CASE("elementwise: broadcasting arithmetic gives the same bits on 1 and 2 threads" * doctest::skip(!kOpenMP)) {
  auto f = [](const Tensor& x) { return (x * x + 1.0f) / (x * 3.0f + 0.5f); };
  const Result one = run(f, 1), two = run(f, 2);
  CHECK(same_bits(one.value, two.value));
  CHECK(same_bits(one.grad, two.grad));
#ifdef _OPENMP
  omp_set_num_threads(omp_get_num_procs());
#endif
}
