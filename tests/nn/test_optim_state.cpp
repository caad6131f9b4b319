// Optimizer state out and in: the names and values of state_dict(), a
// load that continues bit-identically, and every misfit as a one-line
// error that leaves the optimizer untouched.
#include <ember/ember.hpp>

#include <fmt/ranges.h>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

void set_grad(Tensor64 p, std::vector<double> g) {
  p.zero_grad();
  (p * Tensor64::from_data(g, p.shape())).backward(Tensor64::ones(p.shape()));
}

std::vector<double> values_of(const OptimizerState<double>& s, const std::string& name) {
  for (const auto& [n, t] : s.tensors)
    if (n == name) return t.to_vector();
  FAIL("no tensor " << name);
  return {};
}

// Everything in a state, for "nothing changed" checks.
std::string dump(const OptimizerState<double>& s) {
  std::string out = s.kind;
  for (const auto& [k, v] : s.scalars) out += fmt::format(" {}={}", k, v);
  for (const auto& [n, t] : s.tensors) out += fmt::format(" {}={}", n, fmt::join(t.to_vector(), ","));
  return out;
}

}  // namespace

TEST_CASE("SGD state: momentum buffers by position, hyperparameters and lr as scalars") {
  auto a = Tensor64::from({1.0, 2.0}).requires_grad_();
  auto b = Tensor64::scalar(3.0).requires_grad_();
  SGD64 opt({a, b}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  auto s0 = opt.state_dict();
  CHECK(s0.kind == "SGD");
  CHECK(s0.tensors.empty());  // no buffer holds a value before the first step
  set_grad(a, {1.0, -1.0});  // b gets no gradient: its buffer stays empty
  opt.step();
  set_grad(a, {0.5, 0.5});
  opt.step();
  const auto s = opt.state_dict();
  REQUIRE(s.tensors.size() == 1);
  CHECK(s.tensors[0].first == "0.momentum_buffer");
  // buf1 = g1 + wd·p0; buf2 = 0.9·buf1 + g2 + wd·p1, with p1 = p0 - 0.1·buf1
  const double b1a = 1.0 + 0.01 * 1.0, b1b = -1.0 + 0.01 * 2.0;
  const double b2a = 0.9 * b1a + 0.5 + 0.01 * (1.0 - 0.1 * b1a), b2b = 0.9 * b1b + 0.5 + 0.01 * (2.0 - 0.1 * b1b);
  const auto buf = values_of(s, "0.momentum_buffer");
  CHECK(buf[0] == doctest::Approx(b2a).epsilon(1e-14));
  CHECK(buf[1] == doctest::Approx(b2b).epsilon(1e-14));
  CHECK(s.scalars.at("lr") == 0.1);
  CHECK(s.scalars.at("momentum") == 0.9);
  CHECK(s.scalars.at("dampening") == 0);
  CHECK(s.scalars.at("weight_decay") == 0.01);
  CHECK(s.scalars.at("nesterov") == 0);
  CHECK(s.scalars.at("num_params") == 2);
  CHECK(s.scalars.size() == 6);
}

TEST_CASE("Adam and AdamW state: moments and per-parameter step counts; a load continues bit-identically") {
  for (bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    auto make = [&](Tensor64 p) -> std::unique_ptr<OptimizerT<double>> {
      if (decoupled) return std::make_unique<AdamW64>(std::vector<Tensor64>{p}, AdamWOptions{.lr = 0.01});
      return std::make_unique<Adam64>(std::vector<Tensor64>{p}, AdamOptions{.lr = 0.01, .weight_decay = 0.1});
    };
    auto p = Tensor64::from({0.5, -0.25, 2.0}).requires_grad_();
    auto opt = make(p);
    const std::vector<std::vector<double>> grads{{1, 2, 3}, {-1, 0.5, 0.25}, {0.1, -0.2, 0.3}, {2, 2, -2}};
    for (int i = 0; i < 2; ++i) {
      set_grad(p, grads[static_cast<std::size_t>(i)]);
      opt->step();
    }
    const auto s = opt->state_dict();
    CHECK(s.kind == (decoupled ? "AdamW" : "Adam"));
    CHECK(s.scalars.at("0.step") == 2);
    CHECK(s.scalars.at("beta1") == 0.9);
    CHECK(s.scalars.at("beta2") == 0.999);
    REQUIRE(s.tensors.size() == 2);
    CHECK(s.tensors[0].first == "0.exp_avg");
    CHECK(s.tensors[1].first == "0.exp_avg_sq");
    if (decoupled) {  // the moments see the raw gradient: m = 0.1·0.9·g1 + 0.1·g2
      CHECK(values_of(s, "0.exp_avg")[0] == doctest::Approx(0.09 * 1 + 0.1 * -1).epsilon(1e-14));
      CHECK(values_of(s, "0.exp_avg_sq")[1] == doctest::Approx(0.999 * 0.001 * 4 + 0.001 * 0.25).epsilon(1e-14));
    }
    // a fresh optimizer on a copy of the parameter, loaded, takes the same steps
    auto q = Tensor64::from_data(p.to_vector(), p.shape()).requires_grad_();
    auto resumed = make(q);
    resumed->load_state_dict(s);
    CHECK(dump(resumed->state_dict()) == dump(s));
    for (int i = 2; i < 4; ++i) {
      set_grad(p, grads[static_cast<std::size_t>(i)]);
      set_grad(q, grads[static_cast<std::size_t>(i)]);
      opt->step();
      resumed->step();
    }
    CHECK(p.to_vector() == q.to_vector());  // bit-identical
  }
}

TEST_CASE("optimizer state: every misfit is a one-line ValueError that changes nothing") {
  auto a = Tensor64::from({1.0, 2.0}).requires_grad_();
  auto b = Tensor64::zeros({2, 3}).requires_grad_();
  Adam64 adam({a, b}, {.lr = 0.01});
  set_grad(a, {1, 1});
  set_grad(b, {1, 2, 3, 4, 5, 6});
  adam.step();
  const auto good = adam.state_dict();
  Adam64 target({a, b}, {.lr = 0.5});
  const std::string before = dump(target.state_dict());
  auto expect = [&](const OptimizerState<double>& s, const std::string& message) {
    CHECK_THROWS_WITH_SUBSTR(target.load_state_dict(s), ValueError, message);
    CHECK(dump(target.state_dict()) == before);
  };

  auto kind = good;
  kind.kind = "AdamW";
  expect(kind, "Adam.load_state_dict: the state is from \"AdamW\", not Adam");

  auto count = good;
  count.scalars["num_params"] = 3;
  expect(count, "Adam.load_state_dict: the state holds 3 parameters, this optimizer 2");

  auto shape = good;
  shape.tensors[3].second = Tensor64::zeros({3, 2});
  expect(shape, "Adam.load_state_dict: tensor \"1.exp_avg_sq\" has shape [3x2], parameter 1 has shape [2x3]");

  auto hyper = good;
  hyper.scalars["beta2"] = 0.99;
  expect(hyper, "Adam.load_state_dict: beta2 is 0.99 in the state, 0.999 in this optimizer");

  auto missing = good;
  missing.tensors.pop_back();
  expect(missing, "Adam.load_state_dict: the state lacks the tensor \"1.exp_avg_sq\"");

  auto extra = good;
  extra.tensors.emplace_back("2.exp_avg", Tensor64::zeros({2}));
  expect(extra, "Adam.load_state_dict: the state has the unexpected tensor \"2.exp_avg\"");

  auto padded = good;
  padded.tensors[0].first = "00.exp_avg";
  expect(padded, "the state has the unexpected tensor \"00.exp_avg\"");

  auto step = good;
  step.scalars["1.step"] = -1;
  expect(step, "Adam.load_state_dict: \"1.step\" is -1, not a count");

  auto no_lr = good;
  no_lr.scalars.erase("lr");
  expect(no_lr, "Adam.load_state_dict: the state lacks the scalar \"lr\"");

  auto unknown = good;
  unknown.scalars["momentum"] = 0.9;
  expect(unknown, "Adam.load_state_dict: the state has the unexpected scalar \"momentum\"");

  // SGD: buffers only with momentum, the layout follows the options
  SGD64 plain({a, b}, {.lr = 0.1});
  SGD64 heavy({a, b}, {.lr = 0.1, .momentum = 0.9});
  heavy.step();
  CHECK_THROWS_WITH_SUBSTR(plain.load_state_dict(heavy.state_dict()), ValueError,
                           "SGD.load_state_dict: momentum is 0.9 in the state, 0 in this optimizer");
  CHECK_THROWS_WITH_SUBSTR(plain.load_state_dict(good), ValueError,
                           "SGD.load_state_dict: the state is from \"Adam\", not SGD");
  // the good state itself loads
  target.load_state_dict(good);
  CHECK(dump(target.state_dict()) == dump(good));
}
