// Initialization: statistics against the formulas on large tensors, gains,
// fans, determinism, errors.
#include <ember/ember.hpp>

#include <cmath>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

struct Stats {
  double mean = 0, var = 0, max_abs = 0;
};

template <class T>
Stats stats(const TensorT<T>& t) {
  Stats s;
  const auto v = t.values().template cast<double>();
  s.mean = v.mean();
  s.var = (v - s.mean).square().mean();
  s.max_abs = v.abs().maxCoeff();
  return s;
}

// Mean within 5 standard errors of 0, variance within 3% of the formula.
void check_zero_mean_variance(const Stats& s, double expected_var, Index n) {
  CHECK(std::abs(s.mean) < 5 * std::sqrt(expected_var / static_cast<double>(n)));
  CHECK(s.var == doctest::Approx(expected_var).epsilon(0.03));
}

// A uniform U(-b, b) stays inside its bound and reaches close to it.
void check_uniform_bound(const Stats& s, double bound) {
  CHECK(s.max_abs <= bound);
  CHECK(s.max_abs > 0.999 * bound);
}

const Shape kBig{400, 500};  // fan_in 500, fan_out 400, 200k values
constexpr Index kN = 200000;

}  // namespace

TEST_CASE("init: standard is U(±1/sqrt(fan_in)), for a weight and for a bias") {
  Generator gen(1);
  auto w = init::standard_(Tensor::empty(kBig), gen);
  const double bound = 1 / std::sqrt(500.0);
  check_zero_mean_variance(stats(w), bound * bound / 3, kN);
  check_uniform_bound(stats(w), bound);
  auto b = init::standard_(Tensor64::empty({kN}), gen, 500);
  check_zero_mean_variance(stats(b), bound * bound / 3, kN);
  check_uniform_bound(stats(b), bound);
}

TEST_CASE("init: xavier uniform and normal with gain") {
  Generator gen(2);
  for (double gain : {1.0, 5.0 / 3.0}) {
    CAPTURE(gain);
    const double var = gain * gain * 2.0 / (500 + 400);
    auto u = init::xavier_uniform_(Tensor::empty(kBig), gen, gain);
    check_zero_mean_variance(stats(u), var, kN);
    check_uniform_bound(stats(u), gain * std::sqrt(6.0 / 900));
    auto n = init::xavier_normal_(Tensor64::empty(kBig), gen, gain);
    check_zero_mean_variance(stats(n), var, kN);
  }
}

TEST_CASE("init: kaiming uniform and normal, fan_in and fan_out, nonlinearity gains") {
  Generator gen(3);
  struct Case {
    double a;
    FanMode mode;
    const char* nonlinearity;
    double var;
  };
  const Case cases[] = {
      {0, FanMode::fan_in, "relu", 2.0 / 500},
      {0, FanMode::fan_out, "relu", 2.0 / 400},
      {0, FanMode::fan_in, "leaky_relu", 2.0 / 500},  // PyTorch's default: a = 0
      {0.2, FanMode::fan_in, "leaky_relu", 2.0 / (1 + 0.04) / 500},
      {0, FanMode::fan_in, "tanh", 25.0 / 9 / 500},
      {0, FanMode::fan_out, "linear", 1.0 / 400},
  };
  for (const auto& c : cases) {
    CAPTURE(c.nonlinearity);
    CAPTURE(c.a);
    auto u = init::kaiming_uniform_(Tensor::empty(kBig), gen, c.a, c.mode, c.nonlinearity);
    check_zero_mean_variance(stats(u), c.var, kN);
    check_uniform_bound(stats(u), std::sqrt(3 * c.var));
    auto n = init::kaiming_normal_(Tensor::empty(kBig), gen, c.a, c.mode, c.nonlinearity);
    check_zero_mean_variance(stats(n), c.var, kN);
  }
}

TEST_CASE("init: uniform, normal, zeros, ones, constant") {
  Generator gen(4);
  auto u = init::uniform_(Tensor64::empty({kN}), gen, 2.0, 4.0);
  CHECK(stats(u).mean == doctest::Approx(3.0).epsilon(0.01));
  CHECK(stats(u).var == doctest::Approx(4.0 / 12).epsilon(0.03));
  auto n = init::normal_(Tensor64::empty({kN}), gen, -1.0, 0.5);
  CHECK(stats(n).mean == doctest::Approx(-1.0).epsilon(0.01));
  CHECK(stats(n).var == doctest::Approx(0.25).epsilon(0.03));
  CHECK(init::zeros_(Tensor::ones({3})).to_vector() == std::vector<float>{0, 0, 0});
  CHECK(init::ones_(Tensor::zeros({2})).to_vector() == std::vector<float>{1, 1});
  CHECK(init::constant_(Tensor64::zeros({2, 2}), 0.25).to_vector() == std::vector<double>{0.25, 0.25, 0.25, 0.25});
}

TEST_CASE("init: the same seed gives the same values, another seed others") {
  auto draw = [](std::uint64_t seed) {
    Generator gen(seed);
    auto w = init::kaiming_normal_(Tensor::empty({8, 8}), gen);
    auto b = init::xavier_uniform_(Tensor::empty({8, 8}), gen);
    auto v = w.to_vector();
    auto more = b.to_vector();
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  CHECK(draw(7) == draw(7));
  CHECK(draw(7) != draw(8));
  // Float and double draw the same numbers (double rounded to float).
  Generator g1(9), g2(9);
  auto f = init::standard_(Tensor::empty({4, 3}), g1);
  auto d = init::standard_(Tensor64::empty({4, 3}), g2);
  for (Index i = 0; i < 12; ++i) CHECK(f.data()[i] == static_cast<float>(d.data()[i]));
}

TEST_CASE("init: layer_ draws the weight by scheme, the bias 0 except under standard") {
  for (Init scheme : {Init::standard, Init::xavier_uniform, Init::xavier_normal, Init::kaiming_uniform,
                      Init::kaiming_normal}) {
    CAPTURE(to_string(scheme));
    Generator gen(5);
    auto w = Tensor64::empty(kBig);
    auto b = Tensor64::full({400}, 9.0);
    init::layer_(w, b, scheme, gen, 2.0);
    double var = 0;
    switch (scheme) {
      case Init::standard: var = 1.0 / 500 / 3; break;  // the gain does not apply
      case Init::xavier_uniform:
      case Init::xavier_normal: var = 4.0 * 2 / 900; break;
      case Init::kaiming_uniform:
      case Init::kaiming_normal: var = 4.0 / 500; break;
    }
    check_zero_mean_variance(stats(w), var, kN);
    if (scheme == Init::standard) {
      CHECK(stats(b).max_abs <= 1 / std::sqrt(500.0));
      CHECK(stats(b).var > 0);
    } else {
      CHECK(stats(b).max_abs == 0.0);
    }
  }
  Generator gen(6);
  init::layer_(Tensor::empty({3, 2}), Tensor{}, Init::kaiming, gen);  // no bias is fine
  CHECK(Init::kaiming == Init::kaiming_normal);
  CHECK(Init::xavier == Init::xavier_uniform);
}

TEST_CASE("init: calculate_gain matches PyTorch's values") {
  CHECK(calculate_gain("linear") == 1.0);
  CHECK(calculate_gain("identity") == 1.0);
  CHECK(calculate_gain("sigmoid") == 1.0);
  CHECK(calculate_gain("centered_sigmoid") == 1.0);
  CHECK(calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(calculate_gain("relu") == doctest::Approx(std::sqrt(2.0)));
  CHECK(calculate_gain("leaky_relu") == doctest::Approx(std::sqrt(2.0 / (1 + 0.01 * 0.01))));
  CHECK(calculate_gain("leaky_relu", 0.2) == doctest::Approx(std::sqrt(2.0 / 1.04)));
  CHECK(calculate_gain("leaky_relu", 0.0) == doctest::Approx(std::sqrt(2.0)));
  CHECK(calculate_gain("selu") == 0.75);
  for (const char* name : {"elu", "gelu", "gelu_tanh", "silu", "softplus"})
    CHECK(calculate_gain(name) == doctest::Approx(std::sqrt(2.0)));
  CHECK_THROWS_WITH_SUBSTR(calculate_gain("swish"), ValueError,
                           "calculate_gain: unknown nonlinearity 'swish' (known: linear,");
}

TEST_CASE("init: fans of a weight, and of a conv-style kernel") {
  CHECK(calculate_fans({4, 3}).fan_in == 3);
  CHECK(calculate_fans({4, 3}).fan_out == 4);
  CHECK(calculate_fans({8, 3, 5, 5}).fan_in == 75);
  CHECK(calculate_fans({8, 3, 5, 5}).fan_out == 200);
  CHECK_THROWS_WITH_SUBSTR(calculate_fans({5}), ShapeError,
                           "calculate_fans: tensor of shape [5] has fewer than 2 dimensions");
  Generator gen(1);
  CHECK_THROWS_WITH_SUBSTR(init::xavier_uniform_(Tensor::empty({5}), gen), ShapeError, "shape [5]");
  CHECK_THROWS_WITH_SUBSTR(init::standard_(Tensor::empty({5}), gen), ShapeError, "shape [5]");
}

TEST_CASE("init: scheme names") {
  CHECK(parse_init("kaiming") == Init::kaiming_normal);
  CHECK(parse_init("he") == Init::kaiming_normal);
  CHECK(parse_init("xavier") == Init::xavier_uniform);
  CHECK(parse_init("standard") == Init::standard);
  CHECK(parse_init("kaiming_uniform") == Init::kaiming_uniform);
  CHECK(std::string(to_string(Init::xavier_normal)) == "xavier_normal");
  CHECK_THROWS_WITH_SUBSTR(parse_init("lecun"), ValueError, "parse_init: unknown init scheme 'lecun'");
}

TEST_CASE("init: argument errors") {
  Generator gen(1);
  CHECK_THROWS_WITH_SUBSTR(init::uniform_(Tensor::empty({2}), gen, 1.0, 0.0), ValueError,
                           "uniform_: low 1 is above high 0");
  CHECK_THROWS_WITH_SUBSTR(init::normal_(Tensor::empty({2}), gen, 0.0, -1.0), ValueError,
                           "normal_: standard deviation -1 is negative");
  CHECK_THROWS_WITH_SUBSTR(init::standard_(Tensor::empty({2}), gen, -3), ValueError, "standard_: fan_in -3");
  CHECK_THROWS_WITH_SUBSTR(init::kaiming_normal_(Tensor::empty({2, 2}), gen, 0, FanMode::fan_in, "cube"),
                           ValueError, "unknown nonlinearity 'cube'");
}
