// engine/shape and engine/broadcast (named test_broadcast: tests/ops/test_shape is
// the shape-ops family): Shape, axes, broadcasting rules, and the
// expand / sum_to kernels against a naive reference.
#include <ember/ember.hpp>

#include <engine/broadcast.hpp>

#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

// The flat offset in `small` of the element at flat offset `flat` of `big`
// (small right-aligned, its dims 1 or equal): the textbook definition.
Index naive_source(const Shape& big, const Shape& small, Index flat) {
  std::vector<Index> idx(static_cast<std::size_t>(big.rank()));
  for (int a = big.rank() - 1; a >= 0; --a) {
    idx[static_cast<std::size_t>(a)] = flat % big[a];
    flat /= big[a];
  }
  Index offset = 0;
  for (int a = 0; a < small.rank(); ++a) {
    const Index i = idx[static_cast<std::size_t>(big.rank() - small.rank() + a)];
    offset = offset * small[a] + (small[a] == 1 ? 0 : i);
  }
  return offset;
}

std::vector<double> iota(Index n, double start = 1.0) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = start + static_cast<double>(i);
  return v;
}

struct Case {
  Shape small, big;
};
const std::vector<Case> kCases = {
    {{}, {}},                  {{}, {3}},           {{1}, {4}},
    {{4}, {3, 4}},             {{3, 1}, {3, 4}},    {{1, 4}, {3, 4}},
    {{3, 4}, {3, 4}},          {{3, 1}, {2, 3, 4}}, {{2, 1, 4}, {2, 3, 4}},
    {{1, 3, 1}, {2, 3, 4}},    {{2, 1, 1}, {2, 3, 4}}, {{4}, {2, 3, 4}},
    {{1, 1}, {5, 7}},          {{5, 1}, {5, 1}},    {{1, 2, 1, 3, 1, 2}, {2, 2, 3, 3, 2, 2}},
    {{3}, {2, 1, 3}},          {{1, 3}, {0, 3}},    {{2, 1}, {2, 0}},
    {{7, 1}, {3, 7, 1}},       {{1, 1, 5}, {3, 2, 5}},
};

}  // namespace

TEST_CASE("shape: rank, numel, rows, cols, str, equality") {
  Shape scalar;
  CHECK(scalar.rank() == 0);
  CHECK(scalar.numel() == 1);
  CHECK(scalar.rows() == 1);
  CHECK(scalar.cols() == 1);
  CHECK(scalar.str() == "[]");
  CHECK(scalar.dims().empty());

  Shape v{5};
  CHECK(v.numel() == 5);
  CHECK(v.rows() == 1);
  CHECK(v.cols() == 5);
  CHECK(v.str() == "[5]");

  Shape s{2, 3, 4};
  CHECK(s.rank() == 3);
  CHECK(s.numel() == 24);
  CHECK(s.rows() == 6);
  CHECK(s.cols() == 4);
  CHECK(s.str() == "[2x3x4]");
  CHECK(s[1] == 3);
  CHECK(s.dims().size() == 3);
  s[1] = 5;
  CHECK(s.str() == "[2x5x4]");

  CHECK(Shape{0, 3}.numel() == 0);
  CHECK(Shape{3, 0}.rows() == 3);
  CHECK(Shape{3, 0}.cols() == 0);

  const std::vector<Index> dims{2, 1, 7};
  CHECK(Shape(std::span<const Index>(dims)) == Shape{2, 1, 7});
  CHECK(Shape{2, 3} == Shape{2, 3});
  CHECK_FALSE(Shape{2, 3} == Shape{3, 2});
  CHECK_FALSE(Shape{2, 3} == Shape{2, 3, 1});
  CHECK_FALSE(Shape{1} == Shape{});
}

TEST_CASE("shape: construction errors") {
  CHECK_THROWS_WITH_SUBSTR((Shape{2, -1}), ShapeError, "shape: dimension 1 is negative (-1)");
  CHECK_THROWS_WITH_SUBSTR((Shape{1, 2, 3, 4, 5, 6, 7}), ShapeError, "shape: rank 7 exceeds the maximum rank 6");
  const std::vector<Index> eight(8, 1);
  CHECK_THROWS_WITH_SUBSTR(Shape(std::span<const Index>(eight)), ShapeError, "shape: rank 8 exceeds");
  CHECK((Shape{1, 2, 3, 4, 5, 6}).numel() == 720);
}

TEST_CASE("shape: normalize_axis counts negative axes from the back and names the op") {
  Shape s{2, 3, 4};
  CHECK(s.normalize_axis(0, "sum") == 0);
  CHECK(s.normalize_axis(2, "sum") == 2);
  CHECK(s.normalize_axis(-1, "sum") == 2);
  CHECK(s.normalize_axis(-3, "sum") == 0);
  CHECK_THROWS_WITH_SUBSTR(s.normalize_axis(3, "sum"), ShapeError, "sum: axis 3 is out of range for shape [2x3x4]");
  CHECK_THROWS_WITH_SUBSTR(s.normalize_axis(-4, "mean"), ShapeError,
                           "mean: axis -4 is out of range for shape [2x3x4]");
  CHECK_THROWS_WITH_SUBSTR(Shape{}.normalize_axis(0, "softmax"), ShapeError,
                           "softmax: axis 0 is out of range for shape []");
  CHECK_THROWS_WITH_SUBSTR(Shape{}.normalize_axis(-1, "softmax"), ShapeError, "axis -1 is out of range");
}

TEST_CASE("shape: reduced drops or keeps the axis") {
  Shape s{2, 3, 4};
  CHECK(s.reduced(0, false) == Shape{3, 4});
  CHECK(s.reduced(1, false) == Shape{2, 4});
  CHECK(s.reduced(2, false) == Shape{2, 3});
  CHECK(s.reduced(1, true) == Shape{2, 1, 4});
  CHECK(s.reduced(2, true) == Shape{2, 3, 1});
  CHECK(Shape{5}.reduced(0, false) == Shape{});
  CHECK(Shape{5}.reduced(0, true) == Shape{1});
}

TEST_CASE("shape: broadcast_shapes follows NumPy") {
  CHECK(broadcast_shapes({3, 4}, {4}, "add") == Shape{3, 4});
  CHECK(broadcast_shapes({4}, {3, 4}, "add") == Shape{3, 4});
  CHECK(broadcast_shapes({3, 1}, {1, 4}, "add") == Shape{3, 4});
  CHECK(broadcast_shapes({2, 3, 4}, {3, 1}, "add") == Shape{2, 3, 4});
  CHECK(broadcast_shapes({}, {2, 3}, "add") == Shape{2, 3});
  CHECK(broadcast_shapes({2, 3}, {}, "add") == Shape{2, 3});
  CHECK(broadcast_shapes({}, {}, "add") == Shape{});
  CHECK(broadcast_shapes({1}, {}, "add") == Shape{1});
  CHECK(broadcast_shapes({2, 1, 4}, {3, 1}, "add") == Shape{2, 3, 4});
  CHECK(broadcast_shapes({0, 3}, {1, 3}, "add") == Shape{0, 3});
  CHECK(broadcast_shapes({0}, {1}, "add") == Shape{0});
  CHECK(broadcast_shapes({1, 1, 1, 1, 1, 6}, {5, 1}, "add") == Shape{1, 1, 1, 1, 5, 6});
}

TEST_CASE("shape: incompatible shapes name the op, both shapes and the dimension") {
  CHECK_THROWS_WITH_SUBSTR(broadcast_shapes({3, 4}, {3}, "add"), ShapeError,
                           "add: shapes [3x4] and [3] cannot be broadcast (dimension 1: 4 vs 3)");
  CHECK_THROWS_WITH_SUBSTR(broadcast_shapes({2, 3, 4}, {5, 4}, "mul"), ShapeError,
                           "mul: shapes [2x3x4] and [5x4] cannot be broadcast (dimension 1: 3 vs 5)");
  CHECK_THROWS_WITH_SUBSTR(broadcast_shapes({0}, {5}, "where"), ShapeError,
                           "where: shapes [0] and [5] cannot be broadcast (dimension 0: 0 vs 5)");
}

TEST_CASE("shape: broadcasts_to") {
  CHECK(broadcasts_to({}, {2, 3}));
  CHECK(broadcasts_to({3}, {2, 3}));
  CHECK(broadcasts_to({1, 3}, {2, 3}));
  CHECK(broadcasts_to({2, 1}, {2, 3}));
  CHECK(broadcasts_to({2, 3}, {2, 3}));
  CHECK(broadcasts_to({1}, {}) == false);  // rank 1 does not fit into rank 0
  CHECK_FALSE(broadcasts_to({2}, {2, 3}));
  CHECK_FALSE(broadcasts_to({2, 3}, {3}));
  CHECK_FALSE(broadcasts_to({2, 3}, {1, 3}));  // only `from` may have 1s
  CHECK_FALSE(broadcasts_to({3, 2}, {2, 3}));
  CHECK(broadcasts_to({1, 3}, {0, 3}));
}

TEST_CASE("broadcast: expand and sum_to agree with a naive reference") {
  for (const auto& c : kCases) {
    INFO("small ", c.small.str(), " big ", c.big.str());
    REQUIRE(broadcasts_to(c.small, c.big));
    const Index n_small = c.small.numel(), n_big = c.big.numel();

    const std::vector<double> src = iota(n_small);
    std::vector<double> expanded(static_cast<std::size_t>(n_big), -1.0), expected(expanded.size());
    for (Index j = 0; j < n_big; ++j)
      expected[static_cast<std::size_t>(j)] = src[static_cast<std::size_t>(naive_source(c.big, c.small, j))];
    expand(src.data(), c.small, expanded.data(), c.big);
    CHECK(expanded == expected);

    // sum_to adds into dst: start from a non-zero value.
    const std::vector<double> grad = iota(n_big, 0.5);
    std::vector<double> summed(static_cast<std::size_t>(n_small), 100.0), reference(summed.size(), 100.0);
    for (Index j = 0; j < n_big; ++j)
      reference[static_cast<std::size_t>(naive_source(c.big, c.small, j))] += grad[static_cast<std::size_t>(j)];
    sum_to(grad.data(), c.big, summed.data(), c.small);
    CHECK(summed == reference);

    // float instantiation
    std::vector<float> srcf(src.begin(), src.end()), expandedf(static_cast<std::size_t>(n_big));
    expand(srcf.data(), c.small, expandedf.data(), c.big);
    for (std::size_t j = 0; j < expandedf.size(); ++j) CHECK(expandedf[j] == static_cast<float>(expected[j]));
    std::vector<float> gradf(grad.begin(), grad.end()), summedf(static_cast<std::size_t>(n_small), 0.0f);
    sum_to(gradf.data(), c.big, summedf.data(), c.small);
    for (std::size_t i = 0; i < summedf.size(); ++i) CHECK(summedf[i] == static_cast<float>(reference[i] - 100.0));
  }
}

TEST_CASE("broadcast: random shapes of rank up to 6 against the reference") {
  Generator gen(31);
  for (int trial = 0; trial < 200; ++trial) {
    const int rank = static_cast<int>(gen.below(7));
    std::vector<Index> big_dims, small_dims;
    for (int a = 0; a < rank; ++a) big_dims.push_back(static_cast<Index>(1 + gen.below(3)));
    const int small_rank = static_cast<int>(gen.below(static_cast<std::uint64_t>(rank) + 1));
    for (int a = rank - small_rank; a < rank; ++a)
      small_dims.push_back(gen.below(2) == 0 ? 1 : big_dims[static_cast<std::size_t>(a)]);
    const Shape big{std::span<const Index>(big_dims)}, small{std::span<const Index>(small_dims)};
    INFO("small ", small.str(), " big ", big.str());
    const std::vector<double> src = iota(small.numel());
    std::vector<double> out(static_cast<std::size_t>(big.numel()));
    expand(src.data(), small, out.data(), big);
    std::vector<double> summed(static_cast<std::size_t>(small.numel()), 0.0), reference(summed.size(), 0.0);
    sum_to(out.data(), big, summed.data(), small);
    bool ok = true;
    for (Index j = 0; j < big.numel(); ++j) {
      const Index s = naive_source(big, small, j);
      ok = ok && out[static_cast<std::size_t>(j)] == src[static_cast<std::size_t>(s)];
      reference[static_cast<std::size_t>(s)] += out[static_cast<std::size_t>(j)];
    }
    CHECK(ok);
    CHECK(summed == reference);
  }
}
