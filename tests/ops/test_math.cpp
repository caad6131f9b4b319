// ops/math.hpp and the tensor-exponent pow: values against the C library's
// functions, gradcheck and gradgradcheck at random points and edge values,
// and errors.
#include <ember/ember.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;

Tensor64 random(const Shape& s, std::uint64_t seed, double low, double high) {
  Generator gen(seed);
  return Tensor64::rand(s, gen, low, high);
}


}  // namespace

TEST_CASE("math: values against the C library, float and double") {
  const std::vector<double> xs{-3.5, -1.0, -1e-9, 0.0, 1e-9, 0.3, 2.0, 40.0};
  const auto x = Tensor64::from_data(xs, Shape{Index(xs.size())});
  struct Case {
    const char* name;
    std::function<Tensor64(const Tensor64&)> f;
    std::function<double(double)> ref;
  };
  const std::vector<Case> cases = {
      {"square", [](const Tensor64& t) { return square(t); }, [](double v) { return v * v; }},
      {"reciprocal", [](const Tensor64& t) { return reciprocal(t); }, [](double v) { return 1 / v; }},
      {"expm1", [](const Tensor64& t) { return expm1(t); }, [](double v) { return std::expm1(v); }},
      {"sin", [](const Tensor64& t) { return sin(t); }, [](double v) { return std::sin(v); }},
      {"cos", [](const Tensor64& t) { return cos(t); }, [](double v) { return std::cos(v); }},
  };
  for (const auto& c : cases) {
    INFO(std::string(c.name));
    const auto y = c.f(x);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double want = c.ref(xs[i]), got = y.values()[Index(i)];
      if (std::isfinite(want)) CHECK(got == doctest::Approx(want).epsilon(1e-14));
      else CHECK(got == want);  // 1/0 = inf
    }
  }
  const auto pos = Tensor64::from({1e-300, 1e-9, 0.5, 4.0, 1e300});
  for (Index i = 0; i < pos.numel(); ++i) {
    const double v = pos.values()[i];
    CHECK(rsqrt(pos).values()[i] == doctest::Approx(1 / std::sqrt(v)).epsilon(1e-14));
    CHECK(log1p(pos).values()[i] == doctest::Approx(std::log1p(v)).epsilon(1e-14));
  }
  // near 0 log1p and expm1 keep every digit: float too
  CHECK(log1p(Tensor::from({1e-10f})).item() == doctest::Approx(1e-10).epsilon(1e-6));
  CHECK(expm1(Tensor::from({-1e-10f})).item() == doctest::Approx(-1e-10).epsilon(1e-6));
  // pow with a tensor exponent broadcasts; negative bases with integer exponents work
  const auto p = pow(Tensor64::from_data(std::vector<double>{-2.0, 3.0}, Shape{2, 1}), Tensor64::from({2.0, 3.0, 0.5}));
  CHECK(p.shape() == Shape{2, 3});
  CHECK(p.at({0, 0}) == 4.0);
  CHECK(p.at({0, 1}) == -8.0);
  CHECK(std::isnan(p.at({0, 2})));
  CHECK(p.at({1, 2}) == doctest::Approx(std::sqrt(3.0)));
  CHECK(pow(2.0, Tensor64::from({-1.0, 10.0})).to_vector() == std::vector<double>{0.5, 1024.0});
}

TEST_CASE("math: gradcheck and gradgradcheck at random points and edge values") {
  const auto any = random({6}, 1, -3, 3), pos = random({6}, 2, 0.2, 3);
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return square(in[0]); }, {any});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return reciprocal(in[0]); }, {pos});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return rsqrt(in[0]); }, {pos});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return log1p(in[0]); }, {pos});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return expm1(in[0]); }, {any});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return sin(in[0]); }, {any});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return cos(in[0]); }, {any});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return pow(in[0], in[1]); }, {pos, any});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return pow(in[0], in[1]); }, {random({3, 1}, 3, 0.5, 2), random({4}, 4, -2, 2)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return pow(2.5, in[0]); }, {any});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return expm1(in[0]); }, {Tensor64::from({-40.0, -20.0, 20.0, 40.0})});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return sin(in[0]); }, {Tensor64::from({-40.0, -20.0, 20.0, 40.0, 710.0})});
  // at base 0 with a positive exponent the exponent's gradient is 0, as in PyTorch
  auto base = Tensor64::from({0.0}), e = Tensor64::from({2.0}).requires_grad_();
  pow(base, e).backward(Tensor64::ones({1}));
  CHECK(e.grad().item() == 0.0);
}

TEST_CASE("math: logsumexp, var and std") {
  const auto x = Tensor64::from({{1.0, 2.0, 3.0}, {1000.0, 1000.0, -1000.0}});
  const auto l = logsumexp(x, 1);
  CHECK(l.at({0}) == doctest::Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))).epsilon(1e-15));
  CHECK(l.at({1}) == doctest::Approx(1000.0 + std::log(2.0)).epsilon(1e-15));
  CHECK(logsumexp(x, 0, true).shape() == Shape{1, 3});
  CHECK(logsumexp(Tensor64::from({-INFINITY, -INFINITY}), 0).item() == -INFINITY);
  // torch.var([1, 2, 3, 4]) = 1.6667 (correction 1), 1.25 with correction 0
  const auto v = Tensor64::from({1.0, 2.0, 3.0, 4.0});
  CHECK(var(v).item() == doctest::Approx(5.0 / 3.0));
  CHECK(var(v, 0.0).item() == doctest::Approx(1.25));
  CHECK(ember::std(v).item() == doctest::Approx(std::sqrt(5.0 / 3.0)));
  CHECK(var(x, 1, 0.0).at({0}) == doctest::Approx(2.0 / 3.0));
  CHECK(var(x, 0, 1.0, true).shape() == Shape{1, 3});
  const auto r = random({3, 4}, 5, -2, 2);
  for (int axis : {0, 1}) {
    INFO("axis ", axis);
    CHECK_GRAD_AND_GRADGRAD([axis](const Inputs& in) { return logsumexp(in[0], axis); }, {r});
    CHECK_GRAD_AND_GRADGRAD([axis](const Inputs& in) { return var(in[0], axis); }, {r});
    CHECK_GRAD_AND_GRADGRAD([axis](const Inputs& in) { return ember::std(in[0], axis, 0.0, true); }, {r});
  }
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return logsumexp(in[0], 1); }, {Tensor64::from({{-40.0, 0.0, 40.0}, {710.0, 700.0, -710.0}})});
  CHECK_THROWS_WITH_SUBSTR(logsumexp(r, 2), ShapeError, "logsumexp: axis 2 is out of range for shape [3x4]");
}

namespace {

// logsumexp as the ops it is defined by: max + log(sum(exp(x - max))).
template <class T>
TensorT<T> logsumexp_by_ops(const TensorT<T>& x, int axis) {
  TensorT<T> top = max(x, axis, true);
  for (Index i = 0; i < top.numel(); ++i)
    if (!std::isfinite(top.data()[i])) top.node().value.data()[i] = T(0);
  return log(sum(exp(x - top), axis, true)) + top;
}

template <class T>
void check_logsumexp_against_ops(const Shape& shape, int axis) {
  Generator gen(31);
  const TensorT<T> x = TensorT<T>::rand(shape, gen, -30, 30).requires_grad_();
  const TensorT<T> fused = logsumexp(x, axis, true), by_ops = logsumexp_by_ops(x.detach(), axis);
  REQUIRE(fused.shape() == by_ops.shape());
  for (Index i = 0; i < fused.numel(); ++i) {  // a few ulp apart: the same exp, another summation order
    const T a = fused.data()[i], b = by_ops.data()[i];
    CHECK(std::abs(a - b) <= 4 * std::numeric_limits<T>::epsilon() * std::abs(b));
  }
  sum(fused).backward();
  const TensorT<T> p = softmax(x.detach(), axis);
  for (Index i = 0; i < x.numel(); ++i)  // e^(x - out): the rounding of x - out, |x - out| < 64, times e^...
    CHECK(std::abs(x.grad().data()[i] - p.data()[i]) <= 64 * std::numeric_limits<T>::epsilon());
}

}  // namespace

TEST_CASE("math: logsumexp equals its definition in ops within a few ulp, and its gradient the softmax") {
  for (int axis : {0, 1, 2}) {
    INFO("axis ", axis);
    check_logsumexp_against_ops<float>(Shape{7, 300, 5}, axis);
    check_logsumexp_against_ops<double>(Shape{7, 300, 5}, axis);
  }
  check_logsumexp_against_ops<float>(Shape{64, 256}, 1);
  // an infinite or NaN maximum shifts by 0: inf, NaN and -inf come out as the sum gives them
  const auto x = Tensor64::from({{INFINITY, 1.0}, {NAN, 1.0}, {-INFINITY, -INFINITY}});
  const auto l = logsumexp(x, 1);
  CHECK(l.at({0}) == INFINITY);
  CHECK(std::isnan(l.at({1})));
  CHECK(l.at({2}) == -INFINITY);
  CHECK_THROWS_WITH_SUBSTR(logsumexp(Tensor64::zeros({2, 0}), 1), ShapeError, "logsumexp: cannot reduce axis 1 of size 0 (shape [2x0])");
}

TEST_CASE("math: slice and narrow follow Python's rules") {
  const auto x = Tensor64::from({{0.0, 1.0, 2.0, 3.0, 4.0}, {5.0, 6.0, 7.0, 8.0, 9.0}});
  CHECK(slice(x, 1, 1, 4).to_vector() == std::vector<double>{1, 2, 3, 6, 7, 8});
  CHECK(slice(x, 1, -2, 100).to_vector() == std::vector<double>{3, 4, 8, 9});  // clamped, not an error
  CHECK(slice(x, 1, 0, 5, 2).to_vector() == std::vector<double>{0, 2, 4, 5, 7, 9});
  CHECK(slice(x, 0, 1, 2).shape() == Shape{1, 5});
  CHECK(slice(x, 1, 4, 2).shape() == Shape{2, 0});  // empty
  CHECK(narrow(x, -1, 3, 2).to_vector() == std::vector<double>{3, 4, 8, 9});
  CHECK_THROWS_WITH_SUBSTR(slice(x, 2, 0, 1), ShapeError, "slice: axis 2 is out of range for shape [2x5]");
  CHECK_THROWS_WITH_SUBSTR(slice(x, 1, 0, 1, 0), ValueError, "slice: step 0 along axis 1 of [2x5] must be positive");
  CHECK_THROWS_WITH_SUBSTR(narrow(x, 1, 3, 3), ValueError, "narrow: start 3 and length 3 do not fit axis 1 of size 5");
  const auto r = random({3, 7, 2}, 6, -2, 2);
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return slice(in[0] * in[0], 1, 1, 6, 2); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return slice(in[0], 0, -2, 3) * slice(in[0], 0, 0, 2); }, {r});
}
