// In-place changes after use: a backward that would read values other than
// the ones its forward used throws instead of returning a wrong gradient
// (Note [versions], engine/node.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <utility>

#include <ember/ember.hpp>

#include "../test_helpers.hpp"

using ember::Tensor64;

TEST_CASE("versions: changing an input after the op used it makes backward throw, naming op, input and versions") {
  Tensor64 x = Tensor64::from({2.0}).requires_grad_();
  Tensor64 y = x * x;  // backward would compute 2 * x with x = 3: a silent 6 instead of 4
  x.values()[0] = 3.0;
  // Both inputs are x; mul's backward reads them in the order it needs them.
  CHECK_THROWS_WITH_SUBSTR(y.backward(), ember::GraphError, "mul: input ");
  CHECK_THROWS_WITH_SUBSTR(y.backward(), ember::GraphError,
                           "(shape [1]) was modified in place after it was used (version 1, saved at 0)");
}

TEST_CASE("versions: changing the output an op saved makes its backward throw") {
  Tensor64 x = Tensor64::from({0.5, -1.0}).requires_grad_();
  Tensor64 y = ember::sigmoid(x);  // backward reads y: H(1 - H)
  y.data()[1] = 0.0;
  CHECK_THROWS_WITH_SUBSTR(ember::sum(y).backward(), ember::GraphError,
                           "sigmoid: its output (shape [2]) was modified in place after it was computed");
}

TEST_CASE("versions: an optimizer step between forward and a second backward of a retained graph is caught") {
  ember::Generator gen(3);
  auto model = ember::mlp<double>({3, 4, 1}, "tanh", ember::Init::xavier_uniform, gen);
  Tensor64 x = Tensor64::randn({5, 3}, gen), y = Tensor64::randn({5, 1}, gen);
  ember::SGD64 opt(model.parameters(), {.lr = 0.1});
  Tensor64 loss = ember::mse_loss(model(x), y);
  loss.backward(/*retain_graph=*/true);
  opt.step();
  CHECK_THROWS_WITH_SUBSTR(loss.backward(), ember::GraphError, "was modified in place after it was used");
}

TEST_CASE("versions: reads through a const tensor, changes before use, and ops that read nothing are fine") {
  Tensor64 x = Tensor64::from({2.0, 1.0}).requires_grad_();
  x.values() *= 1.5;  // before any op used x: the op saves version 1
  Tensor64 y = x * x;
  double total = std::as_const(x).values().sum() + x.at({0}) + x.to_vector()[1];
  CHECK(total == doctest::Approx(3.0 + 1.5 + 3.0 + 1.5));
  CHECK(x.version() == 1);
  ember::sum(y).backward();
  CHECK(x.grad().at({0}) == doctest::Approx(6.0));

  // add's backward reads neither input, so changing one after use is harmless.
  Tensor64 a = Tensor64::from({1.0}).requires_grad_(), b = Tensor64::from({2.0}).requires_grad_();
  Tensor64 c = a + b;
  a.values()[0] = 5.0;
  c.backward();
  CHECK(a.grad().item() == 1.0);
  CHECK(b.grad().item() == 1.0);
}

TEST_CASE("versions: every write access counts, and recording after the change is the fix") {
  Tensor64 w = Tensor64::from({1.0, 2.0}).requires_grad_();
  CHECK(w.version() == 0);
  (void)w.values();
  (void)w.data();
  (void)w.matrix();
  CHECK(w.version() == 3);
  Tensor64 y = ember::sum(w * w);
  w.data()[0] = 4.0;
  CHECK_THROWS_AS(y.backward(), ember::GraphError);
  Tensor64 again = ember::sum(w * w);  // the forward recomputed with the new values
  again.backward();
  CHECK(w.grad().at({0}) == doctest::Approx(8.0));
}

TEST_CASE("versions: reading through a non-const handle between forward and backward is not a modification") {
  Tensor64 x = Tensor64::from({0.5, -1.0, 2.0}).requires_grad_();
  Tensor64 y = ember::sigmoid(x * x);
  double seen = y.data()[0] + y.values().sum() + x.values()[2];  // non-const accessors, reading only
  CHECK(x.version() == 1);
  CHECK(y.version() == 2);
  CHECK(std::isfinite(seen));
  ember::sum(y).backward();  // the values are unchanged: nothing to refuse
  const double h = 1 / (1 + std::exp(-0.25));
  CHECK(x.grad().at({0}) == doctest::Approx(h * (1 - h) * 2 * 0.5));
  // Writing the same value back is no change either.
  Tensor64 z = ember::sum(x * x);
  x.data()[1] = -1.0;
  z.backward();
  const double s1 = 1 / (1 + std::exp(-1.0));                          // sigmoid((-1)^2)
  CHECK(x.grad().at({1}) == doctest::Approx(s1 * (1 - s1) * 2 * -1.0 + 2 * -1.0));  // both passes
}

TEST_CASE("versions: a plain training step hashes nothing: backward releases every input it used") {
  ember::Generator gen(8);
  auto model = ember::mlp<double>({4, 6, 1}, "tanh", ember::Init::xavier_uniform, gen);
  Tensor64 x = Tensor64::randn({5, 4}, gen), y = Tensor64::randn({5, 1}, gen);
  ember::SGD64 opt(model.parameters(), {.lr = 0.1});
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    ember::mse_loss(model(x), y).backward();
    for (const auto& p : model.parameters()) CHECK(p.node().saved_by.load() == 0);
    CHECK(x.node().saved_by.load() == 0);
    opt.step();
    for (const auto& p : model.parameters()) CHECK(p.node().snapshot_version == ~0u);  // no hash was taken
  }
}

TEST_CASE("versions: read, reuse by another op, read again, then backward: nothing changed, nothing refused") {
  Tensor64 x = Tensor64::from({0.3, -0.7}).requires_grad_();
  Tensor64 h = ember::sigmoid(x);
  (void)h.values();  // a non-const read: snapshot of the output as sigmoid saved it
  Tensor64 z = h * h;
  (void)h.values();  // again, after mul saved h at the next version
  ember::sum(z).backward();
  const double s = 1 / (1 + std::exp(-0.3));
  CHECK(x.grad().at({0}) == doctest::Approx(2 * s * s * (1 - s)));
  // A real change in between is still caught.
  Tensor64 h2 = ember::sigmoid(x);
  (void)h2.values();
  Tensor64 z2 = h2 * h2;
  h2.data()[0] = 0.9;
  CHECK_THROWS_AS(ember::sum(z2).backward(), ember::GraphError);
}
