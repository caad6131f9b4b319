// Pooling: max_pool2d (ties, padding, NaN), avg_pool2d (both divisors),
// adaptive_avg_pool2d, against PyTorch's values; gradcheck and
// gradgradcheck; errors.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

// The inputs the PyTorch values below were computed at: element i is
// ((7i) mod 11)/4 - 1 (quarters, so sums are exact and windows tie often).
Tensor64 pattern(const Shape& s) {
  std::vector<double> v(static_cast<std::size_t>(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double((i * 7) % 11) / 4.0 - 1.0;
  return Tensor64::from_data(v, s);
}
Tensor64 counting(const Shape& s) {  // 1, 2, 3, ...
  std::vector<double> v(static_cast<std::size_t>(s.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i + 1);
  return Tensor64::from_data(v, s);
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
}

// The gradient of <f(x), g> in x.
template <class F>
std::vector<double> grad_of(F f, const Tensor64& x0, const Tensor64& g) {
  auto x = x0.detach().requires_grad_(true);
  auto y = f(x);
  sum(y * g).backward();
  return x.grad().to_vector();
}

}  // namespace

// Expected values: PyTorch 1.13 (torch.nn.functional, float64) at the same
// inputs, printed once and written in here.

TEST_CASE("max_pool2d: ties go to the first maximum in scan order, as PyTorch") {
  auto x = Tensor64::from_data(std::vector<double>{1, 3, 3, 0, 2, 3, 1, 1, 0, 0, 5, 5, 4, 0, 5, 1}, {1, 1, 4,
      4});
  auto y = max_pool2d(x, 2);
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y.to_vector() == std::vector<double>{3.0, 3.0, 4.0, 5.0});
  CHECK(grad_of([](const auto& t) { return max_pool2d(t, 2); }, x, Tensor64::ones({1, 1, 2,
      2})) == std::vector<double>{0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0,
      0.0});
}

TEST_CASE("max_pool2d: kernel 3, stride 2, padding 1 against PyTorch") {
  auto x = pattern({1, 2, 5, 5});
  auto f = [](const auto& t) { return max_pool2d(t, 3, 2, 1); };
  check_close(f(x).to_vector(), std::vector<double>{1.25, 1.5, 1.5, 1.25, 1.25, 1.5, 1.0, 1.25, 0.75, 1.5,
      1.25, 1.25, 1.5, 1.5, 1.25, 0.75, 1.5, 0.5});
  check_close(grad_of(f, x, counting({1, 2, 3, 3})), std::vector<double>{0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 10.0,
      0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 8.0, 0.0, 0.0, 7.0, 0.0, 0.0, 9.0, 0.0, 10.0, 0.0, 0.0,
      23.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 27.0, 0.0, 0.0, 15.0, 0.0, 0.0, 0.0, 0.0, 0.0, 16.0, 0.0, 17.0,
      18.0, 0.0});
}

TEST_CASE("max_pool2d: NaN propagates and takes the gradient") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto x = Tensor64::from_data(std::vector<double>{1, nan, 2, 0}, {1, 1, 2, 2});
  auto y = max_pool2d(x, 2);
  CHECK(std::isnan(y.item()));
  CHECK(grad_of([](const auto& t) { return max_pool2d(t, 2); }, x, Tensor64::ones({1, 1, 1, 1})) ==
        std::vector<double>{0, 1, 0, 0});
}

TEST_CASE("avg_pool2d: padding counted or not, against PyTorch") {
  auto x = pattern({1, 2, 5, 5});
  auto g = counting({1, 2, 3, 3});
  auto with_pad = [](const auto& t) { return avg_pool2d(t, 3, 2, 1); };
  check_close(with_pad(x).to_vector(), std::vector<double>{0.05555555555555555, 0.3055555555555556, 0.25,
      -0.027777777777777776, 0.1388888888888889, 0.1111111111111111, 0.1111111111111111, 0.08333333333333333,
      0.0, 0.25, 0.1388888888888889, 0.1388888888888889, 0.1111111111111111, 0.19444444444444445,
      -0.05555555555555555, 0.0, 0.2222222222222222, -0.1111111111111111});
  check_close(grad_of(with_pad, x, g), std::vector<double>{0.1111111111111111, 0.3333333333333333,
      0.2222222222222222, 0.5555555555555556, 0.3333333333333333, 0.5555555555555556, 1.3333333333333333,
      0.7777777777777778, 1.7777777777777777, 1.0, 0.4444444444444444, 1.0, 0.5555555555555556,
      1.2222222222222223, 0.6666666666666666, 1.2222222222222223, 2.6666666666666665, 1.4444444444444444,
      3.111111111111111, 1.6666666666666665, 0.7777777777777778, 1.6666666666666665, 0.8888888888888888,
      1.8888888888888888, 1.0, 1.1111111111111112, 2.3333333333333335, 1.2222222222222223, 2.5555555555555554,
      1.3333333333333333, 2.5555555555555554, 5.333333333333333, 2.7777777777777777, 5.777777777777778, 3.0,
      1.4444444444444444, 3.0, 1.5555555555555556, 3.2222222222222223, 1.6666666666666667, 3.2222222222222223,
      6.666666666666666, 3.4444444444444446, 7.111111111111111, 3.666666666666667, 1.7777777777777777,
      3.6666666666666665, 1.8888888888888888, 3.888888888888889, 2.0});
  auto without = [](const auto& t) { return avg_pool2d(t, 3, 2, 1, false); };
  check_close(without(x).to_vector(), std::vector<double>{0.125, 0.4583333333333333, 0.5625,
      -0.041666666666666664, 0.1388888888888889, 0.16666666666666666, 0.25, 0.125, 0.0, 0.5625,
      0.20833333333333334, 0.3125, 0.16666666666666666, 0.19444444444444445, -0.08333333333333333, 0.0,
      0.3333333333333333, -0.25});
  check_close(grad_of(without, x, g), std::vector<double>{0.25, 0.5833333333333333, 0.3333333333333333,
      1.0833333333333333, 0.75, 0.9166666666666666, 1.8055555555555556, 0.8888888888888888, 2.638888888888889,
      1.75, 0.6666666666666666, 1.2222222222222223, 0.5555555555555556, 1.5555555555555556, 1.0,
      2.4166666666666665, 4.305555555555555, 1.8888888888888888, 5.138888888888889, 3.25, 1.75,
      3.083333333333333, 1.3333333333333333, 3.583333333333333, 2.25, 2.5, 4.333333333333333,
      1.8333333333333333, 4.833333333333333, 3.0, 4.666666666666666, 8.055555555555555, 3.388888888888889,
      8.88888888888889, 5.5, 2.1666666666666665, 3.7222222222222223, 1.5555555555555556, 4.055555555555555,
      2.5, 6.166666666666666, 10.555555555555555, 4.388888888888889, 11.38888888888889, 7.0, 4.0,
      6.833333333333334, 2.8333333333333335, 7.333333333333334, 4.5});
}

TEST_CASE("adaptive_avg_pool2d: uneven windows and global pooling against PyTorch") {
  auto x = pattern({1, 1, 5, 7});
  auto f = [](const auto& t) { return adaptive_avg_pool2d(t, {2, 3}); };
  check_close(f(x).to_vector(), std::vector<double>{0.16666666666666666, 0.3055555555555555,
      0.1388888888888889, 0.2222222222222222, 0.3611111111111111, 0.19444444444444445});
  check_close(grad_of(f, x, counting({1, 1, 2, 3})), std::vector<double>{0.1111111111111111,
      0.1111111111111111, 0.3333333333333333, 0.2222222222222222, 0.5555555555555556, 0.3333333333333333,
      0.3333333333333333, 0.1111111111111111, 0.1111111111111111, 0.3333333333333333, 0.2222222222222222,
      0.5555555555555556, 0.3333333333333333, 0.3333333333333333, 0.5555555555555556, 0.5555555555555556,
      1.3333333333333333, 0.7777777777777778, 1.7777777777777777, 1.0, 1.0, 0.4444444444444444,
      0.4444444444444444, 1.0, 0.5555555555555556, 1.2222222222222223, 0.6666666666666666, 0.6666666666666666,
      0.4444444444444444, 0.4444444444444444, 1.0, 0.5555555555555556, 1.2222222222222223, 0.6666666666666666,
      0.6666666666666666});
  auto global = adaptive_avg_pool2d(x, 1);
  CHECK(global.shape() == Shape{1, 1, 1, 1});
  check_close(global.to_vector(), std::vector<double>{0.22857142857142856});
  CHECK(adaptive_avg_pool2d(pattern({3, 4, 4}), 2).shape() == Shape{3, 2, 2});  // [C, H, W] input
}

TEST_CASE("conv2d: groups, dilation, stride and padding against PyTorch") {
  auto x = pattern({1, 4, 5, 6}), w = pattern({2, 2, 2, 3}) * 0.5, b = Tensor64::from({0.25, -0.5});
  auto y = conv2d(x, w, b, {2, 1}, {1, 2}, {2, 1}, 2);
  CHECK(y.shape() == Shape{1, 2, 3, 8});
  check_close(y.to_vector(), std::vector<double>{-0.8125, 0.25, 2.4375, -0.375, -0.4375, 2.25, 0.125, -0.875,
      -0.78125, 1.1875, 0.375, -1.1875, 2.75, 0.15625, -1.0, 1.34375, 0.03125, 0.6875, -0.5, 0.75, 0.96875,
      -0.53125, 0.6875, 0.5, -1.40625, 0.96875, -1.59375, 0.3125, 0.15625, -1.03125, -0.125, -0.625, -0.78125,
      0.125, -0.8125, 1.21875, -0.1875, 0.8125, -1.25, -0.40625, 0.5625, -1.15625, 0.5625, 0.34375, -0.90625,
      1.625, -1.4375, 0.15625});
}

TEST_CASE("pooling: gradcheck and gradgradcheck, with ties and padding") {
  Generator gen(11);
  auto r = Tensor64::randn({2, 2, 5, 6}, gen);
  // Random points: no ties, so the max is differentiable there.
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return max_pool2d(in[0], 3, 2, 1); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return max_pool2d(in[0], {2, 3}, {1, 2}); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return avg_pool2d(in[0], 3, 2, 1); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return avg_pool2d(in[0], 3, 2, 1, false); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return avg_pool2d(in[0], {2, 3}); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return adaptive_avg_pool2d(in[0], {3, 4}); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return adaptive_avg_pool2d(in[0], 1); }, {r});
  // Averages are linear: ties change nothing, check at the tied pattern too.
  auto tied = pattern({1, 2, 5, 5});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return avg_pool2d(in[0], 3, 2, 1); }, {tied});
  // Max with ties between separate windows only (stride = kernel, distinct
  // values inside each window): differentiable, the tie rule not involved.
  auto blocks = Tensor64::from_data(std::vector<double>{1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4}, {1, 1,
      4, 4});
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return max_pool2d(in[0], 2); }, {blocks});
}

TEST_CASE("pooling: errors name the op and the shapes") {
  auto x = Tensor64::zeros({2, 3, 4, 4});
  CHECK_THROWS_WITH_SUBSTR(max_pool2d(Tensor64::zeros({4, 4}), 2), ShapeError,
                           "max_pool2d: input [4x4] must be rank 4 [N, C, H, W] or 3 [C, H, W]");
  CHECK_THROWS_WITH_SUBSTR(max_pool2d(x, 5), ShapeError,
                           "max_pool2d: kernel 5x5 larger than the padded input 4x4 (input [2x3x4x4], "
                           "padding 0x0)");
  CHECK_THROWS_WITH_SUBSTR(avg_pool2d(x, 2, 1, 2), ValueError,
                           "avg_pool2d: padding 2x2 must be >= 0 and at most half the kernel 2x2");
  // An empty plane with padding would make windows over no elements.
  CHECK_THROWS_WITH_SUBSTR(max_pool2d(Tensor64::zeros({1, 1, 0, 4}), 2, 2, 1), ShapeError,
                           "max_pool2d: input [1x1x0x4] has an empty plane (0x4)");
  CHECK_THROWS_WITH_SUBSTR(max_pool2d(x, 0), ValueError,
      "max_pool2d: kernel 0x0 and stride 0x0 must be >= 1");
  CHECK_THROWS_WITH_SUBSTR(adaptive_avg_pool2d(x, 0), ValueError,
      "adaptive_avg_pool2d: output size 0x0 must be >= 1");
}
