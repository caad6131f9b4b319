// engine/tensor and engine/random: creation, element access, handle
// semantics, maps without copies, printing, seeded random numbers.
#include <ember/ember.hpp>

#include <sstream>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

// --- creation ---------------------------------------------------------------

TEST_CASE("tensor: zeros, ones, full, scalar") {
  auto z = Tensor64::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.rank() == 2);
  CHECK(z.numel() == 6);
  CHECK(z.to_vector() == std::vector<double>(6, 0.0));
  CHECK(Tensor::ones({4}).to_vector() == std::vector<float>(4, 1.0f));
  CHECK(Tensor64::full({2, 1, 2}, -2.5).to_vector() == std::vector<double>(4, -2.5));
  auto s = Tensor64::scalar(3.25);
  CHECK(s.rank() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.25);
  CHECK(s.at({}) == 3.25);
  auto empty = Tensor64::zeros({0, 3});
  CHECK(empty.numel() == 0);
  CHECK(empty.to_vector().empty());
  CHECK_FALSE(Tensor64().defined());
  CHECK(z.defined());
  CHECK(std::string(z.op()) == "leaf");
  CHECK(z.is_leaf());
  CHECK_FALSE(z.requires_grad());
}

TEST_CASE("tensor: from nested values in 1, 2 and 3 dimensions") {
  auto v = Tensor64::from({1.0, 2.0, 3.0});
  CHECK(v.shape() == Shape{3});
  CHECK(v.to_vector() == std::vector<double>{1, 2, 3});
  auto m = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(m.shape() == Shape{2, 3});
  CHECK(m.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(m.at({1, 0}) == 4.0);
  auto c = Tensor::from({{{1.f, 2.f}, {3.f, 4.f}, {5.f, 6.f}}, {{7.f, 8.f}, {9.f, 10.f}, {11.f, 12.f}}});
  CHECK(c.shape() == Shape{2, 3, 2});
  CHECK(c.at({1, 2, 0}) == 11.f);
  CHECK(c.at({0, 1, 1}) == 4.f);
  CHECK(c.to_vector().back() == 12.f);
}

TEST_CASE("tensor: ragged nested values are a ShapeError") {
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from({{1.0, 2.0}, {3.0}}), ShapeError,
                           "from: ragged nested values: row 1 has 1 values, row 0 has 2");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0, 7.0}}), ShapeError,
                           "row 2 has 3 values, row 0 has 2");
  // An empty first row: the row index must still be the offending row's.
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from({{}, {}, {1.0, 2.0}}), ShapeError, "row 2 has 2 values, row 0 has 0");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from({{{1.0, 2.0}}, {{3.0, 4.0}, {5.0, 6.0}}}), ShapeError,
                           "from: ragged nested values: a plane of shape [2x2] after one of shape [1x2]");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from({{{1.0, 2.0}}, {{3.0, 4.0, 5.0}}}), ShapeError,
                           "a plane of shape [1x3] after one of shape [1x2]");
  // An empty first plane is still a plane whose shape the others must match.
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from({{{}}, {{1.0, 2.0}}}), ShapeError,
                           "a plane of shape [1x2] after one of shape [1x0]");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from({{{1.0, 2.0}, {3.0}}}), ShapeError, "row 1 has 1 values");
}

TEST_CASE("tensor: from_data copies the values and checks their count") {
  std::vector<double> data{1, 2, 3, 4, 5, 6};
  auto t = Tensor64::from_data(data, {3, 2});
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.at({2, 1}) == 6.0);
  data[0] = 100.0;  // a copy, not a view
  CHECK(t.at({0, 0}) == 1.0);
  CHECK(Tensor64::from_data(std::vector<double>{7.0}, {}).item() == 7.0);
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from_data(data, {4, 2}), ShapeError,
                           "from_data: 6 values do not fill shape [4x2] (8 elements)");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::from_data(data, {5}), ShapeError, "from_data: 6 values do not fill shape [5]");
}

TEST_CASE("tensor: from_eigen takes row-major and column-major matrices") {
  Eigen::MatrixXd col_major(2, 3);  // Eigen's default storage is column-major
  col_major << 1, 2, 3, 4, 5, 6;
  auto t = Tensor64::from_eigen(col_major);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});  // row-major in the tensor
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j) CHECK(t.at({i, j}) == col_major(i, j));
  RowMatrix<float> row_major(3, 2);
  row_major << 1, 2, 3, 4, 5, 6;
  auto r = Tensor::from_eigen(row_major);
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.at({2, 0}) == 5.f);
  auto v = Tensor64::from_eigen(Eigen::VectorXd::LinSpaced(4, 0, 3));  // a column: [4x1]
  CHECK(v.shape() == Shape{4, 1});
  CHECK(v.at({3, 0}) == 3.0);
  auto block = Tensor64::from_eigen(col_major.block(0, 1, 2, 2));  // an expression, not a plain matrix
  CHECK(block.to_vector() == std::vector<double>{2, 3, 5, 6});
}

TEST_CASE("tensor: negative dimensions and rank above 6 are ShapeErrors") {
  CHECK_THROWS_WITH_SUBSTR(Tensor64::zeros({2, -1}), ShapeError, "shape: dimension 1 is negative (-1)");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::full({-3}, 1.0), ShapeError, "shape: dimension 0 is negative (-3)");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::zeros({1, 1, 1, 1, 1, 1, 1}), ShapeError,
                           "shape: rank 7 exceeds the maximum rank 6");
  CHECK(Tensor64::zeros({1, 2, 1, 2, 1, 2}).numel() == 8);  // rank 6 is fine
}

// --- element access ---------------------------------------------------------

TEST_CASE("tensor: item, at, size and their errors") {
  auto t = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK_THROWS_WITH_SUBSTR(t.item(), ShapeError, "item: tensor of shape [2x3] has 6 elements, not 1");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::zeros({0}).item(), ShapeError, "item: tensor of shape [0] has 0 elements");
  CHECK(Tensor64::full({1, 1, 1}, 4.0).item() == 4.0);

  CHECK(t.at({0, 2}) == 3.0);
  CHECK(t.at({1, 1}) == 5.0);
  CHECK_THROWS_WITH_SUBSTR(t.at({2, 0}), ShapeError, "at: index 2 is out of range for axis 0 of shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(t.at({0, 3}), ShapeError, "at: index 3 is out of range for axis 1 of shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(t.at({0, -1}), ShapeError, "at: index -1 is out of range for axis 1");
  CHECK_THROWS_WITH_SUBSTR(t.at({1}), ShapeError, "at: 1 indices for a tensor of shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(t.at({0, 0, 0}), ShapeError, "at: 3 indices for a tensor of shape [2x3]");

  auto c = Tensor64::zeros({2, 3, 4});
  CHECK(c.size(0) == 2);
  CHECK(c.size(2) == 4);
  CHECK(c.size(-1) == 4);
  CHECK(c.size(-3) == 2);
  CHECK_THROWS_WITH_SUBSTR(c.size(3), ShapeError, "size: axis 3 is out of range for shape [2x3x4]");
  CHECK_THROWS_WITH_SUBSTR(c.size(-4), ShapeError, "size: axis -4 is out of range for shape [2x3x4]");
  CHECK_THROWS_WITH_SUBSTR(Tensor64::scalar(1.0).size(0), ShapeError, "size: axis 0 is out of range for shape []");
}

TEST_CASE("tensor: an undefined tensor throws a GraphError on use") {
  Tensor64 u;
  CHECK_THROWS_WITH_SUBSTR(u.shape(), GraphError, "tensor: use of an undefined (default-constructed) tensor");
  CHECK_THROWS_WITH_SUBSTR(u.item(), GraphError, "undefined");
  CHECK_THROWS_WITH_SUBSTR(u.backward(), GraphError, "undefined");
  CHECK(u.str() == "tensor(undefined)");
}

// --- handle semantics and maps ----------------------------------------------

TEST_CASE("tensor: copies share the node; detach copies the values") {
  auto a = Tensor64::from({1.0, 2.0, 3.0});
  Tensor64 b = a;  // a handle copy
  CHECK(b.node_ptr() == a.node_ptr());
  CHECK(b.data() == a.data());
  b.data()[1] = 20.0;
  CHECK(a.at({1}) == 20.0);
  a.values() += 1.0;
  CHECK(b.to_vector() == std::vector<double>{2.0, 21.0, 4.0});
  b.requires_grad_();
  CHECK(a.requires_grad());

  auto d = a.detach();
  CHECK(d.node_ptr() != a.node_ptr());
  CHECK(d.data() != a.data());
  CHECK(d.to_vector() == a.to_vector());
  CHECK_FALSE(d.requires_grad());
  d.data()[0] = -1.0;
  CHECK(a.at({0}) == 2.0);
}

TEST_CASE("tensor: values, matrix and grad_values are maps over the tensor's own memory") {
  auto t = Tensor64::from({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  CHECK(t.values().data() == t.data());
  CHECK(t.matrix().data() == t.data());
  CHECK(t.values().size() == 6);
  CHECK(t.matrix().rows() == 2);
  CHECK(t.matrix().cols() == 3);
  CHECK(t.matrix()(1, 0) == 4.0);  // row-major
  t.matrix()(0, 2) = 30.0;
  CHECK(t.at({0, 2}) == 30.0);
  const Tensor64& ct = t;
  CHECK(ct.values().data() == t.data());
  CHECK(ct.matrix().data() == t.data());

  auto cube = Tensor64::zeros({2, 3, 4});  // matrix(): rows fold the leading dims
  CHECK(cube.matrix().rows() == 6);
  CHECK(cube.matrix().cols() == 4);
  auto s = Tensor64::scalar(1.0);
  CHECK(s.matrix().rows() == 1);
  CHECK(s.matrix().cols() == 1);

  auto x = Tensor64::from({1.0, 2.0}).requires_grad_();
  CHECK_FALSE(x.has_grad());
  CHECK_THROWS_WITH_SUBSTR(x.grad_values(), GraphError, "grad: tensor (leaf of shape [2]) has no gradient");
  (x * 3.0).backward(Tensor64::ones({2}));
  CHECK(x.has_grad());
  double* g = x.grad_values().data();
  CHECK(x.grad_values().data() == g);  // the same buffer every time
  CHECK(x.grad_matrix().data() == g);
  x.grad_values()[0] = 7.0;  // writes through
  CHECK(x.grad().at({0}) == 7.0);
  CHECK(x.grad().data() != g);  // grad() is a copy
  x.zero_grad();
  CHECK(x.grad().to_vector() == std::vector<double>{0.0, 0.0});
  CHECK(x.grad_values().data() == g);  // zeroed in place
}

TEST_CASE("tensor: str prints values row by row as PyTorch does, with shape and dtype") {
  CHECK(Tensor64::from({{1.0, 2.5}, {-3.0, 4.0}}).str() ==
        "tensor([[ 1.0000,  2.5000],\n"
        "        [-3.0000,  4.0000]], shape=[2x2], f64)");
  CHECK(Tensor64::scalar(0.125).str() == "tensor(0.1250, shape=[], f64)");
  CHECK(Tensor::from({1.0f / 3.0f}).requires_grad_().str() == "tensor([0.3333], shape=[1], f32, requires_grad)");
  CHECK(Tensor64::zeros({0}).str() == "tensor([], shape=[0], f64)");
  CHECK(Tensor64::from({1.0, -2.0, 3.0}).str() == "tensor([ 1., -2.,  3.], shape=[3], f64)");  // integers
  CHECK(Tensor64::from({1e-6, 1.0, NAN, -INFINITY}).str() ==
        "tensor([1.0000e-06, 1.0000e+00,        nan,       -inf], shape=[4], f64)");
  auto w = Tensor64::from({2.0}).requires_grad_();
  CHECK((w * 3.0).str() == "tensor([6.], shape=[1], f64, op=mul_scalar)");
  // three dimensions: a blank line between matrices
  CHECK(Tensor64::zeros({2, 1, 2}).str() ==
        "tensor([[[0., 0.]],\n\n"
        "        [[0., 0.]]], shape=[2x1x2], f64)");
  // above the threshold: the first and last edgeitems along each dimension
  const std::string big = Tensor64::ones({2000}).str();
  CHECK(big == "tensor([1., 1., 1., ..., 1., 1., 1.], shape=[2000], f64)");
  const PrintOptions old = print_options();
  set_print_options({.precision = 2, .threshold = 4, .edgeitems = 1});
  CHECK(Tensor64::from({{0.5, 0.25, 0.125}, {1.5, 2.5, 3.5}}).str() ==
        "tensor([[0.50, ..., 0.12],\n"
        "        [1.50, ..., 3.50]], shape=[2x3], f64)");
  set_print_options(old);
  // operator<< and fmt give the same text
  std::ostringstream os;
  os << Tensor64::scalar(1.5);
  CHECK(os.str() == "tensor(1.5000, shape=[], f64)");
  CHECK(fmt::format("{}", Tensor64::scalar(1.5)) == os.str());
}

// --- random -----------------------------------------------------------------

TEST_CASE("random: the same seed gives the same numbers, different seeds differ") {
  Generator g1(123), g2(123), g3(124);
  auto a = Tensor64::randn({50}, g1), b = Tensor64::randn({50}, g2), c = Tensor64::randn({50}, g3);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());
  auto u1 = Tensor::rand({50}, g1), u2 = Tensor::rand({50}, g2);
  CHECK(u1.to_vector() == u2.to_vector());
  Generator h1(0), h2(1);
  CHECK(h1.next_u64() != h2.next_u64());
}

TEST_CASE("random: golden values of Generator(42), so a change to the generator is caught") {
  // Changing these numbers changes every seeded run of every user.
  Generator u(42);
  CHECK(u.next_u64() == 1546998764402558742ULL);
  CHECK(u.next_u64() == 6990951692964543102ULL);
  Generator g(42);
  CHECK(g.uniform() == 0.083862971059882163);
  CHECK(g.uniform() == 0.37898025066266861);
  CHECK(g.uniform() == 0.68004341102813937);
  CHECK(g.uniform() == 0.92469294532538759);
  // Box-Muller goes through libm (log, sin, cos): allow an ulp or two.
  Generator n(42);
  const double expected[] = {-0.30326306467873798, 0.28846173882942383, 1.3438117634372806, -0.6879751798977497};
  for (double e : expected) CHECK(n.normal() == doctest::Approx(e).epsilon(1e-14));
  Generator b(42);
  std::vector<std::uint64_t> draws;
  for (int i = 0; i < 6; ++i) draws.push_back(b.below(10));
  CHECK(draws == std::vector<std::uint64_t>{2, 2, 9, 3, 6, 4});
}

TEST_CASE("random: randn has the requested mean and standard deviation over 100k draws") {
  Generator gen(2024);
  for (auto [mean, stddev] : {std::pair{0.0, 1.0}, std::pair{3.0, 0.5}}) {
    INFO("mean ", mean, " stddev ", stddev);
    auto x = Tensor64::randn({100000}, gen, mean, stddev);
    const double m = x.values().mean();
    const double sd = std::sqrt((x.values() - m).square().sum() / (x.numel() - 1));
    // Standard error of the mean is stddev/316; allow about 4 of them.
    CHECK(std::fabs(m - mean) < 0.013 * stddev);
    CHECK(std::fabs(sd - stddev) < 0.01 * stddev);
    // About 68.3% within one standard deviation.
    const double within = ((x.values() - mean).abs() < stddev).cast<double>().mean();
    CHECK(std::fabs(within - 0.6827) < 0.006);
  }
  auto f = Tensor::randn({100001}, gen);  // odd count: the spare normal is used and one dropped
  CHECK(std::fabs(f.values().mean()) < 0.013);
}

TEST_CASE("random: rand stays in low..high (high excluded) and covers it") {
  Generator gen(9);
  auto x = Tensor64::rand({100000}, gen, -2.0, 3.0);
  CHECK(x.values().minCoeff() >= -2.0);
  CHECK(x.values().maxCoeff() < 3.0);
  CHECK(x.values().minCoeff() < -1.999);
  CHECK(x.values().maxCoeff() > 2.999);
  CHECK(std::fabs(x.values().mean() - 0.5) < 0.02);
  auto u = Tensor::rand({100000}, gen);
  CHECK(u.values().minCoeff() >= 0.0f);
  CHECK(u.values().maxCoeff() < 1.0f);
  // A range where rounding to float would land on `high` for a quarter of
  // the draws: high is still excluded.
  auto coarse = Tensor::rand({1000}, gen, 16777214.0f, 16777216.0f);
  CHECK(coarse.values().maxCoeff() < 16777216.0f);
  CHECK(coarse.values().minCoeff() >= 16777214.0f);
  // The same for double precision: a range two ulps wide.
  const double lo = 1.0, hi = std::nextafter(std::nextafter(1.0, 2.0), 2.0);
  auto narrow = Tensor64::rand({1000}, gen, lo, hi);
  CHECK(narrow.values().maxCoeff() < hi);
  CHECK(narrow.values().minCoeff() >= lo);
  Generator g(5);
  for (int i = 0; i < 1000; ++i) {
    const double v = g.uniform(lo, hi);
    if (v < lo || v >= hi) {
      FAIL("Generator::uniform(low, high) gave ", v, " outside [low, high)");
      break;
    }
  }
  CHECK(Tensor64::rand({3}, gen, 2.0, 2.0).to_vector() == std::vector<double>(3, 2.0));
}

TEST_CASE("random: Generator::below is in range and roughly uniform") {
  Generator gen(77);
  std::vector<int> counts(10, 0);
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) {
    const std::uint64_t v = gen.below(10);
    REQUIRE(v < 10);
    ++counts[v];
  }
  // Each count is Binomial(100000, 0.1): sd ~ 95; allow 5 sd.
  for (int c : counts) CHECK(std::abs(c - draws / 10) < 475);
  double chi2 = 0;
  for (int c : counts) chi2 += (c - draws / 10.0) * (c - draws / 10.0) / (draws / 10.0);
  CHECK(chi2 < 30.0);  // 9 degrees of freedom: p < 0.001 beyond ~27.9
  for (int i = 0; i < 100; ++i) CHECK(gen.below(1) == 0);
  const std::uint64_t huge = (std::uint64_t{1} << 63) + 1;  // rejection loop at its worst
  for (int i = 0; i < 100; ++i) CHECK(gen.below(huge) < huge);
  for (int i = 0; i < 100; ++i) CHECK(gen.below(3) < 3);
}

TEST_CASE("generator: below(0) is an error, not a silent 0") {
  ember::Generator gen(3);
  CHECK_THROWS_WITH_SUBSTR(gen.below(0), ember::ValueError, "Generator::below: the range [0, n) is empty");
  CHECK(gen.below(1) == 0);
}

TEST_CASE("shape: dimensions whose product passes 2^63 - 1 are a ShapeError naming the shape, even beside a zero") {
  const ember::Index big = ember::Index(1) << 62;
  CHECK_THROWS_WITH_SUBSTR(Tensor::zeros({big, 2}), ember::ShapeError,
                           "shape [4611686018427387904x2] has more than 2^63 - 1 elements");
  CHECK_THROWS_WITH_SUBSTR(ember::Shape({big, 2, 0}), ember::ShapeError, "[4611686018427387904x2x0]");
  CHECK_THROWS_AS(ember::Shape({big, big, big}), ember::ShapeError);
  // Large but representable with a zero: legal, and empty.
  CHECK(ember::Shape({ember::Index(1) << 40, 0}).numel() == 0);
  CHECK(ember::Shape({ember::Index(1) << 31, ember::Index(1) << 31}).numel() == ember::Index(1) << 62);
}

TEST_CASE("tensor: an allocation that cannot be satisfied is a ValueError naming the shape and the bytes") {
  // 2^61 floats: 2^63 bytes, more than any address space.
  CHECK_THROWS_WITH_SUBSTR(Tensor::zeros({ember::Index(1) << 61}), ember::ValueError,
                           "tensor: cannot allocate 9223372036854775808 bytes for a tensor of shape "
                           "[2305843009213693952]");
  // 2^50 doubles (8 PiB, beyond x86-64's 128 TiB of user address space):
  // malloc says no even where the kernel overcommits without limit.
  CHECK_THROWS_WITH_SUBSTR(Tensor64::empty({ember::Index(1) << 25, ember::Index(1) << 25}), ember::ValueError,
                           "for a tensor of shape [33554432x33554432] (1125899906842624 elements of 8 bytes): out of "
                           "memory");
}
