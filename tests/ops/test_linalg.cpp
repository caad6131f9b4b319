// Linear algebra: matmul (2-D and batched) and transpose.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>
#include <optional>

#include "../test_helpers.hpp"

using namespace ember;

namespace {
// Counts the gradients reported to observers, to run backward through the
// engine's observed (scratch-buffer) path.
struct CountingObserver : GraphObserver<double> {
  int input_grads = 0;
  void on_input_grad(const Node<double>&, int, ConstArrayMap<double>) override { ++input_grads; }
};
}  // namespace

TEST_CASE("matmul: 2-D hand examples") {
  auto a = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}});
  auto b = Tensor64::from({{5.0, 6.0}, {7.0, 8.0}});
  auto c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 2});
  CHECK(c.to_vector() == std::vector<double>{19.0, 22.0, 43.0, 50.0});
  auto column = Tensor64::from_data(std::vector<double>{1.0, 0.0, -1.0}, {3, 1});
  auto r = matmul(Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}), column);
  CHECK(r.shape() == Shape{2, 1});
  CHECK(r.to_vector() == std::vector<double>{-2.0, -2.0});
}

TEST_CASE("matmul: batched hand example multiplies each pair of matrices") {
  auto a = Tensor64::from({{{1.0, 2.0}}, {{3.0, 4.0}}});      // [2x1x2]
  auto b = Tensor64::from_data(std::vector<double>{1.0, 1.0, 2.0, -1.0}, {2, 2, 1});
  auto c = matmul(a, b);
  CHECK(c.shape() == Shape{2, 1, 1});
  CHECK(c.to_vector() == std::vector<double>{3.0, 2.0});
}

TEST_CASE("matmul: an empty inner dimension gives zeros, NaN propagates") {
  auto c = matmul(Tensor64::zeros({2, 0}), Tensor64::zeros({0, 3}));
  CHECK(c.shape() == Shape{2, 3});
  CHECK(c.to_vector() == std::vector<double>(6, 0.0));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto n = matmul(Tensor64::from({{1.0, nan}, {1.0, 1.0}}), Tensor64::from_data(std::vector<double>{1.0, 2.0}, {2, 1}));
  CHECK(std::isnan(n.to_vector()[0]));
  CHECK(n.to_vector()[1] == 3.0);
}

TEST_CASE("matmul: gradcheck on several 2-D shapes") {
  Generator gen(7);
  const std::vector<std::array<Index, 3>> sizes = {{3, 4, 2}, {1, 5, 1}, {2, 1, 3}, {4, 3, 4}};
  for (const auto& [n, k, m] : sizes) {
    CAPTURE(n);
    CAPTURE(k);
    CAPTURE(m);
    auto a = Tensor64::randn({n, k}, gen), b = Tensor64::randn({k, m}, gen);
    CHECK(gradcheck([](const auto& in) { return matmul(in[0], in[1]); }, {a, b}));
  }
}

TEST_CASE("matmul: gradcheck batched (rank 3)") {
  Generator gen(8);
  auto a = Tensor64::randn({2, 3, 4}, gen), b = Tensor64::randn({2, 4, 5}, gen);
  CHECK(gradcheck([](const auto& in) { return matmul(in[0], in[1]); }, {a, b}));
  auto c = Tensor64::randn({3, 1, 2}, gen), d = Tensor64::randn({3, 2, 2}, gen);
  CHECK(gradcheck([](const auto& in) { return matmul(in[0], in[1]); }, {c, d}));
}

TEST_CASE("matmul: the same tensor on both sides accumulates both gradients") {
  Generator gen(9);
  auto x = Tensor64::randn({3, 3}, gen);
  CHECK(gradcheck([](const auto& in) { return matmul(in[0], in[0]); }, {x}));
  CHECK(gradcheck([](const auto& in) { return matmul(in[0], transpose(in[0])); }, {Tensor64::randn({2, 4}, gen)}));
}

TEST_CASE("matmul: exact gradients, and an input that needs no grad gets none") {
  auto a = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}}).requires_grad_();
  auto b = Tensor64::from({{5.0, 6.0}, {7.0, 8.0}});
  matmul(a, b).backward(Tensor64::ones({2, 2}));
  // dA = G B^T with G = ones: each row is the row sums of B.
  CHECK(a.grad().to_vector() == std::vector<double>{11.0, 15.0, 11.0, 15.0});
  CHECK_FALSE(b.has_grad());
  auto c = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}});
  auto d = Tensor64::from({{5.0, 6.0}, {7.0, 8.0}}).requires_grad_();
  matmul(c, d).backward(Tensor64::ones({2, 2}));
  // dB = A^T G: each column is the column sums of A.
  CHECK(d.grad().to_vector() == std::vector<double>{4.0, 4.0, 6.0, 6.0});
  CHECK_FALSE(c.has_grad());
}

TEST_CASE("matmul: gradients accumulate into an existing gradient, also with an observer installed") {
  Generator gen(10);
  auto a0 = Tensor64::randn({2, 3, 4}, gen), b0 = Tensor64::randn({2, 4, 2}, gen);
  auto plain = [&](bool observed) {
    auto a = a0.detach().requires_grad_(), b = b0.detach().requires_grad_();
    CountingObserver counter;
    std::optional<ObserverScope<double>> scope;
    if (observed) scope.emplace(counter);
    sum(matmul(a, b)).backward();
    sum(matmul(a, b) * 2.0).backward();  // adds into the gradients of the first pass
    if (observed) CHECK(counter.input_grads > 0);
    std::vector<double> out = a.grad().to_vector(), gb = b.grad().to_vector();
    out.insert(out.end(), gb.begin(), gb.end());
    return out;
  };
  const auto without = plain(false), with = plain(true);
  CHECK(without == with);
  // Three times the gradient of sum(A B): dA = 1 B^T.
  auto a = a0.detach().requires_grad_();
  sum(matmul(a, b0)).backward();
  for (Index i = 0; i < a.numel(); ++i)
    CHECK(without[static_cast<std::size_t>(i)] == doctest::Approx(3 * a.grad().data()[i]));
}

TEST_CASE("matmul: shape errors name both shapes") {
  CHECK_THROWS_WITH_SUBSTR(matmul(Tensor64::zeros({2, 3}), Tensor64::zeros({4, 5})), ShapeError,
                           "matmul: [2x3] @ [4x5]: inner dimensions 3 and 4 differ");
  CHECK_THROWS_WITH_SUBSTR(matmul(Tensor64::zeros({2, 2, 3}), Tensor64::zeros({2, 4, 5})), ShapeError,
                           "matmul: [2x2x3] @ [2x4x5]: inner dimensions 3 and 4 differ");
  CHECK_THROWS_WITH_SUBSTR(matmul(Tensor64::zeros({2, 2, 3}), Tensor64::zeros({3, 3, 5})), ShapeError,
                           "matmul: [2x2x3] @ [3x3x5]: batch sizes 2 and 3 differ");
  CHECK_THROWS_WITH_SUBSTR(matmul(Tensor64::zeros({2, 2, 3}), Tensor64::zeros({3, 5})), ShapeError,
                           "matmul: [2x2x3] @ [3x5]: expected two matrices (rank 2) or two batches of matrices (rank "
                           "3), got ranks 3 and 2");
  CHECK_THROWS_WITH_SUBSTR(matmul(Tensor64::zeros({3}), Tensor64::zeros({3})), ShapeError,
                           "matmul: [3] @ [3]: expected two matrices");
  CHECK_THROWS_WITH_SUBSTR(matmul(Tensor64::zeros({1, 2, 2, 2}), Tensor64::zeros({1, 2, 2, 2})), ShapeError,
                           "got ranks 4 and 4");
}

TEST_CASE("transpose: hand examples, 2-D and rank 3") {
  auto x = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  auto t = transpose(x);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.to_vector() == std::vector<double>{1.0, 4.0, 2.0, 5.0, 3.0, 6.0});
  auto y = Tensor64::from({{{1.0, 2.0}}, {{3.0, 4.0}}});  // [2x1x2]
  auto ty = transpose(y);
  CHECK(ty.shape() == Shape{2, 2, 1});
  CHECK(ty.to_vector() == std::vector<double>{1.0, 2.0, 3.0, 4.0});
  auto z = Tensor64::from({{{1.0, 2.0}, {3.0, 4.0}}, {{5.0, 6.0}, {7.0, 8.0}}});
  CHECK(transpose(z).to_vector() == std::vector<double>{1.0, 3.0, 2.0, 4.0, 5.0, 7.0, 6.0, 8.0});
  CHECK(transpose(transpose(z)).to_vector() == z.to_vector());
  CHECK(transpose(Tensor64::zeros({3, 0})).shape() == Shape{0, 3});
}

TEST_CASE("transpose: gradcheck on several shapes") {
  Generator gen(12);
  for (const Shape& s : std::vector<Shape>{{2, 3}, {1, 4}, {4, 1}, {2, 3, 4}, {2, 1, 2, 3}}) {
    CAPTURE(s.str());
    CHECK(gradcheck([](const auto& in) { return transpose(in[0]); }, {Tensor64::randn(s, gen)}));
  }
}

TEST_CASE("transpose: rank below 2 is a shape error") {
  CHECK_THROWS_WITH_SUBSTR(transpose(Tensor64::zeros({3})), ShapeError,
                           "transpose: tensor of shape [3] has rank 1; transpose swaps the last two dimensions and "
                           "needs rank >= 2");
  CHECK_THROWS_WITH_SUBSTR(transpose(Tensor64::scalar(1.0)), ShapeError, "transpose: tensor of shape [] has rank 0");
}

TEST_CASE("linalg: float32 forward smoke check and backward") {
  auto a = Tensor::from({{1.0f, 2.0f}, {3.0f, 4.0f}}).requires_grad_();
  auto b = Tensor::from({{5.0f, 6.0f}, {7.0f, 8.0f}});
  auto c = matmul(a, transpose(b));
  CHECK(c.to_vector() == std::vector<float>{17.0f, 23.0f, 39.0f, 53.0f});
  sum(c).backward();
  CHECK(a.grad().to_vector() == std::vector<float>{12.0f, 14.0f, 12.0f, 14.0f});
  auto batched = matmul(Tensor::ones({2, 2, 3}), Tensor::ones({2, 3, 1}));
  CHECK(batched.to_vector() == std::vector<float>{3.0f, 3.0f, 3.0f, 3.0f});
}
