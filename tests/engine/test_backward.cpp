// The engine: graph recording, topological backward, accumulation, freeing,
// hooks, retain_grad, no_grad, teardown of deep graphs.
#include <ember/ember.hpp>

#include "../test_helpers.hpp"

using namespace ember;

TEST_CASE("backward: simple chain gives the chain rule") {
  auto x = Tensor64::from({1.0, 2.0, 3.0}).requires_grad_();
  auto y = x * x * 3.0;  // dy/dx = 6x
  auto loss = y + 1.0;
  loss.backward(Tensor64::ones({3}));
  CHECK(x.grad().to_vector() == std::vector<double>{6.0, 12.0, 18.0});
}

TEST_CASE("backward: a diamond accumulates exactly once per use") {
  auto x = Tensor64::scalar(3.0).requires_grad_();
  auto a = x * 2.0;      // da/dx = 2
  auto b = a * a;        // a used twice: db/da = 2a
  auto c = b + a;        // a used a third time
  c.backward();          // dc/dx = (2a + 1) * 2 = (12 + 1) * 2
  CHECK(x.grad().item() == doctest::Approx(26.0));
}

TEST_CASE("backward: gradients accumulate across calls until zero_grad") {
  auto x = Tensor64::scalar(2.0).requires_grad_();
  (x * 5.0).backward();
  (x * 5.0).backward();
  CHECK(x.grad().item() == 10.0);
  x.zero_grad();
  CHECK(x.grad().item() == 0.0);
  (x * x).backward();
  CHECK(x.grad().item() == 4.0);
}

TEST_CASE("backward: ops on tensors that need no grad record nothing") {
  auto a = Tensor64::from({1.0, 2.0});
  auto b = a * 2.0 + a;
  CHECK_FALSE(b.requires_grad());
  CHECK(b.is_leaf());
  CHECK(std::string(b.op()) == "leaf");
}

TEST_CASE("backward: NoGradGuard switches recording off and restores it") {
  auto x = Tensor64::scalar(1.0).requires_grad_();
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    CHECK_FALSE((x * 2.0).requires_grad());
  }
  CHECK(grad_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("backward: detach cuts the graph and copies the values") {
  auto x = Tensor64::scalar(2.0).requires_grad_();
  auto d = (x * 3.0).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.item() == 6.0);
  auto y = d * x;  // only x's direct use contributes
  y.backward();
  CHECK(x.grad().item() == 6.0);
}

TEST_CASE("backward: a second backward through a freed graph is a clear error") {
  auto x = Tensor64::scalar(2.0).requires_grad_();
  auto y = x * x;
  y.backward();
  CHECK_THROWS_WITH_SUBSTR(y.backward(), GraphError, "already freed");
}

TEST_CASE("backward: retain_graph allows a second pass, which accumulates") {
  auto x = Tensor64::scalar(2.0).requires_grad_();
  auto y = x * x;
  y.backward(true);
  y.backward();
  CHECK(x.grad().item() == 8.0);
}

TEST_CASE("backward: from a non-scalar needs an upstream gradient") {
  auto x = Tensor64::from({1.0, 2.0}).requires_grad_();
  auto y = x * 2.0;
  CHECK_THROWS_WITH_SUBSTR(y.backward(), GraphError, "backward: tensor of shape [2] is not a scalar");
  CHECK_THROWS_WITH_SUBSTR(y.backward(Tensor64::ones({3})), ShapeError,
                           "upstream gradient of shape [3] for a tensor of shape [2]");
}

TEST_CASE("backward: from a tensor that needs no grad is a clear error") {
  auto x = Tensor64::scalar(1.0);
  CHECK_THROWS_WITH_SUBSTR(x.backward(), GraphError, "does not require grad");
}

TEST_CASE("backward: reading a missing gradient is a clear error") {
  auto x = Tensor64::scalar(1.0).requires_grad_();
  CHECK_THROWS_WITH_SUBSTR(x.grad(), GraphError, "has no gradient");
}

TEST_CASE("backward: requires_grad_ on a non-leaf is a clear error") {
  auto x = Tensor64::scalar(1.0).requires_grad_();
  auto y = x * 2.0;
  CHECK_THROWS_WITH_SUBSTR(y.requires_grad_(), GraphError, "not a leaf");
}

TEST_CASE("backward: an undefined tensor is a clear error") {
  Tensor64 t;
  CHECK_THROWS_WITH_SUBSTR(t.shape(), GraphError, "undefined");
}

TEST_CASE("backward: retain_grad keeps a non-leaf gradient") {
  auto x = Tensor64::scalar(3.0).requires_grad_();
  auto h = x * 2.0;
  h.retain_grad();
  auto y = h * h;
  y.backward();
  CHECK(h.grad().item() == 12.0);  // dy/dh = 2h
  CHECK(x.grad().item() == 24.0);
}

TEST_CASE("backward: non-leaf gradients are freed without retain_grad") {
  auto x = Tensor64::scalar(3.0).requires_grad_();
  auto h = x * 2.0;
  auto y = h * h;
  y.backward();
  CHECK_FALSE(h.has_grad());
}

TEST_CASE("backward: a hook sees and may replace the gradient") {
  auto x = Tensor64::scalar(3.0).requires_grad_();
  auto h = x * 2.0;
  double seen = 0;
  h.register_hook([&](const Tensor64& g) {
    seen = g.item();
    return g * 10.0;
  });
  (h * h).backward();
  CHECK(seen == 12.0);
  CHECK(x.grad().item() == 240.0);
}

TEST_CASE("backward: a hook on a leaf sees only this pass's gradient") {
  auto x = Tensor64::scalar(1.0).requires_grad_();
  std::vector<double> seen;
  x.register_hook([&](const Tensor64& g) {
    seen.push_back(g.item());
    return Tensor64{};  // keep the gradient
  });
  (x * 2.0).backward();
  (x * 3.0).backward();
  CHECK(seen == std::vector<double>{2.0, 3.0});
  CHECK(x.grad().item() == 5.0);
}

TEST_CASE("backward: a hook returning the wrong shape is a clear error") {
  auto x = Tensor64::from({1.0, 2.0}).requires_grad_();
  x.register_hook([](const Tensor64&) { return Tensor64::zeros({3}); });
  CHECK_THROWS_WITH_SUBSTR((x * 2.0).backward(Tensor64::ones({2})), ShapeError, "returned a gradient of shape [3]");
}

TEST_CASE("backward: a chain of a million nodes runs and tears down without recursion") {
  auto x = Tensor::scalar(1.0f).requires_grad_();
  {
    Tensor y = x;
    for (int i = 0; i < 1000000; ++i) y = y * 1.0f;
    y.backward();
  }
  CHECK(x.grad().item() == 1.0f);
  {
    Tensor y = x;  // and one destroyed without running backward
    for (int i = 0; i < 1000000; ++i) y = y + 0.0f;
  }
  CHECK(x.is_leaf());
}

TEST_CASE("backward: the graph is freed after backward") {
  auto x = Tensor64::scalar(1.0).requires_grad_();
  std::weak_ptr<Node<double>> mid;
  auto y = [&] {
    auto h = x * 2.0;
    mid = h.node_ptr();
    return h * 3.0;
  }();
  CHECK_FALSE(mid.expired());  // y's node holds h's node
  y.backward();
  CHECK(mid.expired());  // freed with the graph
}

namespace {
// A custom op: forward and backward written by the user, recorded like a built-in.
Tensor64 cube(const Tensor64& x) {
  auto out = Tensor64::empty(x.shape());
  out.values() = x.values().cube();
  // d/dx x^3 = 3x^2
  return record(out, "cube", {x}, [](Backward<double>& b) { b.accumulate(0, b.grad() * 3.0 * b.input(0).square()); });
}

Tensor64 bad_grad(const Tensor64& x) {
  auto out = Tensor64::empty(x.shape());
  out.values() = x.values();
  return record(out, "bad_grad", {x}, [](Backward<double>& b) {
    Eigen::ArrayXd wrong = Eigen::ArrayXd::Ones(b.grad().size() + 1);
    b.accumulate(0, wrong);
  });
}
}  // namespace

TEST_CASE("custom op: recorded in the graph like a built-in and gradchecked") {
  auto x = Tensor64::from({-1.5, 0.3, 2.0});
  CHECK(gradcheck([](const auto& in) { return cube(in[0]); }, {x}));
  auto y = cube(x.detach().requires_grad_());
  CHECK(std::string(y.op()) == "cube");
}

TEST_CASE("custom op: a backward returning the wrong gradient size is a clear error") {
  auto x = Tensor64::from({1.0, 2.0}).requires_grad_();
  CHECK_THROWS_WITH_SUBSTR(bad_grad(x).backward(Tensor64::ones({2})), GraphError,
                           "bad_grad: backward returned 3 gradient values for input 0 of shape [2]");
}

TEST_CASE("custom op: asking for the gradient matrix of an input without grad is a clear error") {
  auto a = Tensor64::from({1.0, 2.0}).requires_grad_();
  auto data = Tensor64::from({3.0, 4.0});
  auto out = Tensor64::empty({2});
  out.values() = a.values() * data.values();
  auto y = record(out, "careless", {a, data}, [](Backward<double>& b) { b.grad_matrix_of(1, 1, 2).setZero(); });
  CHECK_THROWS_WITH_SUBSTR(y.backward(Tensor64::ones({2})), GraphError,
                           "careless: backward asked for the gradient matrix of input 1, which does not require grad");
}

TEST_CASE("hooks: the documented pattern (capture by reference) uses the tensor's values and frees everything") {
  // A hook capturing a copy of its own tensor would be a reference cycle
  // (the node owns the hook); by reference it is not, and LeakSanitizer
  // (asan preset) sees nothing left behind when `w` goes.
  std::weak_ptr<ember::Node<double>> node;
  {
    auto w = ember::Tensor64::from({2.0, -1.0}).requires_grad_();
    node = w.node_ptr();
    w.register_hook([&w](const ember::Tensor64& g) { return g * ember::Tensor64::from_data(w.to_vector(), {2}); });
    ember::sum(w * 3.0).backward();
    CHECK(w.grad().at({0}) == doctest::Approx(6.0));   // 3 * w[0]
    CHECK(w.grad().at({1}) == doctest::Approx(-3.0));  // 3 * w[1]
  }
  CHECK(node.expired());
}
