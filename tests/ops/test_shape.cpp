// Shape and index ops: reshape, concat, index_select, where.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>

#include "../test_helpers.hpp"

using namespace ember;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
using Rows = std::vector<Index>;
}  // namespace

TEST_CASE("reshape: keeps the values in row-major order, infers one -1") {
  auto x = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  auto r = reshape(x, {3, 2});
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.to_vector() == x.to_vector());
  CHECK(reshape(x, {-1}).shape() == Shape{6});
  CHECK(reshape(x, {3, -1}).shape() == Shape{3, 2});
  CHECK(reshape(x, {-1, 1, 2}).shape() == Shape{3, 1, 2});
  CHECK(reshape(x, Shape{6, 1}).shape() == Shape{6, 1});
  const std::vector<Index> dims = {2, -1, 3};
  CHECK(reshape(x, dims).shape() == Shape{2, 1, 3});
  CHECK(reshape(Tensor64::from({7.0}), {}).shape() == Shape{});
  CHECK(reshape(Tensor64::zeros({0, 3}), {3, -1}).shape() == Shape{3, 0});
}

TEST_CASE("reshape: gradcheck, and the gradient keeps the input's shape") {
  Generator gen(1);
  auto x = Tensor64::randn({2, 3, 2}, gen);
  CHECK(gradcheck([](const auto& in) { return reshape(in[0], {4, -1}); }, {x}));
  CHECK(gradcheck([](const auto& in) { return reshape(in[0], {12}) * reshape(in[0], {12}); }, {x}));
  auto y = Tensor64::from({1.0, 2.0, 3.0, 4.0}).requires_grad_();
  reshape(y, {2, 2}).backward(Tensor64::from({{1.0, 2.0}, {3.0, 4.0}}));
  CHECK(y.grad().shape() == Shape{4});
  CHECK(y.grad().to_vector() == std::vector<double>{1.0, 2.0, 3.0, 4.0});
}

TEST_CASE("reshape: errors name both shapes") {
  auto x = Tensor64::zeros({2, 3});
  CHECK_THROWS_WITH_SUBSTR(reshape(x, {4, 2}), ShapeError,
                           "reshape: cannot reshape [2x3] (6 elements) to [4x2] (8 elements)");
  CHECK_THROWS_WITH_SUBSTR(reshape(x, Shape{5}), ShapeError, "reshape: cannot reshape [2x3] (6 elements) to [5]");
  CHECK_THROWS_WITH_SUBSTR(reshape(x, {4, -1}), ShapeError,
                           "reshape: cannot reshape [2x3] (6 elements) to [4x-1]: no size for the -1 dimension fits");
  CHECK_THROWS_WITH_SUBSTR(reshape(Tensor64::zeros({0, 3}), {0, -1}), ShapeError,
                           "reshape: cannot reshape [0x3] (0 elements) to [0x-1]");
  CHECK_THROWS_WITH_SUBSTR(reshape(x, {-1, -1}), ShapeError, "reshape: target [-1x-1] has more than one -1 dimension");
  CHECK_THROWS_WITH_SUBSTR(reshape(x, {-2, -3}), ShapeError,
                           "reshape: target [-2x-3] has a negative dimension -2 (only -1 is allowed)");
  CHECK_THROWS_WITH_SUBSTR(reshape(x, {1, 1, 1, 1, 1, 2, 3}), ShapeError,
                           "reshape: target [1x1x1x1x1x2x3] has rank 7, above the maximum rank 6");
}

TEST_CASE("concat: hand examples along each axis, negative axes") {
  auto a = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}});
  auto b = Tensor64::from({{5.0, 6.0}});
  auto c0 = concat({a, b}, 0);
  CHECK(c0.shape() == Shape{3, 2});
  CHECK(c0.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  auto e = Tensor64::from_data(std::vector<double>{9.0, 8.0}, {2, 1});
  const std::vector<Tensor64> list = {a, e, a};
  auto c1 = concat(list, -1);
  CHECK(c1.shape() == Shape{2, 5});
  CHECK(c1.to_vector() == std::vector<double>{1, 2, 9, 1, 2, 3, 4, 8, 3, 4});
  auto x = Tensor64::from({{{1.0, 2.0}}, {{3.0, 4.0}}});  // [2x1x2]
  auto y = Tensor64::from({{{5.0, 6.0}, {7.0, 8.0}}, {{9.0, 10.0}, {11.0, 12.0}}});  // [2x2x2]
  auto c2 = concat({x, y}, 1);
  CHECK(c2.shape() == Shape{2, 3, 2});
  CHECK(c2.to_vector() == std::vector<double>{1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12});
  auto single = concat<double>({a}, 1);
  CHECK(single.to_vector() == a.to_vector());
  CHECK(concat<double>({Tensor64::zeros({0, 2}), a}, 0).to_vector() == a.to_vector());
}

TEST_CASE("concat: gradcheck along every axis of rank 1-3 inputs") {
  Generator gen(2);
  CHECK(gradcheck([](const auto& in) { return concat<double>({in[0], in[1]}, 0); },
                  {Tensor64::randn({3}, gen), Tensor64::randn({2}, gen)}));
  for (int axis = -3; axis < 3; ++axis) {
    CAPTURE(axis);
    const int a = axis < 0 ? axis + 3 : axis;
    Shape s0{2, 3, 2}, s1{2, 3, 2}, s2{2, 3, 2};
    s1[a] = 1;
    s2[a] = 3;
    auto x0 = Tensor64::randn(s0, gen), x1 = Tensor64::randn(s1, gen), x2 = Tensor64::randn(s2, gen);
    CHECK(gradcheck([=](const auto& in) { return concat<double>({in[0], in[1], in[2]}, axis); }, {x0, x1, x2}));
  }
}

TEST_CASE("concat: the same tensor twice gets both gradients; inputs that need no grad get none") {
  auto x = Tensor64::from({1.0, 2.0}).requires_grad_();
  auto k = Tensor64::from({3.0});
  auto c = concat<double>({x, k, x}, 0);
  CHECK(c.to_vector() == std::vector<double>{1, 2, 3, 1, 2});
  c.backward(Tensor64::from({1.0, 2.0, 3.0, 4.0, 5.0}));
  CHECK(x.grad().to_vector() == std::vector<double>{5.0, 7.0});
  CHECK_FALSE(k.has_grad());
}

TEST_CASE("concat: errors name the shapes") {
  CHECK_THROWS_WITH_SUBSTR(concat<double>({}, 0), ValueError, "concat: empty list of tensors");
  auto a = Tensor64::zeros({2, 3});
  CHECK_THROWS_WITH_SUBSTR(concat<double>({a, Tensor64::zeros({4, 4})}, 0), ShapeError,
                           "concat: tensor 1 of shape [4x4] does not match tensor 0 of shape [2x3] outside axis 0");
  CHECK_THROWS_WITH_SUBSTR(concat<double>({a, a, Tensor64::zeros({2, 3, 1})}, -1), ShapeError,
                           "concat: tensor 2 of shape [2x3x1] does not match tensor 0 of shape [2x3] outside axis -1");
  CHECK_THROWS_WITH_SUBSTR(concat<double>({a, a}, 2), ShapeError, "concat: axis 2 is out of range for shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(concat<double>({Tensor64::scalar(1.0)}, 0), ShapeError,
                           "concat: axis 0 is out of range for shape []");
}

TEST_CASE("index_select: selects rows along axis 0, in order, with repeats") {
  auto x = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});
  auto s = index_select(x, {2, 0, 2});
  CHECK(s.shape() == Shape{3, 2});
  CHECK(s.to_vector() == std::vector<double>{5, 6, 1, 2, 5, 6});
  CHECK(index_select(Tensor64::from({7.0, 8.0, 9.0}), Rows{1}).to_vector() == std::vector<double>{8.0});
  auto none = index_select(x, Rows{});
  CHECK(none.shape() == Shape{0, 2});
  auto cube = Tensor64::from({{{1.0, 2.0}}, {{3.0, 4.0}}});  // [2x1x2]
  auto c = index_select(cube, Rows{1, 1});
  CHECK(c.shape() == Shape{2, 1, 2});
  CHECK(c.to_vector() == std::vector<double>{3, 4, 3, 4});
}

TEST_CASE("index_select: repeated indices accumulate their gradients exactly") {
  auto x = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}).requires_grad_();
  index_select(x, Rows{0, 2, 0, 0}).backward(Tensor64::from({{1.0, 10.0}, {2.0, 20.0}, {3.0, 30.0}, {4.0, 40.0}}));
  CHECK(x.grad().to_vector() == std::vector<double>{8.0, 80.0, 0.0, 0.0, 2.0, 20.0});
}

TEST_CASE("index_select: gradcheck on several shapes") {
  Generator gen(4);
  CHECK(gradcheck([](const auto& in) { return index_select(in[0], Rows{3, 1, 1, 0}); }, {Tensor64::randn({4}, gen)}));
  CHECK(gradcheck([](const auto& in) { return index_select(in[0], Rows{2, 2, 0}); }, {Tensor64::randn({3, 4}, gen)}));
  CHECK(gradcheck([](const auto& in) { return index_select(in[0], Rows{1, 0}); }, {Tensor64::randn({2, 2, 3}, gen)}));
}

TEST_CASE("index_select: out-of-range indices and scalars are clear errors") {
  auto x = Tensor64::zeros({3, 2});
  CHECK_THROWS_WITH_SUBSTR(index_select(x, Rows{0, 3}), ValueError,
                           "index_select: index 3 is out of range for axis 0 of size 3 (shape [3x2])");
  CHECK_THROWS_WITH_SUBSTR(index_select(x, Rows{-1}), ValueError,
                           "index_select: index -1 is out of range for axis 0 of size 3");
  CHECK_THROWS_WITH_SUBSTR(index_select(Tensor64::scalar(1.0), Rows{0}), ShapeError,
                           "index_select: tensor of shape [] has no axis 0 to select from");
}

TEST_CASE("where: hand example, nonzero and NaN count as true") {
  auto m = Tensor64::from({1.0, 0.0, -2.0, kNaN});
  auto a = Tensor64::from({1.0, 2.0, 3.0, 4.0});
  auto b = Tensor64::from({-1.0, -2.0, -3.0, -4.0});
  CHECK(where(m, a, b).to_vector() == std::vector<double>{1.0, -2.0, 3.0, 4.0});
  auto n = where(Tensor64::from({0.0, 1.0}), Tensor64::from({kNaN, 5.0}), Tensor64::from({6.0, kNaN}));
  CHECK(n.to_vector() == std::vector<double>{6.0, 5.0});
}

TEST_CASE("where: broadcasts mask, a and b to one shape") {
  auto m = Tensor64::from_data(std::vector<double>{1.0, 0.0}, {2, 1});
  auto a = Tensor64::from({10.0, 20.0, 30.0});
  auto b = Tensor64::scalar(-1.0);
  auto w = where(m, a, b);
  CHECK(w.shape() == Shape{2, 3});
  CHECK(w.to_vector() == std::vector<double>{10, 20, 30, -1, -1, -1});
}

TEST_CASE("where: exact gradients, no gradient to the mask, no NaN from the branch not taken") {
  auto m = Tensor64::from_data(std::vector<double>{1.0, 0.0}, {2, 1}).requires_grad_();
  auto a = Tensor64::from({kNaN, 2.0, 3.0}).requires_grad_();
  auto b = Tensor64::scalar(-1.0).requires_grad_();
  where(m, a, b).backward(Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}));
  CHECK(a.grad().to_vector() == std::vector<double>{1.0, 2.0, 3.0});
  CHECK(b.grad().item() == 15.0);
  CHECK_FALSE(m.has_grad());
}

TEST_CASE("where: gradcheck on same and broadcast shapes") {
  Generator gen(6);
  auto fn = [](const auto& in) { return where(in[0], in[1], in[2]); };
  auto mask = [&](const Shape& s) {  // exactly 0 or 1, so finite differences never flip it
    auto t = Tensor64::empty(s);
    for (Index i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<double>(gen.below(2));
    return t;
  };
  CHECK(gradcheck(fn, {mask({3, 4}), Tensor64::randn({3, 4}, gen), Tensor64::randn({3, 4}, gen)}));
  CHECK(gradcheck(fn, {mask({3, 1}), Tensor64::randn({1, 4}, gen), Tensor64::randn({4}, gen)}));
  CHECK(gradcheck(fn, {mask({2, 3, 2}), Tensor64::randn({3, 1}, gen), Tensor64::scalar(0.5)}));
  CHECK(gradcheck(fn, {mask({}), Tensor64::randn({2, 2}, gen), Tensor64::randn({2, 1}, gen)}));
}

TEST_CASE("where: shapes that do not broadcast are named") {
  CHECK_THROWS_WITH_SUBSTR(where(Tensor64::zeros({2, 3}), Tensor64::zeros({3}), Tensor64::zeros({4})), ShapeError,
                           "where: mask [2x3], a [3] and b [4] cannot be broadcast to one shape");
  CHECK_THROWS_WITH_SUBSTR(where(Tensor64::zeros({2}), Tensor64::zeros({3}), Tensor64::zeros({1})), ShapeError,
                           "where: mask [2], a [3] and b [1] cannot be broadcast to one shape");
}

TEST_CASE("shape ops: float32 forward smoke check and backward") {
  auto x = Tensor::from({{1.0f, 2.0f, 3.0f}, {4.0f, 5.0f, 6.0f}}).requires_grad_();
  auto r = reshape(x, {3, -1});
  CHECK(r.shape() == Shape{3, 2});
  auto c = concat<float>({x, x}, 0);
  CHECK(c.shape() == Shape{4, 3});
  auto s = index_select(x, Rows{1, 1});
  CHECK(s.to_vector() == std::vector<float>{4, 5, 6, 4, 5, 6});
  auto w = where(Tensor::from({1.0f, 0.0f, 1.0f}), x, Tensor::scalar(0.0f));
  CHECK(w.to_vector() == std::vector<float>{1, 0, 3, 4, 0, 6});
  (sum(r) + sum(c) + sum(s) + sum(w)).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{4, 3, 4, 6, 5, 6});
}
