// Reductions: sum, mean (all elements and along an axis), max along an axis.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>

#include "../test_helpers.hpp"

using namespace ember;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// The shapes every axis reduction is gradchecked on, incl. size-1 axes.
const std::vector<Shape> kShapes = {{5}, {3, 4}, {1, 4}, {2, 3, 4}, {2, 1, 3}};
}  // namespace

TEST_CASE("sum/mean: all elements of a hand example") {
  auto x = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  auto s = sum(x), m = mean(x);
  CHECK(s.rank() == 0);
  CHECK(m.rank() == 0);
  CHECK(s.item() == 21.0);
  CHECK(m.item() == 3.5);
  CHECK(sum(Tensor64::scalar(-2.5)).item() == -2.5);
}

TEST_CASE("sum/mean: all-element gradients are exact constants") {
  auto x = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}}).requires_grad_();
  (sum(x) * 3.0).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3.0, 3.0, 3.0, 3.0});
  x.zero_grad();
  mean(x).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0.25, 0.25, 0.25, 0.25});
}

TEST_CASE("sum/mean: empty tensors give 0 and NaN, NaN propagates") {
  auto e = Tensor64::zeros({0, 3});
  CHECK(sum(e).item() == 0.0);
  CHECK(std::isnan(mean(e).item()));
  auto n = Tensor64::from({1.0, kNaN, 2.0});
  CHECK(std::isnan(sum(n).item()));
  CHECK(std::isnan(mean(n).item()));
  CHECK(std::isnan(sum(n, 0).item()));
}

TEST_CASE("sum/mean: all-element gradcheck on several shapes") {
  Generator gen(11);
  for (const Shape& s : std::vector<Shape>{{}, {1}, {7}, {3, 4}, {2, 3, 4}}) {
    CAPTURE(s.str());
    auto x = Tensor64::randn(s, gen);
    CHECK(gradcheck([](const auto& in) { return sum(in[0]); }, {x}));
    CHECK(gradcheck([](const auto& in) { return mean(in[0]); }, {x}));
  }
}

TEST_CASE("sum/mean: along an axis, hand example") {
  auto x = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  auto s0 = sum(x, 0);
  CHECK(s0.shape() == Shape{3});
  CHECK(s0.to_vector() == std::vector<double>{5.0, 7.0, 9.0});
  auto s1 = sum(x, 1, true);
  CHECK(s1.shape() == Shape{2, 1});
  CHECK(s1.to_vector() == std::vector<double>{6.0, 15.0});
  auto m = mean(x, -1);
  CHECK(m.shape() == Shape{2});
  CHECK(m.to_vector() == std::vector<double>{2.0, 5.0});
  auto m0 = mean(x, -2, true);
  CHECK(m0.shape() == Shape{1, 3});
  CHECK(m0.to_vector() == std::vector<double>{2.5, 3.5, 4.5});
}

TEST_CASE("sum/mean: along each axis of a rank-3 tensor match explicit loops") {
  Generator gen(3);
  auto x = Tensor64::empty({2, 3, 4});
  for (Index i = 0; i < x.numel(); ++i) x.data()[i] = static_cast<double>(gen.below(19)) - 9.0;  // exact sums
  for (int axis = 0; axis < 3; ++axis) {
    CAPTURE(axis);
    auto s = sum(x, axis), m = mean(x, axis - 3, true);
    const Shape& sh = x.shape();
    CHECK(s.shape() == sh.reduced(axis, false));
    CHECK(m.shape() == sh.reduced(axis, true));
    for (Index a = 0; a < sh[0]; ++a)
      for (Index b = 0; b < sh[1]; ++b)
        for (Index c = 0; c < sh[2]; ++c) {
          Index idx[3] = {a, b, c};
          if (idx[axis] != 0) continue;
          double total = 0;
          for (Index k = 0; k < sh[axis]; ++k) {
            idx[axis] = k;
            total += x.at({idx[0], idx[1], idx[2]});
          }
          idx[axis] = 0;
          const Index out = axis == 0 ? b * 4 + c : axis == 1 ? a * 4 + c : a * 3 + b;
          CHECK(s.data()[out] == total);
          CHECK(m.data()[out] == doctest::Approx(total / static_cast<double>(sh[axis])));
        }
  }
}

TEST_CASE("sum/mean: an empty axis gives 0 and NaN; other empty dims give empty results") {
  auto x = Tensor64::zeros({2, 0, 3});
  auto s = sum(x, 1);
  CHECK(s.shape() == Shape{2, 3});
  CHECK(s.to_vector() == std::vector<double>(6, 0.0));
  auto m = mean(x, 1);
  for (double v : m.to_vector()) CHECK(std::isnan(v));
  CHECK(sum(x, 0).shape() == Shape{0, 3});
  CHECK(mean(x, 2, true).shape() == Shape{2, 0, 1});
}

TEST_CASE("sum/mean: gradcheck along every axis, keepdim on and off, negative axes") {
  Generator gen(21);
  for (const Shape& s : kShapes) {
    auto x = Tensor64::randn(s, gen);
    for (int axis = -s.rank(); axis < s.rank(); ++axis) {
      for (bool keepdim : {false, true}) {
        CAPTURE(s.str());
        CAPTURE(axis);
        CAPTURE(keepdim);
        CHECK(gradcheck([=](const auto& in) { return sum(in[0], axis, keepdim); }, {x}));
        CHECK(gradcheck([=](const auto& in) { return mean(in[0], axis, keepdim); }, {x}));
      }
    }
  }
}

TEST_CASE("max: along an axis, hand example") {
  auto x = Tensor64::from({{1.0, 7.0, -3.0}, {4.0, -5.0, 6.0}});
  CHECK(max(x, 0).to_vector() == std::vector<double>{4.0, 7.0, 6.0});
  auto m = max(x, -1, true);
  CHECK(m.shape() == Shape{2, 1});
  CHECK(m.to_vector() == std::vector<double>{7.0, 6.0});
  CHECK(max(Tensor64::from({-2.0, -1.0, -8.0}), 0).rank() == 0);
  CHECK(max(Tensor64::from({-2.0, -1.0, -8.0}), 0).item() == -1.0);
}

TEST_CASE("max: the gradient goes to the first maximal element on ties, last axis") {
  auto x = Tensor64::from({{1.0, 3.0, 3.0}, {2.0, 2.0, 1.0}, {5.0, 5.0, 5.0}}).requires_grad_();
  auto m = max(x, 1);
  CHECK(m.to_vector() == std::vector<double>{3.0, 2.0, 5.0});
  m.backward(Tensor64::from({10.0, 20.0, 30.0}));
  CHECK(x.grad().to_vector() == std::vector<double>{0, 10, 0, 20, 0, 0, 30, 0, 0});
}

TEST_CASE("max: the gradient goes to the first maximal element on ties, middle axis of rank 3") {
  // x[0] = [[5, 1], [5, 4], [0, 4]]: along axis 1, column 0 ties at k=0,1 and column 1 at k=1,2.
  auto x = Tensor64::from({{{5.0, 1.0}, {5.0, 4.0}, {0.0, 4.0}}}).requires_grad_();
  auto m = max(x, -2, true);
  CHECK(m.shape() == Shape{1, 1, 2});
  CHECK(m.to_vector() == std::vector<double>{5.0, 4.0});
  m.backward(Tensor64::from({{{1.0, 2.0}}}));
  CHECK(x.grad().to_vector() == std::vector<double>{1, 0, 0, 2, 0, 0});
}

TEST_CASE("max: a NaN is the max and takes the gradient (first NaN)") {
  auto x = Tensor64::from({{1.0, kNaN, 3.0, kNaN}}).requires_grad_();
  auto m = max(x, 1);
  CHECK(std::isnan(m.item()));
  m.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 1, 0, 0});
  auto y = Tensor64::from({{1.0, 2.0}, {kNaN, 0.0}, {3.0, kNaN}}).requires_grad_();  // along axis 0, inner 2
  auto my = max(y, 0);
  CHECK(std::isnan(my.to_vector()[0]));
  CHECK(std::isnan(my.to_vector()[1]));
  my.backward(Tensor64::ones({2}));
  CHECK(y.grad().to_vector() == std::vector<double>{0, 0, 1, 0, 0, 1});
}

TEST_CASE("max: infinities are ordinary values; an all -inf slice sends its gradient to the first") {
  const double inf = std::numeric_limits<double>::infinity();
  auto x = Tensor64::from({{-inf, -inf, -inf}, {1.0, inf, inf}}).requires_grad_();
  auto m = max(x, 1);
  CHECK(m.to_vector() == std::vector<double>{-inf, inf});
  m.backward(Tensor64::from({2.0, 3.0}));
  CHECK(x.grad().to_vector() == std::vector<double>{2, 0, 0, 0, 3, 0});
  CHECK(std::isnan(sum(Tensor64::from({inf, -inf})).item()));
  CHECK(sum(Tensor64::from({inf, 1.0}), 0).item() == inf);
}

TEST_CASE("max: gradcheck along every axis, keepdim on and off, negative axes") {
  Generator gen(5);
  for (const Shape& s : kShapes) {
    auto x = Tensor64::randn(s, gen);  // distinct values: no tie within 1e-6
    for (int axis = -s.rank(); axis < s.rank(); ++axis) {
      for (bool keepdim : {false, true}) {
        CAPTURE(s.str());
        CAPTURE(axis);
        CAPTURE(keepdim);
        CHECK(gradcheck([=](const auto& in) { return max(in[0], axis, keepdim); }, {x}));
      }
    }
  }
}

TEST_CASE("reductions: axis errors name the op, the axis and the shape") {
  auto x = Tensor64::zeros({2, 3});
  CHECK_THROWS_WITH_SUBSTR(sum(x, 2), ShapeError, "sum: axis 2 is out of range for shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(mean(x, -3), ShapeError, "mean: axis -3 is out of range for shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(max(x, 5, true), ShapeError, "max: axis 5 is out of range for shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(sum(Tensor64::scalar(1.0), 0), ShapeError, "sum: axis 0 is out of range for shape []");
  CHECK_THROWS_WITH_SUBSTR(max(Tensor64::zeros({2, 0}), -1), ShapeError,
                           "max: cannot reduce axis -1 of size 0 (shape [2x0])");
}

TEST_CASE("reductions: float32 forward smoke check and backward") {
  auto x = Tensor::from({{1.0f, 2.0f, 3.0f}, {4.0f, 6.0f, 5.0f}}).requires_grad_();
  CHECK(sum(x).item() == 21.0f);
  CHECK(mean(x).item() == 3.5f);
  CHECK(sum(x, 0).to_vector() == std::vector<float>{5.0f, 8.0f, 8.0f});
  CHECK(mean(x, 1, true).to_vector() == std::vector<float>{2.0f, 5.0f});
  CHECK(max(x, -1).to_vector() == std::vector<float>{3.0f, 6.0f});
  CHECK(max(x, 0).to_vector() == std::vector<float>{4.0f, 6.0f, 5.0f});
  sum(max(x, 1)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{0, 0, 1, 0, 1, 0});
}

// Each of these would loop 2^40 times if it walked the empty dimensions
// (minutes to hours): a hang fails by CTest's timeout.
TEST_CASE("reductions: a legal empty [2^40, 0] tensor reduces in O(output) time, forward and backward") {
  const Index huge = Index(1) << 40;
  auto x = Tensor::zeros({huge, 0}).requires_grad_();
  for (const bool keepdim : {false, true}) {
    INFO("keepdim ", keepdim);
    auto s = sum(x, 0, keepdim), m = mean(x, 0, keepdim), top = max(x, 0, keepdim);
    const Shape expected = keepdim ? Shape{1, 0} : Shape{0};
    CHECK(s.shape() == expected);
    CHECK(m.shape() == expected);
    CHECK(top.shape() == expected);
    (sum(s) + sum(m) + sum(top)).backward();
    CHECK(x.grad().shape() == Shape{huge, 0});
  }
  // All elements: 0 for the sum (the identity), NaN for the mean (0/0).
  CHECK(sum(x).item() == 0.0f);
  CHECK(std::isnan(mean(x).item()));
  // Reducing an empty axis of [2^40, 0, 0]: the result [2^40, 0] is empty.
  auto y = Tensor::zeros({huge, 0, 0}).requires_grad_();
  CHECK(sum(y, 1).shape() == Shape{huge, 0});
  CHECK(mean(y, 2).shape() == Shape{huge, 0});
  sum(sum(y, 1)).backward();
  CHECK(y.grad().shape() == Shape{huge, 0, 0});
}

TEST_CASE("empty tensors: concat, matmul, transpose and softmax of [2^40, 0] pieces cost O(output) time") {
  const Index huge = Index(1) << 40;
  auto a = Tensor::zeros({huge, 0}).requires_grad_();
  auto c = concat({a, a}, 1);
  CHECK(c.shape() == Shape{huge, 0});
  auto b = Tensor::zeros({huge, 0, 3}).requires_grad_();
  auto w = Tensor::ones({huge, 3, 0}).requires_grad_();
  auto p = matmul(b, w);  // [2^40, 0, 3] @ [2^40, 3, 0] -> [2^40, 0, 0]
  CHECK(p.shape() == Shape{huge, 0, 0});
  auto t = transpose(b);
  CHECK(t.shape() == Shape{huge, 3, 0});
  auto s = softmax(b, 1);
  CHECK(s.shape() == Shape{huge, 0, 3});
  (sum(c) + sum(p) + sum(t) + sum(s)).backward();
  CHECK(a.grad().shape() == Shape{huge, 0});
  CHECK(b.grad().shape() == Shape{huge, 0, 3});
  CHECK(w.grad().shape() == Shape{huge, 3, 0});
  // A non-empty product of empty inner dimensions is zeros, and so are the
  // gradients of a product that is empty.
  auto q = matmul(Tensor::ones({2, 0}), Tensor::ones({0, 3}));
  CHECK(q.to_vector() == std::vector<float>(6, 0.0f));
  auto u = Tensor::ones({2, 3, 4}).requires_grad_();
  sum(matmul(u, Tensor::ones({2, 4, 0}))).backward();
  CHECK(u.grad().to_vector() == std::vector<float>(24, 0.0f));
}
