// ops/layout.hpp: unsqueeze, squeeze, flatten, permute, transpose(a, b),
// stack, split, chunk, repeat, masked_fill, maximum/minimum and compound
// assignment. Values written out by hand (PyTorch's documented results),
// gradcheck and gradgradcheck, and the errors.
#include <ember/ember.hpp>

#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;
using V = std::vector<double>;

Tensor64 arange(const Shape& s) {
  auto t = Tensor64::empty(s);
  for (Index i = 0; i < t.numel(); ++i) t.data()[i] = double(i);
  return t;
}

Tensor64 random(const Shape& s, std::uint64_t seed) {
  Generator gen(seed);
  return Tensor64::rand(s, gen, -2, 2);
}


}  // namespace

TEST_CASE("layout: unsqueeze, squeeze, flatten") {
  const auto x = arange({2, 3});
  CHECK(unsqueeze(x, 0).shape() == Shape{1, 2, 3});
  CHECK(unsqueeze(x, -1).shape() == Shape{2, 3, 1});
  CHECK(unsqueeze(x, 1).shape() == Shape{2, 1, 3});
  CHECK(squeeze(unsqueeze(x, 1), 1).shape() == Shape{2, 3});
  CHECK(squeeze(x, 0).shape() == Shape{2, 3});  // not of size 1: unchanged
  CHECK(squeeze(arange({1, 2, 1, 3, 1})).shape() == Shape{2, 3});
  CHECK(flatten(arange({2, 3, 4})).shape() == Shape{24});
  CHECK(flatten(arange({2, 3, 4}), 1).shape() == Shape{2, 12});
  CHECK(flatten(arange({2, 3, 4, 5}), 1, 2).shape() == Shape{2, 12, 5});
  CHECK_THROWS_WITH_SUBSTR(unsqueeze(x, 3), ShapeError, "unsqueeze: axis 3 is out of range for shape [2x3] (valid: -3 to 2)");
  CHECK_THROWS_WITH_SUBSTR(flatten(x, 1, 0), ShapeError, "flatten: start axis 1 comes after end axis 0");
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return squeeze(unsqueeze(in[0] * in[0], 0)); }, {random({2, 3}, 1)});
}

TEST_CASE("layout: permute and transpose of two axes") {
  const auto x = arange({2, 3, 4});
  const auto p = permute(x, {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  // p[k, i, j] = x[i, j, k]
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index k = 0; k < 4; ++k) CHECK(p.at({k, i, j}) == x.at({i, j, k}));
  const auto t = transpose(x, 0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.at({3, 1, 0}) == x.at({0, 1, 3}));
  CHECK(permute(arange({0, 3}), {1, 0}).shape() == Shape{3, 0});
  CHECK_THROWS_WITH_SUBSTR(permute(x, {0, 0, 1}), ShapeError, "permute: axis 0 appears twice in (0, 0, 1) (shape [2x3x4])");
  CHECK_THROWS_WITH_SUBSTR(permute(x, {0, 1}), ShapeError, "permute: 2 axes (0, 1) for a tensor of shape [2x3x4] (rank 3)");
  CHECK_THROWS_WITH_SUBSTR(permute(x, {0, 1, 3}), ShapeError, "permute: axis 3 is out of range");
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return permute(in[0] * in[0], {1, 2, 0}); }, {random({2, 3, 2}, 2)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return transpose(in[0], -1, 0) * transpose(in[0], 0, 2); }, {random({2, 3, 2}, 3)});
}

TEST_CASE("layout: stack, split, chunk") {
  const auto a = arange({2, 2}), b = arange({2, 2}) + 10.0;
  const auto s0 = stack<double>({a, b}, 0), s1 = stack<double>({a, b}, 1), s2 = stack<double>({a, b}, -1);
  CHECK(s0.shape() == Shape{2, 2, 2});
  CHECK(s0.to_vector() == V{0, 1, 2, 3, 10, 11, 12, 13});
  CHECK(s1.to_vector() == V{0, 1, 10, 11, 2, 3, 12, 13});
  CHECK(s2.to_vector() == V{0, 10, 1, 11, 2, 12, 3, 13});
  CHECK_THROWS_WITH_SUBSTR(stack<double>({a, arange({3})}, 0), ShapeError, "stack: tensor 1 has shape [3], tensor 0 has [2x2]");
  const auto x = arange({5, 2});
  const auto parts = split(x, 2);
  REQUIRE(parts.size() == 3);
  CHECK(parts[2].shape() == Shape{1, 2});
  CHECK(parts[1].to_vector() == V{4, 5, 6, 7});
  const std::vector<Index> sizes{1, 4};
  CHECK(split(x, std::span<const Index>(sizes))[1].shape() == Shape{4, 2});
  CHECK_THROWS_WITH_SUBSTR(split(x, std::span<const Index>(std::vector<Index>{1, 3})), ValueError, "split: sizes add up to 4, axis 0 of [5x2] has size 5");
  const auto chunks = chunk(x, 3);
  REQUIRE(chunks.size() == 3);  // 2, 2, 1
  CHECK(chunks[0].shape() == Shape{2, 2});
  CHECK(chunk(x, 2, 1)[1].to_vector() == V{1, 3, 5, 7, 9});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return stack<double>({in[0] * in[1], in[1]}, 1); }, {random({2, 3}, 4), random({2, 3}, 5)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return split(in[0] * in[0], 2, 1)[1]; }, {random({2, 5}, 6)});
}

TEST_CASE("layout: repeat and masked_fill") {
  const auto x = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}});
  const auto r = repeat(x, {2, 1});
  CHECK(r.shape() == Shape{4, 2});
  CHECK(r.to_vector() == V{1, 2, 3, 4, 1, 2, 3, 4});
  CHECK(repeat(x, {1, 2}).to_vector() == V{1, 2, 1, 2, 3, 4, 3, 4});
  CHECK(repeat(Tensor64::from({5.0, 6.0}), {2, 2}).shape() == Shape{2, 4});
  CHECK_THROWS_WITH_SUBSTR(repeat(x, {2}), ShapeError, "repeat: 1 repeat counts for a tensor of rank 2");
  const auto m = masked_fill(x, x > 2.5, -1.0);
  CHECK(m.to_vector() == V{1, 2, -1, -1});
  auto xr = x.detach().requires_grad_();
  sum(masked_fill(xr, x > 2.5, 0.0) * 3.0).backward();
  CHECK(xr.grad().to_vector() == V{3, 3, 0, 0});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return repeat(in[0] * in[0], {3, 1, 2}); }, {random({2, 2}, 7)});
}

TEST_CASE("layout: maximum and minimum, ties split the gradient") {
  auto a = Tensor64::from({1.0, 5.0, 3.0}).requires_grad_(), b = Tensor64::from({2.0, 4.0, 3.0}).requires_grad_();
  const auto mx = maximum(a, b);
  CHECK(mx.to_vector() == V{2, 5, 3});
  CHECK(minimum(a, b).to_vector() == V{1, 4, 3});
  sum(mx).backward();
  CHECK(a.grad().to_vector() == V{0, 1, 0.5});
  CHECK(b.grad().to_vector() == V{1, 0, 0.5});
  CHECK(std::isnan(maximum(Tensor64::from({NAN}), Tensor64::from({1.0})).item()));
  CHECK(maximum(Tensor64::from({-INFINITY}), Tensor64::from({1.0})).item() == 1.0);
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return maximum(in[0] * in[0], in[1]); }, {random({2, 3}, 8), random({3}, 9)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return minimum(in[0], in[1] * in[0]); }, {random({2, 3}, 10), random({2, 1}, 11)});
}

TEST_CASE("layout: compound assignment records a new node and never writes in place") {
  auto w = Tensor64::from({1.0, 2.0}).requires_grad_();
  Tensor64 h = w;
  h += w;   // h = w + w
  h *= 3.0; // h = 6w
  h -= 1.0;
  h /= Tensor64::from({2.0, 2.0});
  CHECK(w.to_vector() == V{1, 2});  // the leaf is untouched
  CHECK(h.to_vector() == V{2.5, 5.5});
  CHECK(std::string(h.op()) == "div");
  sum(h).backward();
  CHECK(w.grad().to_vector() == V{3, 3});
}
