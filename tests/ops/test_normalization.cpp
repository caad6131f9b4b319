// ops/normalization.hpp: layer_norm and rms_norm values against PyTorch's
// definitions, gradcheck and gradgradcheck (random rows, nearly constant
// rows, rows far from 0, no weight/bias, two normalized dimensions), the
// recorded gradient equal to the fast one, float beside double, and errors.
#include <ember/ember.hpp>

#include <cmath>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;

Tensor64 randn(const Shape& s, std::uint64_t seed, double mean = 0, double stddev = 1) {
  Generator gen(seed);
  return Tensor64::randn(s, gen, mean, stddev);
}

const auto kX = Tensor64::from({{1.0, 2.0, 4.0}, {-3.0, 0.5, 0.25}});
const auto kW = Tensor64::from({0.5, -1.0, 2.0});
const auto kB = Tensor64::from({0.1, 0.2, -0.3});

void check_values(const Tensor64& got, const std::vector<double>& want, double rel = 1e-13) {
  REQUIRE(got.numel() == Index(want.size()));
  for (Index i = 0; i < got.numel(); ++i) {
    CAPTURE(i);
    CHECK(got.values()[i] == doctest::Approx(want[std::size_t(i)]).epsilon(rel).scale(1e-300));
  }
}

}  // namespace

// Expected numbers: numpy, from PyTorch's documented formulas (PyTorch 1.13's F.layer_norm gives
// the same values and gradients to 1e-15)
// (y = (x - mean) / sqrt(var_biased + eps) * w + b; y = x / sqrt(mean(x^2) + eps) * w).
TEST_CASE("layer_norm: values, and the gradient of sum(y c), against PyTorch's definition") {
  check_values(layer_norm(kX, {3}, kW, kB), {-0.43452076572514886, 0.46726038286257454, 2.372603828625744,
                                             -0.6056549160383377, -0.5840610178203751, 0.9544976285126001});
  auto x = kX.detach(), w = kW.detach(), b = kB.detach();
  x.requires_grad_(), w.requires_grad_(), b.requires_grad_();
  const auto c = Tensor64::from({{1.0, -2.0, 0.5}, {0.25, 1.5, -1.0}});
  sum(layer_norm(x, {3}, w, b) * c).backward();
  check_values(x.grad(), {-0.45816114721910384, 0.6872408617829472, -0.22907971456384355, 0.01478450486650084,
                          0.19215753518381762, -0.20694204005031847},
               1e-12);
  check_values(w.grad(), {-1.4218689894694665, 1.710612292455712, 0.04090214290013583}, 1e-12);
  check_values(b.grad(), {1.25, -0.5, -0.5});
  // A nearly constant row: (x - mean) is exact, eps dominates var.
  check_values(layer_norm(Tensor64::from({{5.0, 5.0 + 1e-4, 5.0 - 1e-4, 5.0}}), {4}),
               {0.0, 0.03161487387086031, -0.03161487387086031, 0.0}, 1e-9);
  // An exactly constant row normalizes to 0 (then bias), not NaN.
  const auto flat = layer_norm(Tensor64::full({2, 5}, 7.0), {5}, {}, Tensor64::full({5}, 0.5));
  CHECK((flat.values() == 0.5).all());
}

TEST_CASE("rms_norm: values against PyTorch's definition; eps defaults to the machine epsilon") {
  check_values(rms_norm(kX, {3}, kW, 1e-6), {0.18898222300588385, -0.7559288920235354, 3.0237155680941417,
                                             -0.8513706485792076, -0.2837902161930692, 0.2837902161930692},
               1e-12);
  const auto x = Tensor64::from({{3.0, 4.0}});  // rms = sqrt(12.5)
  const double e = std::numeric_limits<double>::epsilon();
  CHECK(rms_norm(x, {2}).values()[0] == doctest::Approx(3.0 / std::sqrt(12.5 + e)).epsilon(1e-15));
  const auto xf = Tensor::from({{3.0f, 4.0f}});
  const float ef = std::numeric_limits<float>::epsilon();
  CHECK(rms_norm(xf, {2}).values()[1] == doctest::Approx(4.0f / std::sqrt(12.5f + ef)).epsilon(1e-6));
}

TEST_CASE("layer_norm: gradcheck and gradgradcheck in double") {
  const auto ln = [](const Inputs& in) { return layer_norm(in[0], {5}, in[1], in[2]); };
  SUBCASE("random rows") { CHECK_GRAD_AND_GRADGRAD(ln, {randn({3, 5}, 1), randn({5}, 2), randn({5}, 3)}); }
  SUBCASE("nearly constant rows (variance 1e-6, below eps)") {
    CHECK_GRAD_AND_GRADGRAD(ln, {randn({3, 5}, 4, 2.0, 1e-3), randn({5}, 5), randn({5}, 6)});
  }
  SUBCASE("rows far from 0") { CHECK_GRAD_AND_GRADGRAD(ln, {randn({2, 5}, 7, 40.0, 3.0), randn({5}, 8), randn({5}, 9)}); }
  SUBCASE("no weight, no bias; weight only; a larger eps") {
    CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return layer_norm(in[0], {5}); }, {randn({3, 5}, 10)});
    CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return layer_norm(in[0], {5}, in[1], {}, 0.5); },
                            {randn({3, 5}, 11), randn({5}, 12)});
    CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return layer_norm(in[0], {5}, {}, in[1]); },
                            {randn({3, 5}, 13), randn({5}, 14)});
  }
  SUBCASE("two normalized dimensions of a rank-3 input") {
    CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return layer_norm(in[0], {2, 3}, in[1], in[2]); },
                            {randn({2, 2, 3}, 15), randn({2, 3}, 16), randn({2, 3}, 17)});
  }
}

TEST_CASE("rms_norm: gradcheck and gradgradcheck in double") {
  const auto rn = [](const Inputs& in) { return rms_norm(in[0], {4}, in[1], 1e-5); };
  SUBCASE("random rows") { CHECK_GRAD_AND_GRADGRAD(rn, {randn({3, 4}, 21), randn({4}, 22)}); }
  SUBCASE("rows of tiny magnitude (mean square 1e-6, below eps)") {
    CHECK_GRAD_AND_GRADGRAD(rn, {randn({3, 4}, 23, 0.0, 1e-3), randn({4}, 24)});
  }
  SUBCASE("nearly constant rows") { CHECK_GRAD_AND_GRADGRAD(rn, {randn({2, 4}, 25, 3.0, 1e-4), randn({4}, 26)}); }
  SUBCASE("no weight; two normalized dimensions") {
    CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return rms_norm(in[0], {4}); }, {randn({3, 4}, 27)});
    CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return rms_norm(in[0], {2, 2}, in[1]); },
                            {randn({3, 2, 2}, 28), randn({2, 2}, 29)});
  }
}

TEST_CASE("layer_norm / rms_norm: the recorded gradient equals the fast one") {
  auto x = randn({4, 6}, 31), w = randn({6}, 32), b = randn({6}, 33);
  x.requires_grad_(), w.requires_grad_(), b.requires_grad_();
  const auto up = randn({4, 6}, 34);
  for (int which = 0; which < 2; ++which) {
    CAPTURE(which);
    const auto f = [&] { return which == 0 ? layer_norm(x, {6}, w, b) : rms_norm(x, {6}, w); };
    const std::vector<Tensor64> params = which == 0 ? std::vector{x, w, b} : std::vector{x, w};
    const auto fast = grad(sum(f() * up), params);
    const auto recorded = grad(sum(f() * up), params, {.create_graph = true});
    for (std::size_t i = 0; i < params.size(); ++i) {
      CAPTURE(i);
      if (i < 2) CHECK(recorded[i].requires_grad());  // the bias gradient, sum(up), is a constant
      for (Index j = 0; j < fast[i].numel(); ++j)
        CHECK(recorded[i].values()[j] == doctest::Approx(fast[i].values()[j]).epsilon(1e-12));
    }
  }
}

TEST_CASE("layer_norm / rms_norm: float agrees with double") {
  const auto x64 = randn({8, 16}, 41, 1.0, 2.0), w64 = randn({16}, 42), b64 = randn({16}, 43);
  const auto cast = [](const Tensor64& t) {
    auto f = Tensor::empty(t.shape());
    f.values() = t.values().cast<float>();
    return f;
  };
  const Tensor64 ln64 = layer_norm(x64, {16}, w64, b64), rn64 = rms_norm(x64, {16}, w64);
  const Tensor ln32 = layer_norm(cast(x64), {16}, cast(w64), cast(b64)), rn32 = rms_norm(cast(x64), {16}, cast(w64));
  CHECK((ln64.values() - ln32.values().cast<double>()).abs().maxCoeff() < 1e-5);
  CHECK((rn64.values() - rn32.values().cast<double>()).abs().maxCoeff() < 1e-5);
}

TEST_CASE("layer_norm / rms_norm: errors name the op and the shapes") {
  const auto x = Tensor::ones({2, 3});
  CHECK_THROWS_WITH_SUBSTR(layer_norm(x, {4}), ShapeError, "layer_norm: input [2x3] does not end in normalized_shape [4]");
  CHECK_THROWS_WITH_SUBSTR(layer_norm(x, {2, 3, 1}), ShapeError, "does not end in normalized_shape [2x3x1]");
  CHECK_THROWS_WITH_SUBSTR(layer_norm(x, Shape{}), ShapeError, "layer_norm: normalized_shape [] must have at least one");
  CHECK_THROWS_WITH_SUBSTR(layer_norm(x, {3}, Tensor::ones({2})), ShapeError,
                           "layer_norm: weight [2] must have normalized_shape [3]");
  CHECK_THROWS_WITH_SUBSTR(layer_norm(x, {3}, {}, Tensor::ones({3, 1})), ShapeError,
                           "layer_norm: bias [3x1] must have normalized_shape [3]");
  CHECK_THROWS_WITH_SUBSTR(layer_norm(x, {3}, {}, {}, -1.0), ValueError, "layer_norm: eps must be > 0 (a constant row would divide by zero), got -1");
  CHECK_THROWS_WITH_SUBSTR(rms_norm(x, {3}, {}, 0.0), ValueError, "rms_norm: eps must be > 0");
  CHECK_THROWS_WITH_SUBSTR(rms_norm(x, {2}), ShapeError, "rms_norm: input [2x3] does not end in normalized_shape [2]");
  CHECK_THROWS_WITH_SUBSTR(rms_norm(x, {3}, Tensor::ones({4})), ShapeError, "rms_norm: weight [4]");
}
