// ops/quantize.cpp and nn/bitlinear.cpp: absmean ternary weights, per-token
// absmax int8 activations (values worked by hand in the comments), the
// BitLinear STE rule, gradcheck's report, errors.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {
using Inputs = std::vector<Tensor64>;
}

TEST_CASE("quantize_ternary: absmean scale, round to nearest, clip to [-1, 1]") {
  // gamma = (0.5 + 1.5 + 0.1 + 2.0 + 0.4 + 1.0) / 6 = 0.91666..., s = gamma + 1e-5
  // W/s = 0.545, -1.636, 0.109, 2.18, -0.436, 1.091 -> round 1, -2, 0, 2, 0, 1 -> clip 1, -1, 0, 1, 0, 1
  const auto w = Tensor64::from({{0.5, -1.5, 0.1}, {2.0, -0.4, 1.0}});
  const auto q = quantize_ternary(w);
  CHECK(q.scale == doctest::Approx(5.5 / 6 + 1e-5).epsilon(1e-15));
  CHECK(q.values == std::vector<std::int8_t>{1, -1, 0, 1, 0, 1});
  CHECK(q.shape == Shape{2, 3});
  const auto f = fake_quantize_ternary(w).to_vector();
  for (std::size_t i = 0; i < f.size(); ++i) CHECK(f[i] == double(q.values[i]) * q.scale);
  // all zeros: scale eps, all ternary 0 (no division by zero)
  const auto z = quantize_ternary(Tensor64::zeros({2, 2}));
  CHECK(z.scale == 1e-5);
  CHECK(z.values == std::vector<std::int8_t>{0, 0, 0, 0});
}

TEST_CASE("quantize_int8: per-row absmax step, 127 levels each side") {
  // row 0: max 2 -> step 2/127; 0.5/step = 31.75 -> 32, -2 -> -127, 1.3/step = 82.55 -> 83
  // row 1: max 127 -> step 1 exactly; 63.5 -> 64 and -2.5 -> -2 (ties to even), 0 -> 0
  const auto x = Tensor64::from({{0.5, -2.0, 1.3}, {63.5, -127.0, -2.5}, {0.0, 0.0, 0.0}});
  const auto q = quantize_int8(x);
  CHECK(q.rows == 3);
  CHECK(q.cols == 3);
  CHECK(q.step[0] == doctest::Approx(2.0 / 127).epsilon(1e-15));
  CHECK(q.step[1] == 1.0);
  CHECK(q.values == std::vector<std::int8_t>{32, -127, 83, 64, -127, -2, 0, 0, 0});
  CHECK(q.step[2] == 1e-5 / 127);  // an all-zero row: step eps/127, values 0
  const auto f = fake_quantize_int8(x);
  CHECK(f.at({0, 1}) == -2.0);
  CHECK(f.at({1, 2}) == -2.0);
  CHECK(f.at({2, 0}) == 0.0);
}

TEST_CASE("bitlinear: the forward is the float product of the quantized operands") {
  Generator gen(21);
  const auto x = Tensor64::randn({4, 6}, gen), w = Tensor64::randn({3, 6}, gen);
  const auto y = bitlinear(x, w);
  const auto want = linear(fake_quantize_int8(rms_normalize(x)), fake_quantize_ternary(w));
  CHECK(y.shape() == Shape{4, 3});
  for (Index i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == doctest::Approx(want.data()[i]).epsilon(1e-14));
  // rms_normalize: each row has mean square 1 (up to eps)
  const auto n = rms_normalize(x);
  for (Index r = 0; r < 4; ++r) {
    double ms = 0;
    for (Index j = 0; j < 6; ++j) ms += n.at({r, j}) * n.at({r, j});
    CHECK(ms / 6 == doctest::Approx(1.0).epsilon(1e-5));
  }
}

TEST_CASE("bitlinear: STE — the backward is the unquantized RMSNorm + linear backward at the quantized point") {
  Generator gen(22);
  auto x = Tensor64::randn({5, 8}, gen).requires_grad_();
  auto w = Tensor64::randn({4, 8}, gen).requires_grad_();
  const auto g = Tensor64::randn({5, 4}, gen);
  bitlinear(x, w).backward(g);
  // The reference: RMSNorm and linear with ember's ordinary ops, the quantizers
  // replaced by constant offsets (identity in the backward): x + (q(x) - x).detach().
  auto x2 = x.detach().requires_grad_(), w2 = w.detach().requires_grad_();
  const auto xn = rms_normalize(x2);
  const auto xq = xn + (fake_quantize_int8(xn.detach()) - xn.detach());
  const auto wq = w2 + (fake_quantize_ternary(w2.detach()) - w2.detach());
  linear(xq, wq).backward(g);
  for (Index i = 0; i < x.numel(); ++i) CHECK(x.grad().data()[i] == doctest::Approx(x2.grad().data()[i]).epsilon(1e-12));
  for (Index i = 0; i < w.numel(); ++i) CHECK(w.grad().data()[i] == doctest::Approx(w2.grad().data()[i]).epsilon(1e-12));
  // and the closed form: dW = Gᵀ x~
  const auto dw = matmul(transpose(g), fake_quantize_int8(rms_normalize(x.detach())));
  for (Index i = 0; i < w.numel(); ++i) CHECK(w.grad().data()[i] == doctest::Approx(dw.data()[i]).epsilon(1e-12));
  // the STE gradient is not the true one (which is 0 almost everywhere in W): at least one entry differs from 0
  bool nonzero = false;
  for (Index i = 0; i < w.numel(); ++i) nonzero = nonzero || w.grad().data()[i] != 0;
  CHECK(nonzero);
}

TEST_CASE("bitlinear: gradcheck reports the surrogate gradient instead of failing; no second derivative") {
  Generator gen(23);
  const auto x = Tensor64::randn({3, 4}, gen), w = Tensor64::randn({2, 4}, gen);
  const auto r = gradcheck([](const Inputs& in) { return bitlinear(in[0], in[1]); }, {x, w});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("op 'bitlinear_quant' declares a surrogate gradient") != std::string::npos);
  // rms_normalize itself is an ordinary differentiable composition
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return rms_normalize(in[0]); }, {x});
  auto xs = x.detach().requires_grad_();
  CHECK_THROWS_WITH_SUBSTR(grad<double>(sum(grad<double>(sum(bitlinear(xs, w.detach().requires_grad_())), {xs},
                                                         {.create_graph = true})[0] * xs), {xs}),
                           GraphError, "bitlinear_quant: declares a surrogate gradient");
}

TEST_CASE("BitLinear: module with one weight, no bias, trains through the STE") {
  Generator gen(24);
  BitLinear layer(6, 3, gen);
  const auto params = layer.named_parameters();
  REQUIRE(params.size() == 1);
  CHECK(params[0].first == "weight");
  CHECK(layer.weight.shape() == Shape{3, 6});
  CHECK(layer.str().find("BitLinear(in_features=6, out_features=3, bias=False)") != std::string::npos);
  auto x = Tensor::randn({2, 6}, gen);
  auto y = layer(x);
  CHECK(y.shape() == Shape{2, 3});
  sum(y * y).backward();
  CHECK(layer.weight.grad().shape() == Shape{3, 6});
  CHECK_THROWS_WITH_SUBSTR(BitLinear(0, 3, gen), ValueError, "BitLinear: in_features and out_features must be positive");
  CHECK_THROWS_WITH_SUBSTR(bitlinear(Tensor::zeros({2, 5}), layer.weight), ShapeError,
                           "bitlinear: input [2x5] and weight [3x6]");
  CHECK_THROWS_WITH_SUBSTR(quantize_ternary(Tensor::from({1.0f, NAN})), ValueError,
                           "quantize_ternary: weight [2] has a non-finite value nan at flat index 1");
  SwiGLU act;
  CHECK(act(Tensor::zeros({2, 4})).shape() == Shape{2, 2});
}

TEST_CASE("bitlinear: a non-finite input or weight shows as NaN in its rows, never as a finite quantized value") {
  Generator gen(23);
  auto x = Tensor64::randn({3, 4}, gen), w = Tensor64::randn({2, 4}, gen);
  x.values()[5] = std::numeric_limits<double>::quiet_NaN();  // row 1
  const auto y = bitlinear(x, w);
  for (Index j = 0; j < 2; ++j) {
    CHECK(std::isfinite(y.at({0, j})));
    CHECK(std::isnan(y.at({1, j})));
    CHECK(std::isfinite(y.at({2, j})));
  }
  auto wi = w.detach();
  wi.values()[0] = std::numeric_limits<double>::infinity();
  CHECK(std::isnan(bitlinear(Tensor64::randn({2, 4}, gen), wi).values().sum()));
}
