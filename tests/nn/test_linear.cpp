// The fused linear op: values, gradients (gradcheck), one node, errors.
#include <ember/ember.hpp>
#include <ops/linalg.hpp>

#include <cmath>
#include <limits>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

// A test-side observer that only counts, so backward takes the engine's
// scratch-buffer path of grad_matrix_of.
struct CountingObserver : GraphObserver<double> {
  int forwards = 0, input_grads = 0;
  void on_forward(const char*, std::span<const Tensor64>, const Tensor64&) override { ++forwards; }
  void on_input_grad(const Node<double>&, int, ConstArrayMap<double>) override { ++input_grads; }
};

}  // namespace

TEST_CASE("linear: forward is x·Wᵀ + b") {
  auto x = Tensor64::from({{1.0, 2.0, 3.0}, {-1.0, 0.5, 2.0}});
  auto w = Tensor64::from({{1.0, 0.0, -1.0}, {2.0, 1.0, 0.0}});
  auto b = Tensor64::from({0.5, -1.0});
  auto y = linear(x, w, b);
  CHECK(y.shape() == Shape{2, 2});
  CHECK(y.to_vector() == std::vector<double>{1 - 3 + 0.5, 2 + 2 - 1.0, -1 - 2 + 0.5, -2 + 0.5 - 1.0});
  CHECK(linear(x, w).to_vector() == std::vector<double>{-2.0, 4.0, -3.0, -1.5});
}

TEST_CASE("linear: leading dimensions fold into rows, a vector maps to a vector") {
  Generator gen(1);
  auto w = Tensor64::randn({4, 3}, gen);
  auto b = Tensor64::randn({4}, gen);
  auto x3 = Tensor64::randn({2, 5, 3}, gen);
  auto y3 = linear(x3, w, b);
  CHECK(y3.shape() == Shape{2, 5, 4});
  auto v = Tensor64::from({1.0, -2.0, 0.5});
  auto yv = linear(v, w, b);
  CHECK(yv.shape() == Shape{4});
  for (Index o = 0; o < 4; ++o) {
    const double expected = w.at({o, 0}) * 1.0 - 2.0 * w.at({o, 1}) + 0.5 * w.at({o, 2}) + b.at({o});
    CHECK(yv.at({o}) == doctest::Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("linear: is one recorded node") {
  Generator gen(2);
  auto x = Tensor64::randn({3, 2}, gen);
  auto w = Tensor64::randn({4, 2}, gen).requires_grad_();
  auto b = Tensor64::randn({4}, gen).requires_grad_();
  auto y = linear(x, w, b);
  CHECK(std::string(y.op()) == "linear");
  CHECK(y.node().inputs.size() == 3);
  CHECK(y.node().inputs[1] == w.node_ptr());
  CHECK(linear(x, w).node().inputs.size() == 2);
  CHECK_FALSE(linear(x.detach(), w.detach(), b.detach()).requires_grad());
}

TEST_CASE("linear: gradcheck on several shapes, with and without bias") {
  Generator gen(3);
  const std::vector<std::tuple<Shape, Index>> cases = {
      {Shape{1, 1}, 1}, {Shape{4, 3}, 5}, {Shape{7, 2}, 1}, {Shape{3}, 4}, {Shape{2, 3, 4}, 3}, {Shape{1, 6}, 2}};
  for (const auto& [xs, out] : cases) {
    CAPTURE(xs.str());
    const Index in = xs.cols();
    auto x = Tensor64::randn(xs, gen);
    auto w = Tensor64::randn({out, in}, gen);
    auto b = Tensor64::randn({out}, gen);
    CHECK(gradcheck([](const auto& t) { return linear(t[0], t[1], t[2]); }, {x, w, b}));
    CHECK(gradcheck([](const auto& t) { return linear(t[0], t[1]); }, {x, w}));
  }
}

TEST_CASE("linear: gradcheck at edge values (zeros, large magnitudes)") {
  auto x = Tensor64::from({{0.0, 0.0}, {1e3, -1e3}});
  auto w = Tensor64::from({{0.0, 1e-3}, {-2.0, 0.0}, {1.0, 1.0}});
  auto b = Tensor64::zeros({3});
  CHECK(gradcheck([](const auto& t) { return linear(t[0], t[1], t[2]); }, {x, w, b}));
}

TEST_CASE("linear: gradients are exact and only go where needed") {
  auto x = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});       // [3,2]
  auto w = Tensor64::from({{1.0, -1.0}, {0.5, 2.0}}).requires_grad_();  // [2,2]
  auto b = Tensor64::from({0.0, 1.0}).requires_grad_();
  auto g = Tensor64::from({{1.0, 0.0}, {0.0, 2.0}, {1.0, 1.0}});       // upstream [3,2]
  linear(x, w, b).backward(g);
  // dW = gᵀ·x, db = column sums of g
  CHECK(w.grad().to_vector() == std::vector<double>{1 + 5, 2 + 6, 6 + 5, 8 + 6});
  CHECK(b.grad().to_vector() == std::vector<double>{2.0, 3.0});
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("linear: gradients accumulate into existing ones") {
  Generator gen(4);
  auto x = Tensor64::randn({3, 2}, gen).requires_grad_();
  auto w = Tensor64::randn({4, 2}, gen).requires_grad_();
  auto b = Tensor64::randn({4}, gen).requires_grad_();
  auto g = Tensor64::randn({3, 4}, gen);
  linear(x, w, b).backward(g);
  const auto x1 = x.grad().to_vector(), w1 = w.grad().to_vector(), b1 = b.grad().to_vector();
  (linear(x, w, b) + linear(x, w, b)).backward(g);  // a second pass through two uses
  for (std::size_t i = 0; i < x1.size(); ++i) CHECK(x.grad().to_vector()[i] == doctest::Approx(3 * x1[i]));
  for (std::size_t i = 0; i < w1.size(); ++i) CHECK(w.grad().to_vector()[i] == doctest::Approx(3 * w1[i]));
  for (std::size_t i = 0; i < b1.size(); ++i) CHECK(b.grad().to_vector()[i] == doctest::Approx(3 * b1[i]));
}

TEST_CASE("linear: equals the matmul + add composition, values and gradients") {
  Generator gen(5);
  auto x = Tensor64::randn({6, 5}, gen).requires_grad_();
  auto w = Tensor64::randn({3, 5}, gen).requires_grad_();
  auto b = Tensor64::randn({3}, gen).requires_grad_();
  auto g = Tensor64::randn({6, 3}, gen);
  auto fused = linear(x, w, b);
  fused.backward(g);
  const auto gx = x.grad().to_vector(), gw = w.grad().to_vector(), gb = b.grad().to_vector();
  x.zero_grad(), w.zero_grad(), b.zero_grad();
  auto composed = matmul(x, transpose(w)) + b;
  composed.backward(g);
  for (Index i = 0; i < fused.numel(); ++i) CHECK(fused.data()[i] == doctest::Approx(composed.data()[i]));
  for (std::size_t i = 0; i < gx.size(); ++i) CHECK(gx[i] == doctest::Approx(x.grad().to_vector()[i]));
  for (std::size_t i = 0; i < gw.size(); ++i) CHECK(gw[i] == doctest::Approx(w.grad().to_vector()[i]));
  for (std::size_t i = 0; i < gb.size(); ++i) CHECK(gb[i] == doctest::Approx(b.grad().to_vector()[i]));
}

TEST_CASE("linear: correct with a graph observer installed") {
  Generator gen(6);
  auto x = Tensor64::randn({3, 2}, gen).requires_grad_();
  auto w = Tensor64::randn({4, 2}, gen).requires_grad_();
  auto b = Tensor64::randn({4}, gen).requires_grad_();
  auto g = Tensor64::randn({3, 4}, gen);
  linear(x, w, b).backward(g);
  const auto gx = x.grad().to_vector(), gw = w.grad().to_vector(), gb = b.grad().to_vector();
  x.zero_grad(), w.zero_grad(), b.zero_grad();
  CountingObserver observer;
  {
    ObserverScope<double> scope(observer);
    linear(x, w, b).backward(g);
  }
  CHECK(observer.forwards == 1);
  CHECK(observer.input_grads == 3);
  CHECK(x.grad().to_vector() == gx);
  CHECK(w.grad().to_vector() == gw);
  CHECK(b.grad().to_vector() == gb);
}

TEST_CASE("linear: float matches double") {
  Generator gen(7);
  auto x = Tensor64::randn({5, 4}, gen);
  auto w = Tensor64::randn({3, 4}, gen);
  auto b = Tensor64::randn({3}, gen);
  auto cast = [](const Tensor64& t) {
    const auto d = t.to_vector();
    std::vector<float> v(d.begin(), d.end());
    return Tensor::from_data(v, t.shape());
  };
  auto yf = linear(cast(x), cast(w), cast(b));
  auto yd = linear(x, w, b);
  for (Index i = 0; i < yd.numel(); ++i) CHECK(yf.data()[i] == doctest::Approx(yd.data()[i]).epsilon(1e-5));
}

TEST_CASE("linear: NaN in gives NaN out, no crash") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto x = Tensor64::from({{nan, 1.0}, {1.0, 2.0}});
  auto w = Tensor64::from({{1.0, 1.0}}).requires_grad_();
  auto y = linear(x, w, Tensor64::from({0.0}));
  CHECK(std::isnan(y.at({0, 0})));
  CHECK(y.at({1, 0}) == 3.0);
  y.backward(Tensor64::ones({2, 1}));
  CHECK(std::isnan(w.grad().at({0, 0})));
}

TEST_CASE("linear: shape errors name the shapes") {
  auto x = Tensor64::zeros({4, 3});
  CHECK_THROWS_WITH_SUBSTR(linear(x, Tensor64::zeros({5, 2})), ShapeError,
                           "linear: input [4x3] and weight [5x2]: input features 3 differ from the weight's "
                           "in_features 2");
  CHECK_THROWS_WITH_SUBSTR(linear(x, Tensor64::zeros({3})), ShapeError,
                           "linear: weight [3] must be 2-D [out_features x in_features]");
  CHECK_THROWS_WITH_SUBSTR(linear(x, Tensor64::zeros({5, 3}), Tensor64::zeros({4})), ShapeError,
                           "linear: bias [4] does not match weight [5x3]: expected [5]");
  CHECK_THROWS_WITH_SUBSTR(linear(x, Tensor64::zeros({5, 3}), Tensor64::zeros({1, 5})), ShapeError,
                           "linear: bias [1x5] does not match weight [5x3]");
  CHECK_THROWS_WITH_SUBSTR(linear(Tensor64::scalar(1.0), Tensor64::zeros({1, 1})), ShapeError,
                           "linear: input [] must have at least one dimension");
}
