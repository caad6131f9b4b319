// ops/selection.hpp: topk along the last axis, max/min along an axis with
// their indices. Expected values follow PyTorch's documented semantics
// (torch.topk, torch.max(x, dim)), written by hand; gradients through
// gradcheck and gradgradcheck; errors.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;
using V = std::vector<double>;
using I = std::vector<Index>;

Tensor64 random(const Shape& s, std::uint64_t seed) {
  Generator gen(seed);
  return Tensor64::rand(s, gen, -2, 2);
}

}  // namespace

TEST_CASE("selection: topk values and indices, largest and smallest, sorted or in index order") {
  const auto x = Tensor64::from({{3.0, 1.0, 4.0, 1.5}, {-2.0, 9.0, 0.0, 9.5}});
  const auto top = topk(x, 2);
  CHECK(top.values.shape() == Shape{2, 2});
  CHECK(top.values.to_vector() == V{4, 3, 9.5, 9});
  CHECK(top.indices.values == I{2, 0, 3, 1});
  CHECK(top.indices.shape == Shape{2, 2});
  const auto low = topk(x, 3, /*largest=*/false);
  CHECK(low.values.to_vector() == V{1, 1.5, 3, -2, 0, 9});
  CHECK(low.indices.values == I{1, 3, 0, 0, 2, 1});
  const auto unsorted = topk(x, 2, true, /*sorted=*/false);
  CHECK(unsorted.indices.values == I{0, 2, 1, 3});
  CHECK(unsorted.values.to_vector() == V{3, 4, 9, 9.5});
  // k = the whole axis is a full sort; k = 0 an empty last axis.
  CHECK(topk(x, 4).indices.values == I{2, 0, 3, 1, 3, 1, 2, 0});
  CHECK(topk(x, 0).values.shape() == Shape{2, 0});
  // Rank 1 and rank 3: the last axis.
  CHECK(topk(Tensor64::from({5.0, 7.0, 6.0}), 1).indices.values == I{1});
  const auto r3 = topk(Tensor64::from({{{1.0, 2.0}, {3.0, 4.0}}, {{5.0, 6.0}, {7.0, 8.0}}}), 1);
  CHECK(r3.values.shape() == Shape{2, 2, 1});
  CHECK(r3.values.to_vector() == V{2, 4, 6, 8});
}

TEST_CASE("selection: topk ties (lower index first) and NaN (larger than every number)") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto ties = Tensor64::from({2.0, 5.0, 2.0, 5.0, 5.0});
  CHECK(topk(ties, 3).indices.values == I{1, 3, 4});
  CHECK(topk(ties, 2, false).indices.values == I{0, 2});
  const auto withnan = Tensor64::from({1.0, nan, 3.0});
  const auto t = topk(withnan, 2);
  CHECK(t.indices.values == I{1, 2});
  CHECK(std::isnan(t.values.to_vector()[0]));
  // Smallest first: the NaN is last, as it counts as the largest.
  CHECK(topk(withnan, 3, false).indices.values == I{0, 2, 1});
}

TEST_CASE("selection: topk gradient goes to the chosen places, first and second order") {
  auto x = Tensor64::from({{3.0, 1.0, 4.0}, {0.5, 2.0, -1.0}}).requires_grad_();
  sum(topk(x, 2).values * Tensor64::from({{10.0, 1.0}, {10.0, 1.0}})).backward();
  CHECK(x.grad().to_vector() == V{1, 0, 10, 1, 10, 0});
  // Random points have no ties, so the selection is locally constant.
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return topk(in[0] * in[0], 3).values; }, {random({3, 5}, 7)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return topk(in[0], 2, false, false).values; }, {random({2, 2, 4}, 8)});
  // Edge values: large magnitudes, far from any tie.
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return topk(in[0] * 2.0, 2).values; },
                          {Tensor64::from({{-40.0, 20.0, -20.0, 40.0}, {710.0, -710.0, 1.0, 0.0}})});
}

TEST_CASE("selection: max_with_indices / min_with_indices as torch.max(x, dim)") {
  const auto x = Tensor64::from({{1.0, 5.0, 5.0}, {7.0, -1.0, 7.0}});
  const auto m = max_with_indices(x, 1);
  CHECK(m.values.to_vector() == V{5, 7});
  CHECK(m.values.shape() == Shape{2});
  CHECK(m.indices.values == I{1, 0});  // the first of the ties
  CHECK(m.indices.shape == Shape{2});
  const auto mk = max_with_indices(x, 0, /*keepdim=*/true);
  CHECK(mk.values.shape() == Shape{1, 3});
  CHECK(mk.values.to_vector() == V{7, 5, 7});
  CHECK(mk.indices.shape == Shape{1, 3});
  CHECK(mk.indices.values == I{1, 0, 1});
  const auto n = min_with_indices(x, -1);
  CHECK(n.values.to_vector() == V{1, -1});
  CHECK(n.indices.values == I{0, 1});
  // The gradient goes to the returned index only, not split among ties.
  auto xr = x.detach().requires_grad_();
  sum(max_with_indices(xr, 1).values).backward();
  CHECK(xr.grad().to_vector() == V{0, 1, 0, 1, 0, 0});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return max_with_indices(in[0] * in[0], 1).values; }, {random({3, 4}, 9)});
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return min_with_indices(in[0], 0, true).values; }, {random({3, 4}, 10)});
}

TEST_CASE("selection: errors name the op, k or axis, and the shape") {
  const auto x = Tensor64::zeros({2, 3});
  CHECK_THROWS_WITH_SUBSTR(topk(x, 4), ShapeError, "topk: k = 4 is out of range for the last axis (size 3) of [2x3]");
  CHECK_THROWS_WITH_SUBSTR(topk(x, -1), ShapeError, "topk: k = -1 is out of range");
  CHECK_THROWS_WITH_SUBSTR(topk(Tensor64::scalar(1.0), 1), ShapeError, "topk: needs a tensor of rank >= 1");
  CHECK_THROWS_WITH_SUBSTR(max_with_indices(x, 2), ShapeError, "max_with_indices: axis 2 is out of range for shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(min_with_indices(Tensor64::zeros({2, 0}), 1), ShapeError, "min_with_indices: cannot reduce axis 1 of size 0");
}
