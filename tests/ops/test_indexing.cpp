// ops/indexing.hpp: Indices, index_select on any axis, gather, scatter_add,
// argmax/argmin, all-element max/min (ties split), min along an axis,
// cumsum, norm. Values from PyTorch's documented semantics written by hand;
// gradcheck and gradgradcheck; errors.
#include <ember/ember.hpp>

#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;
using V = std::vector<double>;

Tensor64 random(const Shape& s, std::uint64_t seed) {
  Generator gen(seed);
  return Tensor64::rand(s, gen, -2, 2);
}


}  // namespace

TEST_CASE("indexing: gather and scatter_add as torch.gather / scatter_add_") {
  const auto x = Tensor64::from({{1.0, 2.0}, {3.0, 4.0}});
  // torch.gather(t, 1, [[0, 0], [1, 0]]) = [[1, 1], [4, 3]]
  CHECK(gather(x, 1, Indices{{0, 0}, {1, 0}}).to_vector() == V{1, 1, 4, 3});
  CHECK(gather(x, 0, Indices{{1, 0}}).to_vector() == V{3, 2});
  const auto s = scatter_add(Tensor64::zeros({2, 3}), 1, Indices{{0, 2, 0}, {1, 1, 1}}, Tensor64::ones({2, 3}));
  CHECK(s.to_vector() == V{2, 0, 1, 0, 3, 0});
  CHECK_THROWS_WITH_SUBSTR(gather(x, 1, Indices{{0, 2}, {1, 0}}), ValueError,
                           "gather: index 2 at position (0,1) is out of range for axis 1 of size 2");
  CHECK_THROWS_WITH_SUBSTR(gather(x, 1, Indices{0, 1}), ShapeError, "gather: index of shape [2] must have the rank of the input [2x2]");
  CHECK_THROWS_WITH_SUBSTR(gather(x, 2, Indices(std::vector<Index>{0}, Shape{1, 1})), ShapeError, "gather: axis 2 is out of range for shape [2x2]");
  const auto r = random({3, 4}, 1);
  const Indices idx{{0, 3, 3}, {2, 2, 1}, {1, 0, 0}};
  CHECK_GRAD_AND_GRADGRAD([&](const Inputs& in) { return gather(in[0] * in[0], 1, idx); }, {r});
  CHECK_GRAD_AND_GRADGRAD([&](const Inputs& in) { return scatter_add(in[0], 1, idx, in[1] * in[1]); }, {r, random({3, 3}, 2)});
}

TEST_CASE("indexing: gather with an index of the input's shape, any axis, negative positions") {
  const auto x = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  // torch.gather(t, 1, [[2, 0, 2], [1, 1, 0]]) = [[3, 1, 3], [5, 5, 4]]; -1 is the last
  CHECK(gather(x, 1, Indices{{2, 0, 2}, {1, 1, 0}}).to_vector() == V{3, 1, 3, 5, 5, 4});
  CHECK(gather(x, 1, Indices{{-1, 0, -3}, {1, -2, 0}}).to_vector() == V{3, 1, 1, 5, 5, 4});
  CHECK(gather(x, 0, Indices{{1, 0, -1}, {0, 0, 1}}).to_vector() == V{4, 2, 6, 1, 2, 6});
  CHECK_THROWS_WITH_SUBSTR(gather(x, 1, Indices{{0, 1, 2}, {0, 3, 0}}), ValueError,
                           "gather: index 3 at position (1,1) is out of range for axis 1 of size 3");
  CHECK_THROWS_WITH_SUBSTR(gather(x, 0, Indices{{0, 1, 0}, {-3, 0, 0}}), ValueError,
                           "gather: index -3 at position (1,0) is out of range for axis 0 of size 2");
  CHECK_THROWS_WITH_SUBSTR(gather(Tensor64::zeros({2, 0}), 1, Indices(std::vector<Index>{0, 0}, Shape{2, 1})), ValueError,
                           "gather: index 0 at position (0,0) is out of range for axis 1 of size 0");
  CHECK(gather(Tensor64::zeros({2, 0}), 1, Indices(std::vector<Index>{}, Shape{2, 0})).shape() == Shape{2, 0});
  // the gradient adds up repeats, with and without the recorded path
  auto xr = x.detach().requires_grad_();
  sum(gather(xr, 1, Indices{{2, 0, 2}, {1, -2, 0}})).backward();
  CHECK(xr.grad().to_vector() == V{1, 0, 2, 1, 2, 0});
  const auto r = random({3, 4, 2}, 7);
  for (int axis : {0, 1, 2}) {
    INFO("axis ", axis);
    Generator gen(std::uint64_t(20 + axis));
    std::vector<Index> v(24);
    const Index n = r.shape()[axis];
    for (auto& i : v) i = Index(gen.below(std::uint64_t(2 * n))) - n;  // negative ones too
    const Indices idx(std::move(v), r.shape());
    CHECK_GRAD_AND_GRADGRAD([&](const Inputs& in) { return gather(in[0] * in[0], axis, idx); }, {r});
  }
  // a long axis: positions past 255 and 65535 are kept exactly for the backward
  for (const Index n : {Index(300), Index(70000)}) {
    INFO("n ", n);
    auto line = Tensor64::zeros({1, n}).detach().requires_grad_();
    const Indices at(std::vector<Index>(std::size_t(n), n - 1), Shape{1, n});
    sum(gather(line, 1, at)).backward();
    CHECK(line.grad().to_vector().back() == double(n));
    CHECK(sum(line.grad()).item() == double(n));
  }
}

TEST_CASE("indexing: index_select on any axis, repeats add their gradients") {
  const auto x = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  const std::vector<Index> cols{2, 0, 2};
  CHECK(index_select(x, 1, std::span<const Index>(cols)).to_vector() == V{3, 1, 3, 6, 4, 6});
  CHECK(index_select(x, 0, std::span<const Index>(std::vector<Index>{1})).to_vector() == V{4, 5, 6});
  auto xr = x.detach().requires_grad_();
  sum(index_select(xr, -1, std::span<const Index>(cols))).backward();
  CHECK(xr.grad().to_vector() == V{1, 0, 2, 1, 0, 2});
  CHECK_THROWS_WITH_SUBSTR(index_select(x, 1, std::span<const Index>(std::vector<Index>{3})), ValueError,
                           "index_select: index 3 at position 0 is out of range for axis 1 of size 3");
  CHECK_GRAD_AND_GRADGRAD([&](const Inputs& in) { return index_select(in[0] * in[0], 1, std::span<const Index>(cols)); }, {random({2, 3, 2}, 3)});
}

TEST_CASE("indexing: argmax, argmin, max and min, ties") {
  const auto x = Tensor64::from({{1.0, 5.0, 5.0}, {7.0, -1.0, 7.0}});
  CHECK(argmax(x) == 3);  // the first of the ties
  CHECK(argmin(x) == 4);
  const auto am = argmax(x, 1);
  CHECK(am.values == std::vector<Index>{1, 0});
  CHECK(am.shape == Shape{2});
  CHECK(argmin(x, 0, true).shape == Shape{1, 3});
  CHECK(argmin(x, 0, true).values == std::vector<Index>{0, 1, 0});
  CHECK(argmax(Tensor64::from({1.0, NAN, 3.0})) == 1);  // NaN counts as the largest
  // all-element max: the gradient is split evenly among the tied maxima (as PyTorch)
  auto xr = x.detach().requires_grad_();
  const auto m = max(xr);
  CHECK(m.item() == 7.0);
  CHECK(m.shape() == Shape{});
  m.backward();
  CHECK(xr.grad().to_vector() == V{0, 0, 0, 0.5, 0, 0.5});
  CHECK(min(x).item() == -1.0);
  CHECK(min(x, 1).to_vector() == V{1, -1});
  CHECK_THROWS_WITH_SUBSTR(max(Tensor64::zeros({0})), ShapeError, "max: tensor of shape [0] is empty");
  CHECK_THROWS_WITH_SUBSTR(argmax(Tensor64::zeros({2, 0}), 1), ShapeError, "argmax: cannot reduce axis 1 of size 0");
  const auto r = random({3, 4}, 4);
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return max(in[0] * in[0]) * in[0]; }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return min(in[0] * in[0], 0) ; }, {r});
}

TEST_CASE("indexing: cumsum and norm") {
  const auto x = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(cumsum(x, 1).to_vector() == V{1, 3, 6, 4, 9, 15});
  CHECK(cumsum(x, 0).to_vector() == V{1, 2, 3, 5, 7, 9});
  CHECK(norm(Tensor64::from({3.0, 4.0})).item() == 5.0);
  CHECK(norm(Tensor64::from({3.0, -4.0}), 1).item() == 7.0);
  CHECK(norm(x, 2, 1).at({0}) == doctest::Approx(std::sqrt(14.0)));
  // at an all-zero input the gradient is 0, not NaN
  auto z = Tensor64::zeros({3}).requires_grad_();
  norm(z).backward();
  CHECK(z.grad().to_vector() == V{0, 0, 0});
  CHECK_THROWS_WITH_SUBSTR(norm(x, 0.0), ValueError, "norm: p = 0 must be positive and finite");
  CHECK_THROWS_WITH_SUBSTR(norm(x, INFINITY), ValueError, "norm: p = inf must be positive and finite");
  const auto r = random({3, 4}, 5);
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return cumsum(in[0] * in[0], 1); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return cumsum(in[0], 0) * in[0]; }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return norm(in[0]); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return norm(in[0], 3.0, 1); }, {r});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return norm(in[0], 1.0, 0, true); }, {r});
}
