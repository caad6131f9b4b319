// FlowMonitor: layer naming, backward attenuation, gradient-norm history and
// flags, dead units over a pass, and the telemetry it logs.
#include <ember/ember.hpp>

#include <cmath>

#include "../test_helpers.hpp"
#include "net.hpp"

using namespace ember;
using namespace ember::diag;

namespace {

template <class T>
TensorT<T> mse(const TensorT<T>& pred, const TensorT<T>& target) {
  return mean(pow(pred - target, T(2)));
}

}  // namespace

TEST_CASE("FlowMonitor: activation layers are named by op and call order within a step") {
  FlowMonitor<double> m;
  auto x = Tensor64::from({{0.0, 1.0}});
  {
    auto watch = m.watch(0);
    CHECK(watch.active());
    sigmoid(x);
    tanh(x);
    sigmoid(x);
  }
  REQUIRE(m.activations().size() == 3);
  CHECK(m.activations()[0].layer == "sigmoid#0");
  CHECK(m.activations()[1].layer == "tanh#0");
  CHECK(m.activations()[2].layer == "sigmoid#1");
  CHECK(m.activations()[0].stats.mean == doctest::Approx((0.5 + 1 / (1 + std::exp(-1.0))) / 2));
  {
    auto watch = m.watch(1);
    tanh(x);
  }
  REQUIRE(m.activations().size() == 1);
  CHECK(m.activations()[0].layer == "tanh#0");
  CHECK(m.step() == 1);
}

TEST_CASE("FlowMonitor: uninstalled it sees nothing; NoGradGuard passes give statistics but no graph") {
  FlowMonitor<double> m;
  auto x = Tensor64::from({1.0, -1.0}).requires_grad_();
  m.begin_step(0);
  sigmoid(x);  // not installed
  CHECK(m.activations().empty());
  {
    auto watch = m.watch(1);
    CHECK(observers<double>().size() == 1);
    NoGradGuard no_grad;
    relu(x);
  }
  CHECK(observers<double>().empty());
  REQUIRE(m.activations().size() == 1);
  CHECK(m.activations()[0].stats.zero_fraction == 0.5);
  CHECK(m.flow().empty());
}

TEST_CASE("FlowMonitor: attenuation gives the gradient norm arriving at and leaving every node") {
  FlowMonitor<double> m;
  auto x = Tensor64::from({1.0, 2.0, 3.0, 4.0}).requires_grad_();
  {
    auto watch = m.watch(0);
    sum(x * 3.0).backward();
  }
  auto flow = m.flow();
  REQUIRE(flow.size() == 2);
  CHECK(flow[0].name == "mul_scalar#0");
  CHECK(flow[0].seq == 0);
  CHECK(flow[0].inputs == std::vector<std::string>{"leaf"});
  CHECK(flow[0].grad_out == doctest::Approx(2.0));  // ||ones(4)||
  CHECK(flow[0].grad_in.at(0) == doctest::Approx(6.0));
  CHECK(std::isnan(flow[0].gain()));  // its only input is a leaf
  CHECK(flow[1].gain() == doctest::Approx(2.0));
  CHECK(flow[1].name == "sum#0");
  CHECK(flow[1].inputs == std::vector<std::string>{"mul_scalar#0"});
  CHECK(flow[1].grad_out == doctest::Approx(1.0));
  CHECK(flow[1].grad_in.at(0) == doctest::Approx(2.0));
  CHECK(m.flow_table().find("mul_scalar#0") != std::string::npos);
}

TEST_CASE("FlowMonitor: a broadcast input's gradient norm is taken after summing back to its shape") {
  FlowMonitor<double> m;
  auto a = Tensor64::ones({2, 3}).requires_grad_();
  auto b = Tensor64::ones({3}).requires_grad_();
  auto c = Tensor64::ones({3});  // needs no grad: no gradient is sent to it
  {
    auto watch = m.watch(0);
    sum(a + b + c).backward();
  }
  auto flow = m.flow();
  REQUIRE(flow.size() == 3);
  CHECK(flow[0].grad_in.at(0) == doctest::Approx(std::sqrt(6.0)));
  CHECK(flow[0].grad_in.at(1) == doctest::Approx(std::sqrt(12.0)));  // b receives [2, 2, 2]
  CHECK(std::isnan(flow[1].grad_in.at(1)));
  CHECK(flow[1].inputs.at(0) == "add#0");
}

TEST_CASE("FlowMonitor: a saturated sigmoid layer shows where the gradient dies") {
  FlowMonitor<double> m;
  auto x = Tensor64::from({{50.0, -50.0}, {-50.0, 50.0}});
  auto w = Tensor64::ones({2, 2}).requires_grad_();
  {
    auto watch = m.watch(0);
    auto h = sigmoid(x * w);  // +-50 after the multiply
    sum(h).backward();
  }
  const auto& a = m.activations().at(0);
  CHECK(a.stats.saturated == 1.0);
  CHECK(a.grad_out == doctest::Approx(2.0));
  CHECK(a.grad_in < 1e-20);
  CHECK(m.flow().at(1).gain() < 1e-20);
}

TEST_CASE("FlowMonitor: a 10-layer sigmoid stack at standard init flags vanishing gradients") {
  Generator gen(42);
  test_net::Mlp<float> net({16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16}, "sigmoid", gen);
  auto x = Tensor::randn({64, 16}, gen);
  auto y = Tensor::rand({64, 16}, gen);
  FlowMonitor<float> m;
  GradientReport r;
  {
    auto watch = m.watch(0);
    mse(net.forward(x), y).backward();
    r = m.record_gradients(net.params);
  }
  REQUIRE(r.layers.size() == 10);
  CHECK(r.layers.front().name == "layers.0");
  CHECK(r.layers.back().name == "layers.9");
  CHECK(r.parameters.size() == 20);
  CHECK(r.first_last_ratio < 1e-4);
  INFO("ratio ", r.first_last_ratio, ": ", r.reason);
  CHECK(r.vanishing);
  CHECK_FALSE(r.exploding);
  CHECK(r.reason.find("first/last layer ratio") != std::string::npos);
  // Every layer passes less gradient down than it receives.
  REQUIRE(m.activations().size() == 10);
  for (const auto& a : m.activations()) CHECK(a.grad_in < a.grad_out * 0.3);
  auto& t = m.telemetry();
  CHECK(t.value(0, "(model)", "vanishing") == 1.0);
  CHECK(t.value(0, "layers.3", "weight.grad_norm").has_value());
  CHECK(*t.value(0, "(model)", "first_last_ratio") == doctest::Approx(r.first_last_ratio));
}

TEST_CASE("FlowMonitor: a shallow relu net is not flagged") {
  Generator gen(3);
  test_net::Mlp<float> net({8, 32, 4}, "relu", gen);
  FlowMonitor<float> m;
  auto watch = m.watch(0);
  mse(net.forward(Tensor::randn({32, 8}, gen)), Tensor::rand({32, 4}, gen)).backward();
  auto r = m.record_gradients(net.params);
  CHECK_FALSE(r.vanishing);
  CHECK_FALSE(r.exploding);
  CHECK(r.reason.empty());
}

TEST_CASE("gradient_report: layers, norms, ratio and each documented threshold") {
  auto grads = [](std::vector<std::pair<std::string, std::vector<double>>> spec) {
    NamedParameters<double> params;
    for (auto& [name, g] : spec) {
      auto p = Tensor64::zeros({static_cast<Index>(g.size())}).requires_grad_();
      sum(p * Tensor64::from_data(g, {static_cast<Index>(g.size())})).backward();  // grad = g
      params.emplace_back(name, p);
    }
    return params;
  };
  auto r = gradient_report(grads({{"a.weight", {3, 4}}, {"a.bias", {12}}, {"b", {1, 0}}}));
  REQUIRE(r.layers.size() == 2);
  CHECK(r.parameters[0].layer == "a");
  CHECK(r.parameters[0].param == "weight");
  CHECK(r.parameters[0].norm == 5.0);
  CHECK(r.parameters[2].param == "b");
  CHECK(r.layers[0].norm == 13.0);
  CHECK(r.total_norm == doctest::Approx(std::sqrt(170.0)));
  CHECK(r.first_last_ratio == 13.0);
  CHECK_FALSE(r.vanishing);
  CHECK_FALSE(r.exploding);

  auto tiny = gradient_report(grads({{"a", {1}}, {"b", {1e-8}}, {"c", {1}}}));
  CHECK(tiny.vanishing);  // a layer below 1e-7
  CHECK(tiny.reason == "vanishing: layer b norm 1e-08 < 1e-07");
  auto ratio = gradient_report(grads({{"a", {1e-5}}, {"b", {1}}}));
  CHECK(ratio.vanishing);  // first/last 1e-5 < 1e-4
  auto big = gradient_report(grads({{"a", {2e3}}, {"b", {1e3}}}));
  CHECK(big.exploding);  // 2e3 > 1e3
  CHECK_FALSE(big.vanishing);
  auto steep = gradient_report(grads({{"a", {100}}, {"b", {1e-3}}}));
  CHECK(steep.exploding);  // first/last 1e5 > 1e4
  auto nan = gradient_report(grads({{"a", {std::nan("")}}}));
  CHECK(nan.exploding);
  CHECK(std::isnan(nan.first_last_ratio));  // one layer only
  GradientThresholds loose;
  loose.exploding_norm = 1e4;
  CHECK_FALSE(gradient_report(grads({{"a", {2e3}}, {"b", {1e3}}}), loose).exploding);
  // A float gradient whose squares overflow float still gets its norm.
  auto huge = Tensor::zeros({2}).requires_grad_();
  sum(huge * Tensor::from({3e20f, 4e20f})).backward();
  CHECK(gradient_report(NamedParameters<float>{{"h", huge}}).total_norm == doctest::Approx(5e20).epsilon(1e-6));
  // Without a gradient (frozen or unused), a parameter is skipped.
  NamedParameters<double> frozen{{"w", Tensor64::ones({2})}, {"v", Tensor64::ones({2}).requires_grad_()}};
  CHECK(gradient_report(frozen).parameters.empty());
}

TEST_CASE("FlowMonitor: the telemetry has one tidy row per step x layer x metric") {
  Generator gen(5);
  test_net::Mlp<double> net({3, 4, 2}, "sigmoid", gen);
  auto x = Tensor64::randn({5, 3}, gen);
  auto y = Tensor64::rand({5, 2}, gen);
  FlowMonitor<double> m;
  for (std::int64_t step = 0; step < 2; ++step) {
    auto watch = m.watch(step);
    net.zero_grad();
    mse(net.forward(x), y).backward();
    m.record_gradients(net.params);
  }
  // Per step: 2 activation layers x (mean, std, saturated, dlocal, grad_out,
  // grad_in) + 4 parameters + 2 layers + 4 model rows.
  const std::string csv = m.telemetry().csv();
  CHECK(csv.starts_with("step,layer,metric,value\n"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 2 * (12 + 4 + 2 + 4));
  CHECK(m.telemetry().size() == 44);
  CHECK(csv.find("\n1,sigmoid#1,saturated,") != std::string::npos);
  CHECK(csv.find("\n0,layers.1,bias.grad_norm,") != std::string::npos);
  CHECK(m.telemetry().series("sigmoid#0", "mean").size() == 2);

  const std::string table = m.table();
  CHECK(table.starts_with("step 1\n"));
  for (const char* s : {"sigmoid#1", "saturated", "dlocal", "grad_out", "layers.0", "weight.grad_norm", "(model)",
                        "first_last_ratio"})
    CHECK_MESSAGE(table.find(s) != std::string::npos, s);
}

TEST_CASE("FlowMonitor: every = N monitors only every N-th step") {
  MonitorOptions o;
  o.every = 2;
  FlowMonitor<double> m(o);
  auto x = Tensor64::from({1.0}).requires_grad_();
  for (std::int64_t step = 0; step < 4; ++step) {
    auto watch = m.watch(step);
    CHECK(watch.active() == (step % 2 == 0));
    CHECK(observers<double>().size() == (step % 2 == 0 ? 1u : 0u));
    sum(sigmoid(x)).backward();
    m.record_gradients({{"x", x}});
  }
  CHECK(m.telemetry().series("sigmoid#0", "mean").size() == 2);
  CHECK(m.step() == 2);  // the skipped step 3 kept step 2's records
  CHECK(m.activations().size() == 1);
  CHECK(m.flow().size() == 2);
  auto logged = m.telemetry().series("x", "grad_norm");
  REQUIRE(logged.size() == 2);
  CHECK(logged[0].first == 0);
  CHECK(logged[1].first == 2);
}

TEST_CASE("FlowMonitor: dead units over a pass of several training steps, logged at the last step") {
  Generator gen(9);
  auto w = Tensor::rand({4, 5}, gen, -0.5f, 0.5f).requires_grad_();
  auto b = Tensor::from({-100.f, -100.f, 0.f, 0.f, 0.f});
  FlowMonitor<float> m;
  m.begin_pass();
  for (std::int64_t step = 0; step < 3; ++step) {
    auto watch = m.watch(step);
    sum(relu(matmul(Tensor::randn({8, 4}, gen), w) + b)).backward();
  }
  auto r = m.end_pass();
  REQUIRE(r.layers.size() == 1);
  CHECK(r.layers[0].samples == 24);
  CHECK(r.layers[0].dead == std::vector<Index>{0, 1});
  CHECK(m.telemetry().value(2, "relu#0", "dead") == 2.0);
  CHECK(*m.telemetry().value(2, "relu#0", "dead_frac") == doctest::Approx(0.4));
  CHECK(m.telemetry().value(2, "relu#0", "zeros") >= 0.4);
}

TEST_CASE("FlowMonitor: log_all_nodes adds every recorded node's gradient norms") {
  MonitorOptions o;
  o.log_all_nodes = true;
  FlowMonitor<double> m(o);
  auto x = Tensor64::ones({2, 3});
  auto w = Tensor64::ones({3, 2}).requires_grad_();
  {
    auto watch = m.watch(0);
    sum(tanh(matmul(x, w))).backward();
  }
  auto& t = m.telemetry();
  CHECK(t.value(0, "matmul#0", "grad_out").has_value());
  CHECK_FALSE(t.value(0, "matmul#0", "grad_in.0").has_value());  // x needs no grad
  CHECK(t.value(0, "matmul#0", "grad_in.1").has_value());
  CHECK(t.value(0, "sum#0", "grad_in.0").has_value());
  CHECK_FALSE(t.value(0, "tanh#0", "grad_in.0").has_value());  // logged as an activation: grad_in
  CHECK(t.value(0, "tanh#0", "grad_in").has_value());
}
