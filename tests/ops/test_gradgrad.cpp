// gradgradcheck for every op: second derivatives (ember's derivative of its
// own backward) against finite differences of ember's first-order gradient,
// in double, at random points and at edge values.
#include <ember/ember.hpp>

#include <string>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;

Tensor64 random(const Shape& s, std::uint64_t seed, double low = -2, double high = 2) {
  Generator gen(seed);
  return Tensor64::rand(s, gen, low, high);
}

// Random values kept at least `gap` away from the kinks at 0 (finite
// differences across a kink measure nothing).
Tensor64 off_kink(const Shape& s, std::uint64_t seed, double gap = 0.1) {
  auto t = random(s, seed);
  for (Index i = 0; i < t.numel(); ++i) {
    double& v = t.data()[i];
    if (std::abs(v) < gap) v = v < 0 ? v - gap : v + gap;
  }
  return t;
}

#define CHECK_GRADGRAD(f, ...)                         \
  do {                                                 \
    const auto r_ = gradgradcheck(f, __VA_ARGS__);     \
    CHECK_MESSAGE(r_.ok, r_.message);                  \
    CHECK(r_.compared > 0);                            \
  } while (0)

const Tensor64 kEdges = Tensor64::from({-40.0, -20.0, -3.0, -0.5, 0.5, 3.0, 20.0, 40.0});

}  // namespace

TEST_CASE("gradgradcheck: arithmetic, with broadcasting") {
  const auto a = random({3, 4}, 1), b = random({4}, 2, 0.5, 2), c = random({3, 1}, 3);
  CHECK_GRADGRAD([](const Inputs& x) { return x[0] + x[1]; }, {a, b});
  CHECK_GRADGRAD([](const Inputs& x) { return x[0] - x[1]; }, {a, c});
  CHECK_GRADGRAD([](const Inputs& x) { return x[0] * x[1]; }, {a, b});
  CHECK_GRADGRAD([](const Inputs& x) { return x[0] * x[1] * x[0]; }, {a, c});
  CHECK_GRADGRAD([](const Inputs& x) { return x[0] / x[1]; }, {a, b});
  CHECK_GRADGRAD([](const Inputs& x) { return -x[0] * 2.0 + 1.5 - x[0] / 4.0; }, {a});
  CHECK_GRADGRAD([](const Inputs& x) { return 3.0 / x[0] + (2.0 - x[0]) * x[0]; }, {b});
}

TEST_CASE("gradgradcheck: exp, log, sqrt, abs, pow, clamp") {
  const auto pos = random({6}, 4, 0.3, 3), any = off_kink({6}, 5);
  CHECK_GRADGRAD([](const Inputs& x) { return exp(x[0]); }, {any});
  CHECK_GRADGRAD([](const Inputs& x) { return log(x[0]); }, {pos});
  CHECK_GRADGRAD([](const Inputs& x) { return sqrt(x[0]); }, {pos});
  CHECK_GRADGRAD([](const Inputs& x) { return abs(x[0]) * x[0]; }, {any});
  CHECK_GRADGRAD([](const Inputs& x) { return pow(x[0], 3.0); }, {any});
  CHECK_GRADGRAD([](const Inputs& x) { return pow(x[0], -1.5); }, {pos});
  CHECK_GRADGRAD([](const Inputs& x) { return pow(x[0], 0.0) * x[0]; }, {any});
  CHECK_GRADGRAD([](const Inputs& x) { return clamp(x[0], -1.0, 1.0) * x[0]; }, {Tensor64::from({-1.7, -0.6, 0.3, 0.9, 1.4})});
  CHECK_GRADGRAD([](const Inputs& x) { return exp(x[0]); }, {Tensor64::from({-40.0, -20.0, 20.0, 40.0})});
}

TEST_CASE("gradgradcheck: smooth activations at random points and at +-20, +-40") {
  const auto x = random({7}, 6, -4, 4);
  for (const char* name : {"sigmoid", "tanh", "softplus", "gelu", "gelu_tanh", "silu", "centered_sigmoid", "identity"}) {
    INFO(std::string(name));
    const auto f = activation<double>(name);
    CHECK_GRADGRAD([&](const Inputs& in) { return f(in[0]); }, {x});
    CHECK_GRADGRAD([&](const Inputs& in) { return f(in[0]); }, {kEdges});
    // composed with itself: the second derivative meets the first's chain rule
    CHECK_GRADGRAD([&](const Inputs& in) { return f(f(in[0]) * in[0]); }, {x});
  }
}

TEST_CASE("gradgradcheck: piecewise activations away from their kinks") {
  const auto x = off_kink({8}, 7);
  for (const char* name : {"relu", "leaky_relu", "elu"}) {
    INFO(std::string(name));
    const auto f = activation<double>(name);
    // the square makes the second derivative nonzero through the chain rule
    CHECK_GRADGRAD([&](const Inputs& in) { return f(in[0]) * f(in[0]); }, {x});
    CHECK_GRADGRAD([&](const Inputs& in) { return f(in[0]); }, {kEdges});
  }
  CHECK_GRADGRAD([](const Inputs& in) { return elu(in[0], 0.7) * in[0]; }, {x});
  CHECK_GRADGRAD([](const Inputs& in) { return leaky_relu(in[0], 0.2) * in[0]; }, {x});
}

TEST_CASE("gradgradcheck: softmax and log_softmax along each axis") {
  const auto x = random({3, 4}, 8);
  for (int axis : {0, 1, -1}) {
    INFO("axis ", axis);
    CHECK_GRADGRAD([axis](const Inputs& in) { return softmax(in[0], axis); }, {x});
    CHECK_GRADGRAD([axis](const Inputs& in) { return log_softmax(in[0], axis); }, {x});
    CHECK_GRADGRAD([axis](const Inputs& in) { return softmax(in[0] * in[0], axis) * in[0]; }, {x});
  }
  CHECK_GRADGRAD([](const Inputs& in) { return log_softmax(in[0], 1); }, {Tensor64::from({{-40.0, 0.0, 40.0}, {20.0, 20.0, -20.0}})});
}

TEST_CASE("gradgradcheck: losses, every reduction") {
  const auto p = random({2, 3}, 9, 0.05, 0.95), y = random({2, 3}, 10, 0, 1), z = random({2, 3}, 11, -3, 3);
  const std::vector<Index> classes{2, 0};
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    INFO("reduction ", static_cast<int>(r));
    CHECK_GRADGRAD([r](const Inputs& in) { return mse_loss(in[0], in[1], r); }, {z, y});
    CHECK_GRADGRAD([r](const Inputs& in) { return binary_cross_entropy(in[0], in[1], r); }, {p, y});
    CHECK_GRADGRAD([r](const Inputs& in) { return binary_cross_entropy_with_logits(in[0], in[1], r); }, {z, y});
    CHECK_GRADGRAD([r, &classes](const Inputs& in) { return cross_entropy(in[0], classes, r); }, {z});
    CHECK_GRADGRAD([r, &classes](const Inputs& in) { return nll_loss(log_softmax(in[0], 1), classes, r); }, {z});
    CHECK_GRADGRAD([r, &classes](const Inputs& in) { return nll_loss(in[0] * in[0], classes, r); }, {z});
  }
  // large logits: the fused cross-entropy's second derivative stays finite and right
  CHECK_GRADGRAD([&classes](const Inputs& in) { return cross_entropy(in[0], classes); },
                 {Tensor64::from({{-40.0, 0.0, 40.0}, {20.0, 20.0, -20.0}})});
}

TEST_CASE("gradgradcheck: reductions") {
  const auto x = random({3, 4, 2}, 12);
  CHECK_GRADGRAD([](const Inputs& in) { return sum(in[0] * in[0]); }, {x});
  CHECK_GRADGRAD([](const Inputs& in) { return mean(in[0] * in[0]); }, {x});
  for (int axis : {0, 1, 2}) {
    for (bool keep : {false, true}) {
      INFO("axis ", axis, " keepdim ", keep);
      CHECK_GRADGRAD([=](const Inputs& in) { return sum(in[0] * in[0], axis, keep); }, {x});
      CHECK_GRADGRAD([=](const Inputs& in) { return mean(in[0] * in[0], axis, keep); }, {x});
      CHECK_GRADGRAD([=](const Inputs& in) { return max(in[0] * in[0], axis, keep); }, {x});
    }
  }
}

TEST_CASE("gradgradcheck: matmul, transpose, linear") {
  const auto a = random({3, 4}, 13), b = random({4, 2}, 14);
  const auto ba = random({2, 3, 4}, 15), bb = random({2, 4, 2}, 16);
  CHECK_GRADGRAD([](const Inputs& in) { return matmul(in[0], in[1]); }, {a, b});
  CHECK_GRADGRAD([](const Inputs& in) { return matmul(in[0] * in[0], in[1]) * matmul(in[0], in[1]); }, {a, b});
  CHECK_GRADGRAD([](const Inputs& in) { return matmul(in[0], in[1]) * matmul(in[0], in[1]); }, {ba, bb});
  CHECK_GRADGRAD([](const Inputs& in) { return transpose(in[0]) * transpose(in[0]); }, {ba});
  const auto x = random({5, 4}, 17), w = random({3, 4}, 18), bias = random({3}, 19);
  CHECK_GRADGRAD([](const Inputs& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias});
  CHECK_GRADGRAD([](const Inputs& in) { return tanh(linear(in[0], in[1], in[2])); }, {x, w, bias});
  CHECK_GRADGRAD([](const Inputs& in) { return linear(in[0], in[1]) * linear(in[0], in[1]); }, {x, w});
  CHECK_GRADGRAD([](const Inputs& in) { return sigmoid(linear(in[0], in[1], in[2])); }, {random({2, 3, 4}, 20), w, bias});
}

TEST_CASE("gradgradcheck: shape ops") {
  const auto x = random({2, 3}, 21), y = random({2, 2}, 22);
  CHECK_GRADGRAD([](const Inputs& in) { return reshape(in[0] * in[0], {3, 2}); }, {x});
  CHECK_GRADGRAD([](const Inputs& in) { return concat({in[0] * in[0], in[1] * in[0].size(0)}, 1); }, {x, y});
  CHECK_GRADGRAD([](const Inputs& in) { return concat({in[1], in[0] * in[0]}, 1) * 2.0; }, {x, y});
  CHECK_GRADGRAD([](const Inputs& in) { return index_select(in[0] * in[0], {1, 0, 1}); }, {x});
  const auto mask = Tensor64::from({{1.0, 0.0, 1.0}, {0.0, 0.0, 1.0}});
  CHECK_GRADGRAD([&mask](const Inputs& in) { return where(mask, in[0] * in[0], in[1] * 3.0); }, {x, random({3}, 23)});
  CHECK_GRADGRAD([](const Inputs& in) { return expand(in[0] * in[0], Shape{4, 2, 3}); }, {random({2, 1}, 24)});
  CHECK_GRADGRAD([](const Inputs& in) { return sum_to(in[0] * in[0], Shape{3}); }, {x});
}

TEST_CASE("gradgradcheck: an MLP's loss end to end") {
  const auto x = random({6, 3}, 25), w1 = random({5, 3}, 26), b1 = random({5}, 27), w2 = random({2, 5}, 28);
  const std::vector<Index> classes{0, 1, 1, 0, 1, 0};
  CHECK_GRADGRAD(
      [&](const Inputs& in) { return cross_entropy(linear(silu(linear(in[0], in[1], in[2])), in[3]), classes); },
      {x, w1, b1, w2});
}

TEST_CASE("gradgradcheck: a wrong second derivative fails with a message") {
  // x * relu'(x)-like op whose backward claims 2g regardless of x: right as
  // a first derivative of 2x, and its second derivative is exact too; a
  // backward that reads x without recording it is caught instead.
  auto wrong = [](const Tensor64& x) {
    auto out = Tensor64::empty(x.shape());
    out.values() = x.values().square();
    // d/dx x^2 = 2x, but the gradient is built from a detached copy of x:
    // first order right, second order 0 instead of 2.
    return record(out, "square_detached", {x}, [](auto& b) {
      if constexpr (std::is_same_v<std::decay_t<decltype(b)>, GraphBackward<double>>)
        b.accumulate(0, b.grad() * b.input(0).detach() * 2.0);
      else
        b.accumulate(0, b.grad() * b.input(0) * 2.0);
    });
  };
  CHECK(gradcheck([&](const Inputs& in) { return wrong(in[0]); }, {Tensor64::from({0.5, 1.5})}).ok);
  const auto r = gradgradcheck([&](const Inputs& in) { return wrong(in[0]); }, {Tensor64::from({0.5, 1.5})});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("gradgradcheck: output element 0, input 0 element 0") != std::string::npos);
}
