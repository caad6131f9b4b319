// NanGuard: the first non-finite value in forward or backward is located by
// op, position and direction, and the graph survives the throw.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>

#include "../test_helpers.hpp"

using namespace ember;
using namespace ember::diag;

TEST_CASE("NanGuard: a planted log(0) in forward is located at the log") {
  auto x = Tensor64::from({1.0, 0.0, 2.0}).requires_grad_();
  NanGuard<double> guard;
  auto y = x * 2.0;  // op #0
  CHECK_THROWS_WITH_SUBSTR(log(y), ValueError,
                           "log: non-finite output in forward at op #1 (output [3] min -inf max 1.386, 0 NaN, 1 Inf); "
                           "input 0 from 'mul_scalar' op #0: [3] min 0 max 4, 0 NaN, 0 Inf");
}

TEST_CASE("NanGuard: a planted 0/0 in backward is located at the op whose backward made it") {
  // sqrt(0) = 0 and its gradient g / (2 sqrt(0)) = 0/0 when g = 0.
  auto x = Tensor64::from({4.0, 0.0, 1.0}).requires_grad_();
  NanGuard<double> guard;
  auto loss = sum(sqrt(x) * 0.0);  // forward is finite
  CHECK_THROWS_WITH_SUBSTR(loss.backward(), ValueError,
                           "sqrt: non-finite gradient in backward sent to input 0 ([3] min 0 max 0, 1 NaN, 0 Inf); "
                           "node 'sqrt' op #0, output [3]; upstream gradient [3] min 0 max 0, 0 NaN, 0 Inf; "
                           "input 0 from leaf: [3] min 0 max 4, 0 NaN, 0 Inf");
  CHECK_FALSE(x.has_grad());  // the NaN never reached the leaf
}

TEST_CASE("NanGuard: a custom op whose backward computes 0/0 is named") {
  auto planted = [](const Tensor64& x) {
    auto out = Tensor64::empty(x.shape());
    out.values() = x.values();
    return record(out, "planted_div", {x}, [](Backward<double>& b) { b.accumulate(0, b.grad() * 0.0 / 0.0); });
  };
  auto x = Tensor64::ones({2, 2}).requires_grad_();
  auto loss = sum(tanh(planted(x)));
  {
    NanGuard<double> guard;
    CHECK_THROWS_WITH_SUBSTR(loss.backward(/*retain_graph=*/true), ValueError,
                             "planted_div: non-finite gradient in backward sent to input 0 ([2x2] all 4 NaN)");
  }
  // The engine is consistent after the throw: without the guard, backward
  // runs through the same graph (and yields NaN).
  loss.backward();
  CHECK(std::isnan(x.grad().values()[0]));
}

TEST_CASE("NanGuard: a non-finite gradient handed out through grad_matrix_of is caught too") {
  NanGuardOptions o;
  o.forward = false;  // let the inf through forward
  NanGuard<float> guard(o);
  auto x = Tensor::from({{std::numeric_limits<float>::infinity(), 1.f}});
  auto w = Tensor::ones({2, 3}).requires_grad_();
  auto loss = sum(matmul(x, w) * 0.f);  // dW = x^T g = inf * 0
  CHECK_THROWS_WITH_SUBSTR(loss.backward(), ValueError, "matmul: non-finite gradient in backward sent to input 1 ([2x3]");
}

TEST_CASE("NanGuard: a NaN arriving from upstream or a hook is reported at the node it reaches") {
  auto x = Tensor64::from({1.0, 2.0}).requires_grad_();
  NanGuard<double> guard;
  auto y = exp(x);
  y.register_hook([](const Tensor64& g) { return Tensor64::full(g.shape(), std::nan("")); });
  CHECK_THROWS_WITH_SUBSTR(sum(y).backward(), ValueError,
                           "exp: non-finite gradient in backward arriving at its output (from a consumer or a hook)");
}

TEST_CASE("NanGuard: a NaN that came in with the data is called out as such") {
  auto x = Tensor64::from({1.0, std::nan("")});
  NanGuard<double> guard;
  CHECK_THROWS_WITH_SUBSTR(relu(x), ValueError, "input 0 from leaf: [2] min 1 max 1, 1 NaN, 0 Inf (an input was already non-finite)");
}

TEST_CASE("NanGuard: checks under NoGradGuard; allow_inf lets -inf through but not NaN; scope ends it") {
  auto zero = Tensor64::zeros({1});
  {
    NanGuard<double> guard;
    NoGradGuard no_grad;
    CHECK_THROWS_WITH_SUBSTR(log(zero), ValueError, "log: non-finite output in forward");
  }
  {
    NanGuardOptions o;
    o.allow_inf = true;
    NanGuard<double> guard(o);
    auto minus_inf = log(zero);
    CHECK(std::isinf(minus_inf.values()[0]));
    CHECK_THROWS_WITH_SUBSTR(minus_inf * 0.0, ValueError, "mul_scalar: non-finite output in forward at op #1");
    CHECK(guard.ops_seen() == 2);
  }
  CHECK(observers<double>().empty());
  CHECK(std::isnan((log(zero) * 0.0).values()[0]));  // no guard: NaN propagates, no throw
}

TEST_CASE("NanGuard: after a throw from backward the graph frees cleanly and training can go on") {
  auto w = Tensor64::from({0.0, 1.0}).requires_grad_();
  {
    NanGuard<double> guard;
    for (int i = 0; i < 3; ++i) {
      auto loss = sum(sqrt(w) * 0.0);
      CHECK_THROWS_AS(loss.backward(), ValueError);
    }  // each loss and its graph is destroyed here (leaks show under the sanitizer build)
    w.values()[0] = 1.0;
    sum(sqrt(w)).backward();
    CHECK(w.grad().values()[0] == doctest::Approx(0.5));
  }
}
