// ops/activation_more.cpp: log_sigmoid, hardtanh, relu6, hardsigmoid,
// hardswish, selu, celu, mish, softsign, prelu, glu. Values from PyTorch's
// definitions (closed forms written here), gradcheck and gradgradcheck away
// from kinks, edge values, errors.
#include <ember/ember.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;
constexpr double kAlpha = 1.6732632423543772848170429916717, kScale = 1.0507009873554804934193349852946;

double sig(double v) { return 1 / (1 + std::exp(-v)); }
double softplus_ref(double v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); }

struct Case {
  const char* name;
  std::function<Tensor64(const Tensor64&)> f;
  std::function<double(double)> ref, slope;
};

const std::vector<Case> kCases = {
    {"log_sigmoid", [](const Tensor64& t) { return log_sigmoid(t); }, [](double v) { return -softplus_ref(-v); },
     [](double v) { return sig(-v); }},
    {"hardtanh", [](const Tensor64& t) { return hardtanh(t); }, [](double v) { return std::clamp(v, -1.0, 1.0); },
     [](double v) { return v > -1 && v < 1 ? 1.0 : 0.0; }},
    {"relu6", [](const Tensor64& t) { return relu6(t); }, [](double v) { return std::clamp(v, 0.0, 6.0); },
     [](double v) { return v > 0 && v < 6 ? 1.0 : 0.0; }},
    {"hardsigmoid", [](const Tensor64& t) { return hardsigmoid(t); },
     [](double v) { return std::clamp(v / 6 + 0.5, 0.0, 1.0); }, [](double v) { return v > -3 && v < 3 ? 1.0 / 6 : 0.0; }},
    {"hardswish", [](const Tensor64& t) { return hardswish(t); },
     [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); },
     [](double v) { return v < -3 ? 0.0 : v <= 3 ? v / 3 + 0.5 : 1.0; }},
    {"selu", [](const Tensor64& t) { return selu(t); },
     [](double v) { return kScale * (v > 0 ? v : kAlpha * std::expm1(v)); },
     [](double v) { return kScale * (v > 0 ? 1 : kAlpha * std::exp(v)); }},
    {"celu", [](const Tensor64& t) { return celu(t, 0.5); },
     [](double v) { return v > 0 ? v : 0.5 * std::expm1(v / 0.5); }, [](double v) { return v > 0 ? 1 : std::exp(v / 0.5); }},
    {"mish", [](const Tensor64& t) { return mish(t); }, [](double v) { return v * std::tanh(softplus_ref(v)); },
     [](double v) {
       const double t = std::tanh(softplus_ref(v));
       return t + v * (1 - t * t) * sig(v);
     }},
    {"softsign", [](const Tensor64& t) { return softsign(t); }, [](double v) { return v / (1 + std::abs(v)); },
     [](double v) { return 1 / ((1 + std::abs(v)) * (1 + std::abs(v))); }},
};

}  // namespace

TEST_CASE("activation_more: values and slopes against the closed forms (double)") {
  const std::vector<double> xs{-40.0, -7.0, -3.5, -2.9, -1.2, -0.4, 0.3, 0.9, 2.5, 3.2, 5.0, 6.5, 40.0};
  for (const auto& c : kCases) {
    INFO(std::string(c.name));
    auto x = Tensor64::from_data(xs, Shape{Index(xs.size())}).requires_grad_();
    const auto y = c.f(x);
    CHECK(std::string(y.op()) == c.name);
    y.backward(Tensor64::ones(y.shape()));
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO("x = ", xs[i]);
      CHECK(y.values()[Index(i)] == doctest::Approx(c.ref(xs[i])).epsilon(1e-12));
      CHECK(x.grad().values()[Index(i)] == doctest::Approx(c.slope(xs[i])).epsilon(1e-12));
    }
  }
}

TEST_CASE("activation_more: gradcheck and gradgradcheck away from kinks, and at +-20, +-40") {
  Generator gen(4);
  auto x = Tensor64::rand({9}, gen, -5, 5);
  for (Index i = 0; i < x.numel(); ++i)  // keep away from the kinks at -3, -1, 0, 1, 3, 6
    for (double k : {-3.0, -1.0, 0.0, 1.0, 3.0, 6.0})
      if (std::abs(x.data()[i] - k) < 0.05) x.data()[i] += 0.1;
  const auto edges = Tensor64::from({-40.0, -20.0, 20.0, 40.0});
  for (const auto& c : kCases) {
    INFO(std::string(c.name));
    const auto f = c.f;
    CHECK(gradcheck([&](const Inputs& in) { return f(in[0]) * in[0]; }, {x}));
    const auto gg = gradgradcheck([&](const Inputs& in) { return f(in[0]) * in[0]; }, {x});
    CHECK_MESSAGE(gg.ok, gg.message);
    const auto ge = gradgradcheck([&](const Inputs& in) { return f(in[0]); }, {edges});
    CHECK_MESSAGE(ge.ok, ge.message);
  }
}

TEST_CASE("activation_more: prelu with one slope or one per channel, and glu") {
  auto x = Tensor64::from({{-2.0, 3.0}, {4.0, -5.0}}).requires_grad_();
  auto w = Tensor64::from({0.25, 0.5}).requires_grad_();
  const auto y = prelu(x, w);
  CHECK(std::string(y.op()) == "prelu");
  CHECK(y.to_vector() == std::vector<double>{-0.5, 3.0, 4.0, -2.5});
  sum(y).backward();
  CHECK(w.grad().to_vector() == std::vector<double>{-2.0, -5.0});  // x where x <= 0, per channel
  CHECK(x.grad().to_vector() == std::vector<double>{0.25, 1.0, 1.0, 0.5});
  Generator gen(5);
  const auto r = Tensor64::rand({3, 2, 4}, gen, -2, 2);
  for (const auto& slope : {Tensor64::from({0.3}), Tensor64::from({0.2, -0.7})}) {
    CHECK(gradcheck([](const Inputs& in) { return prelu(in[0], in[1]); }, {r, slope}));
    const auto gg = gradgradcheck([](const Inputs& in) { return prelu(in[0], in[1]) * in[0]; }, {r, slope});
    CHECK_MESSAGE(gg.ok, gg.message);
  }
  CHECK_THROWS_WITH_SUBSTR(prelu(r, Tensor64::from({1.0, 2.0, 3.0})), ShapeError,
                           "prelu: weight [3] must have 1 or 2 elements (the channels of input [3x2x4])");
  // glu: first half times sigmoid of the second
  const auto g = glu(Tensor64::from({{1.0, 2.0, 0.0, -1.0}}));
  CHECK(g.at({0, 0}) == doctest::Approx(0.5));
  CHECK(g.at({0, 1}) == doctest::Approx(2 * sig(-1.0)));
  CHECK(gradcheck([](const Inputs& in) { return glu(in[0], 1); }, {r}));
  CHECK(gradgradcheck([](const Inputs& in) { return glu(in[0], 2); }, {r}).ok);
  CHECK_THROWS_WITH_SUBSTR(glu(r, 0), ShapeError, "glu: axis 0 of input [3x2x4] has odd size 3");
  CHECK_THROWS_WITH_SUBSTR(hardtanh(r, 1.0, -1.0), ValueError, "hardtanh: min_val 1 is not below max_val -1");
}
