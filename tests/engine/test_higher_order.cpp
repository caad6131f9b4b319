// Higher-order gradients: backward with create_graph, ember::grad, hvp,
// jacobian, hessian; closed forms to third order; errors for backwards that
// cannot be differentiated again; memory of a gradient-penalty loop.
#include <ember/ember.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

Tensor64 values(std::initializer_list<double> v) { return Tensor64::from(v); }

// x^3 with a first-order-only backward (a closure taking Backward<double>&).
Tensor64 cube_first_order(const Tensor64& x) {
  auto out = Tensor64::empty(x.shape());
  out.values() = x.values().cube();
  return record(out, "cube_first_order", {x}, [](Backward<double>& b) {
    b.accumulate(0, b.grad() * 3.0 * b.input(0).square());
  });
}

// The same op written once for both paths (a generic closure).
Tensor64 cube(const Tensor64& x) {
  auto out = Tensor64::empty(x.shape());
  out.values() = x.values().cube();
  return record(out, "cube", {x}, [](auto& b) { b.accumulate(0, b.grad() * 3.0 * b.input(0) * b.input(0)); });
}

Tensor64 ste_round(const Tensor64& x) {
  auto out = Tensor64::empty(x.shape());
  out.values() = x.values().round();
  return record(
      out, "ste_round", {x}, [](auto& b) { b.accumulate(0, b.grad()); }, RecordOptions{.surrogate_gradient = true});
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(4096, '\n');
  }
  return -1;
}

}  // namespace

TEST_CASE("higher order: backward(create_graph) makes x.grad() differentiable, to third order") {
  auto x = Tensor64::scalar(3.0).requires_grad_();
  auto y = x * x * x;
  y.backward({.create_graph = true});
  const Tensor64 g1 = x.grad();  // 3x^2 = 27
  CHECK(g1.item() == doctest::Approx(27.0));
  REQUIRE(g1.requires_grad());
  x.zero_grad();
  g1.backward({.create_graph = true});
  const Tensor64 g2 = x.grad();  // 6x = 18
  CHECK(g2.item() == doctest::Approx(18.0));
  x.zero_grad();
  g2.backward();
  CHECK(x.grad().item() == doctest::Approx(6.0));  // 6
}

TEST_CASE("higher order: ember::grad returns gradients without touching .grad()") {
  auto x = values({0.5, -1.0, 2.0}).requires_grad_();
  auto w = values({1.0, 2.0, 3.0}).requires_grad_();
  const auto y = sum(w * x * x);
  const auto g = grad<double>(y, {x}, {.create_graph = true})[0];  // 2 w x
  CHECK(!x.has_grad());
  CHECK(!w.has_grad());
  CHECK(g.at({0}) == doctest::Approx(1.0));
  CHECK(g.at({1}) == doctest::Approx(-4.0));
  CHECK(g.at({2}) == doctest::Approx(12.0));
  // d/dw sum(2 w x) = 2x; x's own second derivative is 2w.
  const auto g2 = grad<double>(sum(g), {w, x});
  CHECK(g2[0].at({2}) == doctest::Approx(4.0));
  CHECK(g2[1].at({1}) == doctest::Approx(4.0));
  CHECK(!x.has_grad());

  // An input the output does not reach: an error, or undefined with allow_unused.
  auto z = values({1.0}).requires_grad_();
  CHECK_THROWS_WITH_SUBSTR(grad<double>(sum(w * x), {z}), GraphError, "grad: input 0 (shape [1]) is not reachable");
  CHECK(!grad<double>(sum(w * x), {z}, {.allow_unused = true})[0].defined());
  // A non-scalar output needs grad_outputs.
  CHECK_THROWS_WITH_SUBSTR(grad<double>(w * x, {x}), GraphError, "is not a scalar");
  const auto gx = grad<double>({w * x}, {x}, {values({1.0, 1.0, 1.0})})[0];
  CHECK(gx.at({2}) == doctest::Approx(3.0));
}

TEST_CASE("higher order: first and second derivatives of the activations match their closed forms") {
  std::vector<double> points;
  for (double v = -6.0; v <= 6.0; v += 0.37) points.push_back(v);
  const auto x = Tensor64::from_data(points, Shape{Index(points.size())}).requires_grad_();
  struct Case {
    const char* name;
    std::function<Tensor64(const Tensor64&)> f;
    std::function<double(double)> d1, d2;
  };
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const double inv_sqrt_2pi = 0.3989422804014327;
  const std::vector<Case> cases = {
      {"sigmoid", [](const Tensor64& t) { return sigmoid(t); },
       [&](double v) { return sig(v) * (1 - sig(v)); },
       [&](double v) { return sig(v) * (1 - sig(v)) * (1 - 2 * sig(v)); }},
      {"tanh", [](const Tensor64& t) { return tanh(t); }, [](double v) { return 1 - std::tanh(v) * std::tanh(v); },
       [](double v) { return -2 * std::tanh(v) * (1 - std::tanh(v) * std::tanh(v)); }},
      {"softplus", [](const Tensor64& t) { return softplus(t); }, [&](double v) { return sig(v); },
       [&](double v) { return sig(v) * (1 - sig(v)); }},
      {"gelu", [](const Tensor64& t) { return gelu(t); },
       [&](double v) { return 0.5 * std::erfc(-v / std::sqrt(2.0)) + v * inv_sqrt_2pi * std::exp(-v * v / 2); },
       [&](double v) { return inv_sqrt_2pi * std::exp(-v * v / 2) * (2 - v * v); }},
      {"silu", [](const Tensor64& t) { return silu(t); }, [&](double v) { return sig(v) * (1 + v * (1 - sig(v))); },
       [&](double v) { return sig(v) * (1 - sig(v)) * (2 + v * (1 - 2 * sig(v))); }},
      {"elu", [](const Tensor64& t) { return elu(t); }, [](double v) { return v > 0 ? 1.0 : std::exp(v); },
       [](double v) { return v > 0 ? 0.0 : std::exp(v); }},
  };
  for (const auto& c : cases) {
    INFO(std::string(c.name));
    const auto d1 = grad<double>(sum(c.f(x)), {x}, {.create_graph = true})[0];
    const auto d2 = grad<double>(sum(d1), {x})[0];
    for (std::size_t i = 0; i < points.size(); ++i) {
      INFO("x = ", points[i]);
      CHECK(d1.at({Index(i)}) == doctest::Approx(c.d1(points[i])).epsilon(1e-12));
      CHECK(d2.at({Index(i)}) == doctest::Approx(c.d2(points[i])).epsilon(1e-10));
    }
  }
}

TEST_CASE("higher order: third derivatives of sigmoid and tanh") {
  const auto x = values({-3.0, -0.5, 0.0, 0.25, 2.0}).requires_grad_();
  auto d3 = [&](const Tensor64& y) {
    const auto d1 = grad<double>(sum(y), {x}, {.create_graph = true})[0];
    const auto d2 = grad<double>(sum(d1), {x}, {.create_graph = true})[0];
    return grad<double>(sum(d2), {x})[0];
  };
  const auto ts = d3(tanh(x)), ss = d3(sigmoid(x));
  for (Index i = 0; i < x.numel(); ++i) {
    const double v = x.at({i}), t = std::tanh(v), s = 1 / (1 + std::exp(-v));
    CHECK(ts.at({i}) == doctest::Approx(-2 * (1 - t * t) * (1 - 3 * t * t)).epsilon(1e-10));
    CHECK(ss.at({i}) == doctest::Approx(s * (1 - s) * (1 - 6 * s + 6 * s * s)).epsilon(1e-10));
  }
}

TEST_CASE("higher order: a recorded gradient has the first-order path's values, bit for bit") {
  Generator gen(7);
  auto x = Tensor64::randn({16, 5}, gen);
  auto w1 = Tensor64::randn({8, 5}, gen).requires_grad_(), b1 = Tensor64::randn({8}, gen).requires_grad_();
  auto w2 = Tensor64::randn({3, 8}, gen).requires_grad_();
  std::vector<Index> classes;
  for (int i = 0; i < 16; ++i) classes.push_back(i % 3);
  auto loss = [&] { return cross_entropy(linear(gelu(linear(x, w1, b1)), w2), classes); };
  loss().backward();
  const auto fast = w1.grad().to_vector();
  const auto recorded = grad<double>(loss(), {w1}, {.create_graph = true})[0].to_vector();
  CHECK(fast == recorded);
}

TEST_CASE("higher order: Hessian-vector products of an MLP loss agree with finite differences of the gradient") {
  Generator gen(3);
  const auto x = Tensor64::randn({12, 4}, gen);
  const auto y = Tensor64::rand({12, 1}, gen);
  const auto w2 = Tensor64::randn({1, 6}, gen);
  const auto w1 = Tensor64::randn({6, 4}, gen);
  // the loss as a function of the first layer's weights
  const ScalarFn<double> f = [&](const Tensor64& w) {
    return binary_cross_entropy_with_logits(linear(tanh(linear(x, w)), w2), y);
  };
  const auto v = Tensor64::randn({6, 4}, gen);
  const auto hv = hvp(f, w1, v);
  auto gradient_at = [&](double step) {
    auto w = (w1.detach() + v * step).requires_grad_();
    f(w).backward();
    return w.grad();
  };
  const double h = 1e-5;
  const auto numeric = (gradient_at(h) - gradient_at(-h)) / (2 * h);
  for (Index i = 0; i < hv.numel(); ++i) CHECK(hv.values()[i] == doctest::Approx(numeric.values()[i]).epsilon(1e-6).scale(1e-6));
  // hessian() is the matrix of all of them: H v by rows equals hvp.
  const auto hess = hessian(f, w1);
  REQUIRE(hess.shape() == Shape{24, 24});
  const auto hv_from_matrix = matmul(hess, reshape(v, {24, 1}));
  for (Index i = 0; i < 24; ++i) CHECK(hv_from_matrix.values()[i] == doctest::Approx(hv.values()[i]).epsilon(1e-10));
  // and it is symmetric
  for (Index i = 0; i < 24; ++i)
    for (Index j = 0; j < i; ++j) CHECK(hess.at({i, j}) == doctest::Approx(hess.at({j, i})).epsilon(1e-10));
}

TEST_CASE("higher order: jacobian and hessian of small closed forms") {
  const auto x = values({1.0, 2.0});
  // f(x) = [x0 x1, x0^2] -> J = [[x1, x0], [2 x0, 0]]
  const auto jac = jacobian<double>([](const Tensor64& t) {
    return concat({reshape(index_select(t, {0}) * index_select(t, {1}), {1}), reshape(index_select(t, {0}) * index_select(t, {0}), {1})}, 0);
  }, x);
  CHECK(jac.to_vector() == std::vector<double>{2.0, 1.0, 2.0, 0.0});
  // f(x) = x0^2 x1 -> H = [[2 x1, 2 x0], [2 x0, 0]]
  const auto hess = hessian<double>([](const Tensor64& t) { return sum(t * t * concat({index_select(t, {1}), Tensor64::zeros({1})}, 0)); }, x);
  CHECK(hess.to_vector() == std::vector<double>{4.0, 2.0, 2.0, 0.0});
  // A linear function has a zero Hessian (no second-order graph at all).
  const auto flat = hessian<double>([](const Tensor64& t) { return sum(t * 3.0); }, x);
  CHECK(flat.to_vector() == std::vector<double>{0.0, 0.0, 0.0, 0.0});
  CHECK_THROWS_WITH_SUBSTR(hvp<double>([](const Tensor64& t) { return t; }, x, x), ShapeError,
                           "hvp: f must return one element, got shape [2]");
}

TEST_CASE("higher order: a first-order-only or surrogate backward refuses a second derivative") {
  auto x = values({1.5, -2.0}).requires_grad_();
  // First order works as always.
  sum(cube_first_order(x)).backward();
  CHECK(x.grad().at({0}) == doctest::Approx(6.75));
  // The recorded gradient has the right values, but differentiating it again is an error naming the op.
  const auto g = grad<double>(sum(cube_first_order(x)), {x}, {.create_graph = true})[0];
  CHECK(g.at({1}) == doctest::Approx(12.0));
  CHECK_THROWS_WITH_SUBSTR(grad<double>(sum(g), {x}), GraphError,
                           "cube_first_order: its backward closure takes Backward<T>& and is first order only");
  // Written generically, the same op differentiates twice: d2/dx2 x^3 = 6x.
  const auto g1 = grad<double>(sum(cube(x)), {x}, {.create_graph = true})[0];
  CHECK(grad<double>(sum(g1), {x})[0].at({0}) == doctest::Approx(9.0));
  // A straight-through estimator says so.
  const auto s = grad<double>(sum(ste_round(x) * x), {x}, {.create_graph = true})[0];
  CHECK_THROWS_WITH_SUBSTR(grad<double>(sum(s), {x}), GraphError, "ste_round: declares a surrogate gradient");
  CHECK_FALSE(gradgradcheck([](const auto& in) { return ste_round(in[0]) * in[0]; }, {values({0.2})}).ok);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;  // freed memory is quarantined: RSS says nothing
#else
constexpr bool kSanitized = false;
#endif

TEST_CASE("higher order: a gradient-penalty loop frees its graphs (resident memory flat over 100000 steps)") {
  Generator gen(11);
  auto w = Tensor::randn({8, 4}, gen).requires_grad_();
  const auto x = Tensor::randn({16, 4}, gen);
  std::weak_ptr<Node<float>> gradient_node, forward_node;
  auto step = [&] {
    auto xi = x.detach().requires_grad_();
    const auto out = sum(tanh(linear(xi, w)));
    const auto gx = grad<float>(out, {xi}, {.create_graph = true})[0];
    const auto loss = out + sum(gx * gx) * 0.1f;
    w.zero_grad();
    loss.backward();
    gradient_node = gx.node_ptr();
    forward_node = out.node_ptr();
  };
  step();
  // The last handles gone, the recorded gradient and the forward graph it read are freed.
  CHECK(gradient_node.expired());
  CHECK(forward_node.expired());
  const int warmup = kSanitized ? 200 : 20000, steps = kSanitized ? 2000 : 100000;
  for (int i = 0; i < warmup; ++i) step();
  release_cached_memory();
  const long before = resident_kib();
  for (int i = 0; i < steps; ++i) step();
  release_cached_memory();
  const long after = resident_kib();
  INFO("resident before ", before, " KiB, after ", after, " KiB");
  if (!kSanitized) CHECK(after - before < 2048);  // one leaked node per step would be > 20 MB
  CHECK(gradient_node.expired());
  CHECK(w.has_grad());
}

TEST_CASE("higher order: create_graph keeps retained gradients, adds to an earlier graph, never aliases the caller's tensor") {
  // a retained gradient through a first-order-only op survives a recorded pass
  auto x = values({1.5, -2.0}).requires_grad_();
  auto y = cube_first_order(x);
  y.retain_grad();
  const auto l = sum(y * y);
  l.backward(true);
  const double kept = y.grad().at({0});
  (void)grad<double>(l, {x}, {.retain_graph = true});
  REQUIRE(y.has_grad());
  CHECK(y.grad().at({0}) == kept);
  // two create_graph backwards: x.grad() = 2 * 3x^2, and its derivative 2 * 6x
  auto s = Tensor64::scalar(3.0).requires_grad_();
  (s * s * s).backward({.create_graph = true});
  (s * s * s).backward({.create_graph = true});
  CHECK(s.grad().item() == doctest::Approx(54.0));
  CHECK(grad<double>(s.grad(), {s})[0].item() == doctest::Approx(36.0));
  // the upstream gradient handed in is not what .grad() or grad() hands out
  auto a = values({1.0}).requires_grad_(), w = values({2.0}).requires_grad_();
  auto u = values({1.0});
  (a + w).backward(u, {.create_graph = true});
  u.values() *= 5.0;
  CHECK(a.grad().item() == 1.0);
  auto r = grad<double>({a + w}, {a}, {u})[0];
  u.values() *= 2.0;
  CHECK(r.item() == 5.0);
}

TEST_CASE("higher order: second derivatives of silu and gelu are 0, not NaN, at +-inf") {
  const auto x = values({-INFINITY, INFINITY}).requires_grad_();
  for (auto f : {std::function<Tensor64(const Tensor64&)>([](const Tensor64& t) { return silu(t); }),
                 std::function<Tensor64(const Tensor64&)>([](const Tensor64& t) { return gelu(t); }),
                 std::function<Tensor64(const Tensor64&)>([](const Tensor64& t) { return gelu(t, GeluApproximation::tanh); })}) {
    const auto d1 = grad<double>(sum(f(x)), {x}, {.create_graph = true})[0];
    const auto d2 = grad<double>(sum(d1), {x})[0];
    CHECK(d2.to_vector() == std::vector<double>{0.0, 0.0});
  }
}
