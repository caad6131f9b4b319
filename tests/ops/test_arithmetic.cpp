// ops/arithmetic: + - * / with broadcasting, scalar variants, neg, exp, log,
// sqrt, abs, pow, clamp. Exact forward values, gradchecks at seeded random
// points and edge values, NaN propagation, error messages.
#include <ember/ember.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../test_helpers.hpp"
#include "any_size.hpp"

using namespace ember;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using Inputs = std::vector<Tensor64>;

// Values in [0.5, 2) with a random sign: safe divisors, safe for 1/x.
Tensor64 away_from_zero(const Shape& s, Generator& gen) {
  auto t = Tensor64::rand(s, gen, 0.5, 2.0);
  for (Index i = 0; i < t.numel(); ++i)
    if (gen.uniform() < 0.5) t.data()[i] = -t.data()[i];
  return t;
}

std::vector<double> grad_of(const std::function<Tensor64(const Tensor64&)>& f, std::vector<double> at) {
  auto x = Tensor64::from_data(at, {static_cast<Index>(at.size())}).requires_grad_();
  f(x).backward(Tensor64::ones(x.shape()));
  return x.grad().to_vector();
}

struct ShapePair {
  Shape a, b;
};
// Same shapes, trailing-dim, leading-dim, outer-product, rank-3 against
// rank-2, scalar on either side, both sides broadcast.
const std::vector<ShapePair> kPairs = {{{3, 4}, {3, 4}}, {{3, 4}, {4}},    {{4}, {3, 4}}, {{3, 1}, {1, 4}},
                                       {{2, 3, 4}, {3, 1}}, {{}, {2, 3}}, {{2, 3}, {}},  {{2, 1, 4}, {3, 1}},
                                       {{1}, {5}}};

}  // namespace

// --- forward values ---------------------------------------------------------

TEST_CASE("arithmetic: + - * / give exact values on equal shapes") {
  auto a = Tensor64::from({1.0, -2.0, 3.5});
  auto b = Tensor64::from({4.0, 0.5, -2.0});
  CHECK((a + b).to_vector() == std::vector<double>{5.0, -1.5, 1.5});
  CHECK((a - b).to_vector() == std::vector<double>{-3.0, -2.5, 5.5});
  CHECK((a * b).to_vector() == std::vector<double>{4.0, -1.0, -7.0});
  CHECK((a / b).to_vector() == std::vector<double>{0.25, -4.0, -1.75});
}

TEST_CASE("arithmetic: broadcasting gives the NumPy shapes and values") {
  auto m = Tensor64::from({{1.0, 2.0, 3.0, 4.0}, {5.0, 6.0, 7.0, 8.0}, {9.0, 10.0, 11.0, 12.0}});
  auto row = Tensor64::from({10.0, 20.0, 30.0, 40.0});
  auto sum = m + row;  // [3,4] + [4]
  CHECK(sum.shape() == Shape{3, 4});
  CHECK(sum.at({2, 3}) == 52.0);
  CHECK(sum.at({1, 0}) == 15.0);
  CHECK((row - m).at({0, 1}) == 18.0);  // [4] - [3,4]

  auto col = Tensor64::from_data(std::vector<double>{1.0, 2.0, 3.0}, {3, 1});
  auto r = Tensor64::from({{1.0, 10.0, 100.0, 1000.0}});  // [1,4]
  auto outer = col * r;
  CHECK(outer.shape() == Shape{3, 4});
  CHECK(outer.to_vector() ==
        std::vector<double>{1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000});

  auto cube = Tensor64::full({2, 3, 4}, 12.0);
  auto divisors = Tensor64::from_data(std::vector<double>{1.0, 2.0, 4.0}, {3, 1});
  auto q = cube / divisors;
  CHECK(q.shape() == Shape{2, 3, 4});
  CHECK(q.at({0, 0, 3}) == 12.0);
  CHECK(q.at({1, 1, 0}) == 6.0);
  CHECK(q.at({1, 2, 2}) == 3.0);

  auto s = Tensor64::scalar(2.0);
  auto mat = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK((s - mat).shape() == Shape{2, 3});
  CHECK((s - mat).to_vector() == std::vector<double>{1, 0, -1, -2, -3, -4});
  CHECK((mat / s).to_vector() == std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3});
  CHECK((s * s).shape() == Shape{});
}

TEST_CASE("arithmetic: scalar on either side, and unary minus") {
  auto x = Tensor64::from({1.0, -2.0, 4.0});
  CHECK((x + 1.5).to_vector() == std::vector<double>{2.5, -0.5, 5.5});
  CHECK((1.5 + x).to_vector() == std::vector<double>{2.5, -0.5, 5.5});
  CHECK((x - 1.0).to_vector() == std::vector<double>{0.0, -3.0, 3.0});
  CHECK((1.0 - x).to_vector() == std::vector<double>{0.0, 3.0, -3.0});
  CHECK((x * 3.0).to_vector() == std::vector<double>{3.0, -6.0, 12.0});
  CHECK((3.0 * x).to_vector() == std::vector<double>{3.0, -6.0, 12.0});
  CHECK((x / 2.0).to_vector() == std::vector<double>{0.5, -1.0, 2.0});
  CHECK((8.0 / x).to_vector() == std::vector<double>{8.0, -4.0, 2.0});
  CHECK((-x).to_vector() == std::vector<double>{-1.0, 2.0, -4.0});
  // Scalars of another arithmetic type convert to the tensor's type.
  auto f = Tensor::from({1.0f, 2.0f});
  CHECK((f * 2).to_vector() == std::vector<float>{2.0f, 4.0f});
  CHECK((0.5 + f).to_vector() == std::vector<float>{1.5f, 2.5f});
}

TEST_CASE("arithmetic: exp, log, sqrt, abs, pow, clamp values") {
  auto x = Tensor64::from({0.0, 1.0, 4.0});
  // The packet code runs for every element (same bits at every size): within
  // an ulp or two of the C library, exact at 0 and 1.
  const auto e = exp(x).to_vector(), l = log(x).to_vector();
  CHECK(e[0] == 1.0);
  CHECK(e[1] == doctest::Approx(std::exp(1.0)).epsilon(1e-15));
  CHECK(e[2] == doctest::Approx(std::exp(4.0)).epsilon(1e-15));
  CHECK(l[0] == -kInf);
  CHECK(l[1] == 0.0);
  CHECK(l[2] == doctest::Approx(std::log(4.0)).epsilon(1e-15));
  CHECK(sqrt(x).to_vector() == std::vector<double>{0.0, 1.0, 2.0});
  CHECK(abs(Tensor64::from({-2.5, 0.0, 3.0})).to_vector() == std::vector<double>{2.5, 0.0, 3.0});
  auto y = Tensor64::from({-2.0, 0.0, 3.0});
  CHECK(pow(y, 0.0).to_vector() == std::vector<double>{1.0, 1.0, 1.0});
  CHECK(pow(y, 1.0).to_vector() == std::vector<double>{-2.0, 0.0, 3.0});
  CHECK(pow(y, 2.0).to_vector() == std::vector<double>{4.0, 0.0, 9.0});
  CHECK(pow(y, 3.0).to_vector() == std::vector<double>{-8.0, 0.0, 27.0});
  CHECK(pow(Tensor64::from({-2.0, 4.0}), -1.0).to_vector() == std::vector<double>{-0.5, 0.25});
  CHECK(pow(Tensor64::from({4.0, 0.25}), 0.5).to_vector() == std::vector<double>{2.0, 0.5});
  CHECK(clamp(Tensor64::from({-3.0, -1.0, 0.5, 1.0, 7.0}), -1.0, 1.0).to_vector() ==
        std::vector<double>{-1.0, -1.0, 0.5, 1.0, 1.0});
  CHECK(clamp(Tensor64::from({-3.0, 2.0}), 2.0, 2.0).to_vector() == std::vector<double>{2.0, 2.0});
}

TEST_CASE("arithmetic: float tensors agree with double tensors") {
  Generator gen(7);
  auto a64 = Tensor64::rand({2, 3}, gen, 0.5, 2.0), b64 = Tensor64::rand({3}, gen, 0.5, 2.0);
  Tensor a = Tensor::empty(a64.shape()), b = Tensor::empty(b64.shape());
  a.values() = a64.values().cast<float>();
  b.values() = b64.values().cast<float>();
  auto expr64 = clamp(pow(a64 / b64 - 1.0, 2.0) + sqrt(a64) * exp(-b64) - log(abs(b64)), -5.0, 5.0);
  auto expr32 = clamp(pow(a / b - 1.0f, 2.0f) + sqrt(a) * exp(-b) - log(abs(b)), -5.0f, 5.0f);
  for (Index i = 0; i < expr64.numel(); ++i) CHECK(expr32.data()[i] == doctest::Approx(expr64.data()[i]).epsilon(1e-5));
}

// --- gradients at random points ---------------------------------------------

TEST_CASE("arithmetic: + - * / gradcheck on broadcast shapes") {
  Generator gen(1);
  for (const auto& p : kPairs) {
    INFO("shapes ", p.a.str(), " and ", p.b.str());
    auto a = Tensor64::randn(p.a, gen), b = Tensor64::randn(p.b, gen);
    CHECK(gradcheck([](const Inputs& x) { return x[0] + x[1]; }, {a, b}));
    CHECK(gradcheck([](const Inputs& x) { return x[0] - x[1]; }, {a, b}));
    CHECK(gradcheck([](const Inputs& x) { return x[0] * x[1]; }, {a, b}));
    CHECK(gradcheck([](const Inputs& x) { return x[0] / x[1]; }, {a, away_from_zero(p.b, gen)}));
    CHECK(gradcheck([](const Inputs& x) { return x[1] / x[0]; }, {away_from_zero(p.a, gen), b}));
  }
}

TEST_CASE("arithmetic: broadcast gradients are summed back to each input's shape") {
  auto col = Tensor64::from_data(std::vector<double>{1.0, 2.0, 3.0}, {3, 1}).requires_grad_();
  auto row = Tensor64::from({{1.0, 10.0, 100.0, 1000.0}}).requires_grad_();  // [1,4]
  (col * row).backward(Tensor64::ones({3, 4}));
  CHECK(col.grad().shape() == Shape{3, 1});
  CHECK(col.grad().to_vector() == std::vector<double>{1111.0, 1111.0, 1111.0});
  CHECK(row.grad().shape() == Shape{1, 4});
  CHECK(row.grad().to_vector() == std::vector<double>{6.0, 6.0, 6.0, 6.0});

  auto s = Tensor64::scalar(2.0).requires_grad_();
  auto m = Tensor64::full({2, 3}, 3.0).requires_grad_();
  (m / s).backward(Tensor64::ones({2, 3}));
  CHECK(s.grad().shape() == Shape{});
  CHECK(s.grad().item() == doctest::Approx(6 * -3.0 / 4.0));
  CHECK(m.grad().to_vector() == std::vector<double>(6, 0.5));
}

TEST_CASE("arithmetic: the same tensor on both sides, and one side without grad") {
  Generator gen(2);
  auto x = away_from_zero({2, 3}, gen);
  CHECK(gradcheck([](const Inputs& v) { return v[0] * v[0]; }, {x}));
  CHECK(gradcheck([](const Inputs& v) { return v[0] / v[0]; }, {x}));
  CHECK(gradcheck([](const Inputs& v) { return v[0] - v[0]; }, {x}));
  auto c = Tensor64::randn({3}, gen);  // a constant: no gradient flows to it
  CHECK(gradcheck([c](const Inputs& v) { return v[0] * c / (c + 3.0); }, {x}));
  auto y = Tensor64::from({1.0, 2.0}).requires_grad_();
  auto k = Tensor64::from({5.0, 7.0});
  (y * k).backward(Tensor64::ones({2}));
  CHECK(y.grad().to_vector() == std::vector<double>{5.0, 7.0});
  CHECK_FALSE(k.has_grad());
}

TEST_CASE("arithmetic: scalar variants and unary minus gradcheck") {
  Generator gen(3);
  for (const Shape& s : {Shape{}, Shape{5}, Shape{2, 3}, Shape{2, 1, 3}}) {
    INFO("shape ", s.str());
    auto x = Tensor64::randn(s, gen), nz = away_from_zero(s, gen);
    CHECK(gradcheck([](const Inputs& v) { return v[0] + 1.5; }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return 1.5 + v[0]; }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return v[0] - 2.5; }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return 2.5 - v[0]; }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return v[0] * -3.0; }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return -3.0 * v[0]; }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return v[0] / 0.7; }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return 0.7 / v[0]; }, {nz}));
    CHECK(gradcheck([](const Inputs& v) { return -v[0]; }, {x}));
  }
}

TEST_CASE("arithmetic: exp, log, sqrt, abs gradcheck at random points") {
  Generator gen(4);
  for (const Shape& s : {Shape{}, Shape{7}, Shape{3, 4}, Shape{2, 2, 3}}) {
    INFO("shape ", s.str());
    auto x = Tensor64::randn(s, gen), pos = Tensor64::rand(s, gen, 0.1, 5.0);
    CHECK(gradcheck([](const Inputs& v) { return exp(v[0]); }, {x}));
    CHECK(gradcheck([](const Inputs& v) { return log(v[0]); }, {pos}));
    CHECK(gradcheck([](const Inputs& v) { return sqrt(v[0]); }, {pos}));
    CHECK(gradcheck([](const Inputs& v) { return abs(v[0]); }, {away_from_zero(s, gen)}));
  }
}

TEST_CASE("arithmetic: pow gradcheck for exponents 0, 1, 2, 3, 0.5, -1, -2.5") {
  Generator gen(5);
  for (double p : {0.0, 1.0, 2.0, 3.0, 0.5, -1.0, -2.5}) {
    INFO("exponent ", p);
    const bool integer = p == std::floor(p);
    // Non-integer exponents need positive bases; integer ones take any sign.
    auto x = integer ? away_from_zero({3, 4}, gen) : Tensor64::rand({3, 4}, gen, 0.2, 3.0);
    CHECK(gradcheck([p](const Inputs& v) { return pow(v[0], p); }, {x}));
  }
}

TEST_CASE("arithmetic: clamp gradcheck away from the bounds") {
  Generator gen(6);
  auto x = Tensor64::randn({4, 5}, gen, 0.0, 2.0);  // some below, inside and above [-1, 1.5]
  CHECK(gradcheck([](const Inputs& v) { return clamp(v[0], -1.0, 1.5); }, {x}));
}

// --- edge values ------------------------------------------------------------

TEST_CASE("arithmetic: gradcheck at edge values") {
  // Large and small magnitudes, zeros where the op is smooth there.
  auto big = Tensor64::from({-30.0, -5.0, 0.0, 5.0, 30.0});
  CHECK(gradcheck([](const Inputs& v) { return exp(v[0]); }, {big}));
  CHECK(gradcheck([](const Inputs& v) { return v[0] * v[1]; }, {big, Tensor64::zeros({5})}));
  auto tiny = Tensor64::from({1e-3, 1e-2, 1.0, 1e3, 1e6});
  CHECK(gradcheck([](const Inputs& v) { return log(v[0]); }, {tiny}));
  CHECK(gradcheck([](const Inputs& v) { return sqrt(v[0]); }, {tiny}));
  CHECK(gradcheck([](const Inputs& v) { return 1.0 / v[0]; }, {tiny}));
  auto zeros = Tensor64::from({0.0, -0.0, 0.5, -0.5});
  CHECK(gradcheck([](const Inputs& v) { return abs(v[0]); }, {zeros}));  // 0 both ways at 0
  for (double p : {0.0, 1.0, 2.0, 3.0}) {
    INFO("exponent ", p);
    CHECK(gradcheck([p](const Inputs& v) { return pow(v[0], p); }, {zeros}));
  }
  auto near_bounds = Tensor64::from({-1.001, -0.999, 0.999, 1.001});
  CHECK(gradcheck([](const Inputs& v) { return clamp(v[0], -1.0, 1.0); }, {near_bounds}));
}

TEST_CASE("arithmetic: abs has gradient exactly 0 at 0") {
  auto g = grad_of([](const Tensor64& x) { return abs(x); }, {0.0, -0.0, -2.0, 3.0});
  CHECK(g == std::vector<double>{0.0, 0.0, -1.0, 1.0});
  CHECK_FALSE(std::signbit(g[1]));
}

TEST_CASE("arithmetic: clamp gradient is 1 inside and at the bounds, 0 outside, exactly") {
  auto g = grad_of([](const Tensor64& x) { return clamp(x, -1.0, 2.0); }, {-1.5, -1.0, 0.0, 2.0, 2.5});
  CHECK(g == std::vector<double>{0.0, 1.0, 1.0, 1.0, 0.0});
  auto pinned = grad_of([](const Tensor64& x) { return clamp(x, 2.0, 2.0); }, {1.0, 2.0, 3.0});
  CHECK(pinned == std::vector<double>{0.0, 1.0, 0.0});
}

TEST_CASE("arithmetic: pow(x, 0) has gradient exactly 0, also at x = 0") {
  auto g = grad_of([](const Tensor64& x) { return pow(x, 0.0); }, {0.0, -3.0, 2.0, 1e-300});
  CHECK(g == std::vector<double>{0.0, 0.0, 0.0, 0.0});
  auto g1 = grad_of([](const Tensor64& x) { return pow(x, 1.0); }, {0.0, -3.0});
  CHECK(g1 == std::vector<double>{1.0, 1.0});
  auto g2 = grad_of([](const Tensor64& x) { return pow(x, 2.0); }, {0.0, -3.0});
  CHECK(g2 == std::vector<double>{0.0, -6.0});
  auto gm1 = grad_of([](const Tensor64& x) { return pow(x, -1.0); }, {-2.0, 4.0});
  CHECK(gm1 == std::vector<double>{-0.25, -0.0625});
}

TEST_CASE("arithmetic: division by zero and log/sqrt outside the domain give inf/NaN, not exceptions") {
  auto x = Tensor64::from({1.0, -1.0, 0.0});
  auto q = x / Tensor64::zeros({3});
  CHECK(q.at({0}) == kInf);
  CHECK(q.at({1}) == -kInf);
  CHECK(std::isnan(q.at({2})));
  CHECK(std::isnan(log(Tensor64::scalar(-1.0)).item()));
  CHECK(std::isnan(sqrt(Tensor64::scalar(-1.0)).item()));
  CHECK(exp(Tensor64::scalar(1000.0)).item() == kInf);
  CHECK(exp(Tensor64::scalar(-kInf)).item() == 0.0);
  // The derivative at a pole is infinite, not an exception.
  CHECK(grad_of([](const Tensor64& v) { return log(v); }, {0.0})[0] == kInf);
  CHECK(grad_of([](const Tensor64& v) { return sqrt(v); }, {0.0})[0] == kInf);
}

TEST_CASE("arithmetic: NaN in gives NaN out, forward and backward, without an exception") {
  const std::vector<std::pair<const char*, std::function<Tensor64(const Tensor64&)>>> unary = {
      {"add_scalar", [](const Tensor64& x) { return x + 1.0; }},
      {"rsub_scalar", [](const Tensor64& x) { return 1.0 - x; }},
      {"mul_scalar", [](const Tensor64& x) { return x * 2.0; }},
      {"div_scalar", [](const Tensor64& x) { return x / 2.0; }},
      {"rdiv_scalar", [](const Tensor64& x) { return 2.0 / x; }},
      {"neg", [](const Tensor64& x) { return -x; }},
      {"exp", [](const Tensor64& x) { return exp(x); }},
      {"log", [](const Tensor64& x) { return log(x); }},
      {"sqrt", [](const Tensor64& x) { return sqrt(x); }},
      {"abs", [](const Tensor64& x) { return abs(x); }},
      {"pow 0", [](const Tensor64& x) { return pow(x, 0.0) * x; }},  // 1 * NaN
      {"pow 2", [](const Tensor64& x) { return pow(x, 2.0); }},
      {"pow 0.5", [](const Tensor64& x) { return pow(x, 0.5); }},
      {"clamp", [](const Tensor64& x) { return clamp(x, -1.0, 1.0); }},
      {"add", [](const Tensor64& x) { return x + Tensor64::ones({4}); }},
      {"sub", [](const Tensor64& x) { return Tensor64::ones({4}) - x; }},
      {"mul", [](const Tensor64& x) { return x * Tensor64::full({4}, 2.0); }},
      {"div", [](const Tensor64& x) { return Tensor64::full({4}, 2.0) / x; }},
  };
  for (const auto& [name, f] : unary) {
    INFO("op ", name);
    // NaN at every position of a SIMD packet-sized input, and once per lane.
    for (Index at = 0; at < 4; ++at) {
      auto x = Tensor64::full({4}, 0.5).requires_grad_();
      x.data()[at] = kNaN;
      Tensor64 y;
      CHECK_NOTHROW(y = f(x));
      CHECK(std::isnan(y.data()[at]));
      for (Index i = 0; i < 4; ++i)
        if (i != at) CHECK_FALSE(std::isnan(y.data()[i]));
      CHECK_NOTHROW(y.backward(Tensor64::ones({4})));
    }
  }
  // Float tensors too (the vectorized float paths differ from double's).
  auto xf = Tensor::full({16}, 0.5f);
  xf.data()[5] = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(clamp(xf, -1.0f, 1.0f).data()[5]));
  CHECK(std::isnan(abs(xf).data()[5]));
  CHECK(std::isnan(exp(xf).data()[5]));
}

template <class T>
void check_arithmetic_at_any_size() {
  using X = TensorT<T>;
  using edge::check_any_size;
  auto full = [](const X& x, T v) { return X::full(x.shape(), v); };
  // Each op's one-element value is the C library's (or IEEE's) result.
  check_any_size<T>("exp", [](const X& x) { return exp(x); }, [](T v) { return std::exp(v); });
  check_any_size<T>("log", [](const X& x) { return log(x); }, [](T v) { return std::log(v); });
  check_any_size<T>("sqrt", [](const X& x) { return sqrt(x); }, [](T v) { return std::sqrt(v); });
  check_any_size<T>("abs", [](const X& x) { return abs(x); }, [](T v) { return std::abs(v); });
  constexpr T inf = std::numeric_limits<T>::infinity();
  for (const T p : {T(0), T(1), T(2), T(3), T(-1), T(-2), T(-3), T(0.5), T(-0.5), T(1.5), inf, -inf}) {
    check_any_size<T>("pow " + std::to_string(p), [p](const X& x) { return pow(x, p); },
                      [p](T v) { return std::pow(v, p); });
  }
  check_any_size<T>("clamp", [](const X& x) { return clamp(x, T(-1), T(2)); },
                    [](T v) { return std::isnan(v) ? v : std::min(std::max(v, T(-1)), T(2)); });
  check_any_size<T>("neg", [](const X& x) { return -x; }, [](T v) { return -v; });
  for (const T c : {T(2), T(0), std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity()}) {
    const std::string with = " with " + std::to_string(c);
    check_any_size<T>("add_scalar" + with, [c](const X& x) { return x + c; }, [c](T v) { return v + c; });
    check_any_size<T>("rsub_scalar" + with, [c](const X& x) { return c - x; }, [c](T v) { return c - v; });
    check_any_size<T>("mul_scalar" + with, [c](const X& x) { return x * c; }, [c](T v) { return v * c; });
    check_any_size<T>("div_scalar" + with, [c](const X& x) { return x / c; }, [c](T v) { return v / c; });
    check_any_size<T>("rdiv_scalar" + with, [c](const X& x) { return c / x; }, [c](T v) { return c / v; });
    check_any_size<T>("add" + with, [&](const X& x) { return x + full(x, c); }, [c](T v) { return v + c; });
    check_any_size<T>("sub" + with, [&](const X& x) { return full(x, c) - x; }, [c](T v) { return c - v; });
    check_any_size<T>("mul" + with, [&](const X& x) { return x * full(x, c); }, [c](T v) { return v * c; });
    check_any_size<T>("div" + with, [&](const X& x) { return full(x, c) / x; }, [c](T v) { return c / v; });
    check_any_size<T>("div by" + with, [&](const X& x) { return x / full(x, c); }, [c](T v) { return v / c; });
  }
}

TEST_CASE("arithmetic: infinities and other specials give the C library's value at every tensor size, float") {
  check_arithmetic_at_any_size<float>();
}

TEST_CASE("arithmetic: infinities and other specials give the C library's value at every tensor size, double") {
  check_arithmetic_at_any_size<double>();
}

// --- errors -----------------------------------------------------------------

TEST_CASE("arithmetic: incompatible shapes are a ShapeError naming the op and both shapes") {
  auto a = Tensor64::zeros({3, 4}), b = Tensor64::zeros({3});
  CHECK_THROWS_WITH_SUBSTR(a + b, ShapeError, "add: shapes [3x4] and [3] cannot be broadcast (dimension 1: 4 vs 3)");
  CHECK_THROWS_WITH_SUBSTR(a - b, ShapeError, "sub: shapes [3x4] and [3] cannot be broadcast");
  CHECK_THROWS_WITH_SUBSTR(a * b, ShapeError, "mul: shapes [3x4] and [3] cannot be broadcast");
  CHECK_THROWS_WITH_SUBSTR(b / a, ShapeError, "div: shapes [3] and [3x4] cannot be broadcast (dimension 1: 3 vs 4)");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::zeros({2, 3, 4}) * Tensor64::zeros({2, 4}), ShapeError,
                           "mul: shapes [2x3x4] and [2x4] cannot be broadcast (dimension 1: 3 vs 2)");
}

TEST_CASE("arithmetic: clamp with low > high is a ValueError naming both bounds") {
  auto x = Tensor64::zeros({2});
  CHECK_THROWS_WITH_SUBSTR(clamp(x, 2.0, 1.0), ValueError, "clamp: low bound 2 is above high bound 1");
  CHECK_THROWS_WITH_SUBSTR(clamp(Tensor::zeros({2}), 0.5f, -0.5f), ValueError,
                           "clamp: low bound 0.5 is above high bound -0.5");
}
