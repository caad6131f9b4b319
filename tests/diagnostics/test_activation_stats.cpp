// Activation statistics and dead units on inputs with known answers; every
// mean local derivative is checked against the engine's own backward.
#include <ember/ember.hpp>

#include <cmath>

#include "../test_helpers.hpp"

using namespace ember;
using namespace ember::diag;

namespace {

template <class T>
ActivationStats stats_of(const char* op, const TensorT<T>& x, const ActivationThresholds& th = {}) {
  auto h = activation<T>(op)(x);
  return activation_stats<T>(op, x, h, th);
}

}  // namespace

TEST_CASE("activation_stats: a sigmoid layer fed +-50 is 100% saturated and passes no gradient") {
  auto x = Tensor::from({{50.f, -50.f, 50.f}, {-50.f, 50.f, -50.f}});
  auto s = stats_of("sigmoid", x);
  CHECK(s.count == 6);
  CHECK(s.saturated == 1.0);
  CHECK(s.mean == doctest::Approx(0.5));
  CHECK(s.std == doctest::Approx(0.5));
  CHECK(s.mean_derivative < 1e-20);
  CHECK(std::isnan(s.zero_fraction));  // not relu-like
}

TEST_CASE("activation_stats: sigmoid at 0 is not saturated and has derivative 1/4") {
  auto s = stats_of("sigmoid", Tensor64::zeros({4, 5}));
  CHECK(s.saturated == 0.0);
  CHECK(s.mean == 0.5);
  CHECK(s.std == 0.0);
  CHECK(s.mean_derivative == 0.25);
}

TEST_CASE("activation_stats: tanh saturates above |H| = 0.99, with configurable thresholds") {
  // tanh(3) = 0.99505 > 0.99, tanh(2) = 0.964 < 0.99
  auto x = Tensor64::from({0.0, 2.0, 3.0, -3.0});
  auto s = stats_of("tanh", x);
  CHECK(s.saturated == 0.5);
  const double t2 = std::tanh(2.0), t3 = std::tanh(3.0);
  CHECK(s.mean_derivative == doctest::Approx((1.0 + (1 - t2 * t2) + 2 * (1 - t3 * t3)) / 4));
  ActivationThresholds strict;
  strict.tanh_abs = 0.999;
  CHECK(stats_of("tanh", x, strict).saturated == 0.0);
  strict.tanh_abs = 0.9;
  CHECK(stats_of("tanh", x, strict).saturated == 0.75);
}

TEST_CASE("activation_stats: sigmoid thresholds are configurable") {
  auto x = Tensor64::from({-5.0, 0.0, 5.0, 10.0});  // sigmoid: 0.0067, 0.5, 0.9933, 0.99995
  CHECK(stats_of("sigmoid", x).saturated == 0.75);
  ActivationThresholds th;
  th.sigmoid_low = 0.001;
  th.sigmoid_high = 0.99999;
  CHECK(stats_of("sigmoid", x, th).saturated == 0.0);
}

TEST_CASE("activation_stats: relu counts exact zeros; zeros are its saturated region") {
  auto x = Tensor64::from({-1.0, 0.0, 2.0, 3.0, -4.0});
  auto s = stats_of("relu", x);
  CHECK(s.zero_fraction == 0.6);
  CHECK(s.saturated == 0.6);
  CHECK(s.mean_derivative == doctest::Approx(0.4));
  CHECK(s.mean == 1.0);
}

TEST_CASE("activation_stats: the mean local derivative equals the engine's gradient of sum(act(x))") {
  Generator gen(7);
  // Includes exact zeros and large magnitudes.
  auto x = Tensor64::randn({8, 6}, gen, 0.0, 3.0);
  x.values()[0] = 0.0;
  x.values()[1] = -40.0;
  x.values()[2] = 40.0;
  // Every registered activation, so one added to the registry without its
  // local derivative in diagnostics fails here.
  for (const std::string& name : activation_names()) {
    const char* op = name.c_str();
    CAPTURE(name);
    REQUIRE(is_activation(op));
    auto leaf = x.detach().requires_grad_();
    auto h = activation<double>(op)(leaf);
    sum(h).backward();
    const double engine = leaf.grad().values().mean();
    CHECK(activation_stats<double>(op, leaf, h).mean_derivative == doctest::Approx(engine).epsilon(1e-9));
  }
}

TEST_CASE("activation_stats: leaky_relu's slope and elu's alpha are read off the values") {
  auto x = Tensor64::from({-2.0, -1.0, 1.0, 3.0});
  CHECK(activation_stats<double>("leaky_relu", x, leaky_relu(x, 0.2)).mean_derivative ==
        doctest::Approx((0.2 + 0.2 + 1 + 1) / 4));
  CHECK(activation_stats<double>("elu", x, elu(x, 0.5)).mean_derivative ==
        doctest::Approx((0.5 * std::exp(-2.0) + 0.5 * std::exp(-1.0) + 2) / 4));
  // leaky_relu: zero fraction only counts exact zeros
  auto z = Tensor64::from({0.0, -1.0});
  CHECK(activation_stats<double>("leaky_relu", z, leaky_relu(z)).zero_fraction == 0.5);
}

TEST_CASE("activation_stats: NaN in gives NaN statistics; empty gives NaN; unknown ops are refused") {
  auto x = Tensor64::from({1.0, std::nan("")});
  auto s = stats_of("tanh", x);
  CHECK(std::isnan(s.mean));
  CHECK(std::isnan(s.mean_derivative));
  CHECK(s.saturated == 0.0);  // NaN is not counted as saturated
  auto e = Tensor64::zeros({0, 3});
  auto se = activation_stats<double>("relu", e, e);
  CHECK(se.count == 0);
  CHECK(std::isnan(se.mean));
  CHECK_FALSE(is_activation("matmul"));
  CHECK_FALSE(is_activation("softmax"));
  CHECK_THROWS_WITH_SUBSTR(activation_stats<double>("matmul", x, x), ValueError,
                           "activation_stats: 'matmul' is not a known activation");
  auto y = Tensor64::zeros({3});
  CHECK_THROWS_WITH_SUBSTR(activation_stats<double>("relu", x, y), ShapeError,
                           "activation_stats: relu: input has 2 elements, output 3");
}

TEST_CASE("dead_units: a relu layer with a large negative bias is 100% dead over the data set") {
  Generator gen(1);
  auto data = Tensor::randn({50, 4}, gen);
  auto w = Tensor::rand({4, 6}, gen, -0.5f, 0.5f);
  auto b = Tensor::full({6}, -100.f);
  auto healthy_b = Tensor::zeros({6});
  auto r = dead_units<float>([&](const Tensor& x) { return relu(matmul(x, w) + b); }, data, 16);
  REQUIRE(r.layers.size() == 1);
  CHECK(r.layers[0].layer == "relu#0");
  CHECK(r.layers[0].width == 6);
  CHECK(r.layers[0].samples == 50);  // 16 + 16 + 16 + 2
  CHECK(r.layers[0].dead.size() == 6);
  CHECK(r.fraction() == 1.0);
  auto h = dead_units<float>([&](const Tensor& x) { return relu(matmul(x, w) + healthy_b); }, data, 16);
  CHECK(h.dead() == 0);
}

TEST_CASE("dead_units: exactly the units that are zero for every sample, per layer in call order") {
  // Unit 1 of layer 0 is dead; unit 0 of layer 1 is zero in every batch but one sample.
  auto data = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}, {-5.0, 6.0}});
  auto mask0 = Tensor64::from({1.0, -1.0});
  auto report = dead_units<double>(
      [&](const Tensor64& x) {
        (void)relu(x * mask0);  // column 1: -x1 < 0 always -> dead
        return relu(x);            // column 0: -5 < 0 only in row 2 -> alive
      },
      data, 1);
  REQUIRE(report.layers.size() == 2);
  CHECK(report.layers[0].dead == std::vector<Index>{1});
  CHECK(report.layers[1].dead.empty());
  CHECK(report.find("relu#1") == &report.layers[1]);
  CHECK(report.find("relu#2") == nullptr);
  CHECK(report.units() == 4);
  CHECK(report.fraction() == 0.25);
}

TEST_CASE("dead_units: errors name the function and the values") {
  auto data = Tensor::zeros({4, 2});
  auto f = [](const Tensor& x) { return relu(x); };
  CHECK_THROWS_WITH_SUBSTR(dead_units<float>(f, data, 0), ValueError, "dead_units: batch_size must be positive, got 0");
  CHECK_THROWS_WITH_SUBSTR(dead_units<float>(f, Tensor::scalar(1.f), 2), ShapeError, "dead_units: data must have a batch");
  DeadUnitTracker<float> tracker;
  ObserverScope<float> scope(tracker);
  relu(Tensor::zeros({2, 3}));
  tracker.begin_batch();
  CHECK_THROWS_WITH_SUBSTR(relu(Tensor::zeros({2, 5})), ShapeError, "dead_units: layer relu#0 had 3 units, now 5");
}

TEST_CASE("dead_units: the tracker sees forward passes under NoGradGuard and forgets at begin_pass") {
  DeadUnitTracker<double> tracker;
  ObserverScope<double> scope(tracker);
  NoGradGuard no_grad;
  relu(Tensor64::from({{-1.0, 1.0}}));
  CHECK(tracker.report().layers.at(0).dead == std::vector<Index>{0});
  tracker.begin_batch();
  relu(Tensor64::from({{1.0, -1.0}}));
  CHECK(tracker.report().layers.at(0).dead.empty());
  tracker.begin_pass();
  CHECK(tracker.report().layers.empty());
}
