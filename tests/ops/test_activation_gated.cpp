// ops/activation_gated.cpp: relu_squared and swiglu, BitNet b1.58's
// feed-forward activations. Values against closed forms written here,
// gradcheck and gradgradcheck at random points and edge values, errors.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;
double sig(double v) { return 1 / (1 + std::exp(-v)); }

}  // namespace

TEST_CASE("relu_squared: values and slopes are relu(x)^2 and 2 relu(x), NaN stays NaN") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto x = Tensor64::from({-3.0, -0.0, 0.0, 0.5, 2.0, 40.0, -inf, inf, nan}).requires_grad_();
  const auto y = relu_squared(x);
  CHECK(std::string(y.op()) == "relu_squared");
  y.backward(Tensor64::ones(y.shape()));
  const auto v = y.to_vector(), g = x.grad().to_vector();
  const std::vector<double> want_v{0, 0, 0, 0.25, 4, 1600, 0, inf}, want_g{0, 0, 0, 1, 4, 80, 0, inf};
  for (std::size_t i = 0; i < want_v.size(); ++i) {
    INFO("i = ", i);
    CHECK(v[i] == want_v[i]);
    CHECK(g[i] == want_g[i]);
  }
  CHECK(std::isnan(v[8]));
  CHECK(std::isnan(g[8]));
  // float: the same values, by name through the registry
  auto xf = Tensor::from({-1.0f, 3.0f}).requires_grad_();
  const auto yf = activation<float>("relu_squared")(xf);
  yf.backward(Tensor::ones(yf.shape()));
  CHECK(yf.to_vector() == std::vector<float>{0.0f, 9.0f});
  CHECK(xf.grad().to_vector() == std::vector<float>{0.0f, 6.0f});
}

TEST_CASE("relu_squared: gradcheck and gradgradcheck at random points, +-20, +-40, and at the kink") {
  Generator gen(11);
  auto x = Tensor64::rand({4, 5}, gen, -3, 3);
  for (Index i = 0; i < x.numel(); ++i)  // off the kink for the second derivative (a step at 0)
    if (std::abs(x.data()[i]) < 0.05) x.data()[i] += 0.1;
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return relu_squared(in[0]) * in[0]; }, {x});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return relu_squared(in[0]); }, {Tensor64::from({-40.0, -20.0, 20.0, 40.0})});
  // at the kink itself the first derivative is continuous (0 from both sides): a central difference agrees
  const auto kink = gradcheck([](const Inputs& in) { return relu_squared(in[0]); }, {Tensor64::from({0.0, 0.0})});
  CHECK_MESSAGE(kink.ok, kink.message);
}

TEST_CASE("swiglu: silu of the first half times the second half, on the last axis") {
  const auto y = swiglu(Tensor64::from({{1.0, -2.0, 3.0, 0.5}, {0.0, 4.0, -1.0, 2.0}}));
  CHECK(y.shape() == Shape{2, 2});
  CHECK(y.at({0, 0}) == doctest::Approx(1 * sig(1) * 3).epsilon(1e-14));
  CHECK(y.at({0, 1}) == doctest::Approx(-2 * sig(-2) * 0.5).epsilon(1e-14));
  CHECK(y.at({1, 0}) == 0.0);
  CHECK(y.at({1, 1}) == doctest::Approx(4 * sig(4) * 2).epsilon(1e-14));
  // rank 3: the leading axes are untouched
  Generator gen(12);
  const auto r = Tensor64::randn({2, 3, 6}, gen);
  const auto y3 = swiglu(r);
  CHECK(y3.shape() == Shape{2, 3, 3});
  CHECK(y3.at({1, 2, 1}) == doctest::Approx(r.at({1, 2, 1}) * sig(r.at({1, 2, 1})) * r.at({1, 2, 4})).epsilon(1e-14));
}

TEST_CASE("swiglu: gradcheck and gradgradcheck at random points and +-20") {
  Generator gen(13);
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return swiglu(in[0]); }, {Tensor64::randn({3, 8}, gen, 0, 2)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return swiglu(in[0]); }, {Tensor64::randn({2, 2, 4}, gen)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return swiglu(in[0]); },
                          {Tensor64::from({{-20.0, 20.0, 1.5, -0.5}, {20.0, -20.0, -3.0, 2.0}})});
}

TEST_CASE("swiglu: an odd last axis or a scalar is an error naming the shape") {
  CHECK_THROWS_WITH_SUBSTR(swiglu(Tensor64::zeros({2, 5})), ShapeError,
                           "swiglu: last axis of input [2x5] has odd size 5; it must split in two halves");
  CHECK_THROWS_WITH_SUBSTR(swiglu(Tensor64::zeros({})), ShapeError, "swiglu: input [] must have at least one dimension");
}
