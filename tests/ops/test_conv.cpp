// Convolution: conv2d and conv1d against a direct loop from the definition,
// against PyTorch, gradients by gradcheck and gradgradcheck, shape errors.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

// y[n, o, i, j] = b[o] + Σ_{c in group, a, e} x[n, c, i·s − p + a·d, j·s − p + e·d] · w[o, c − c0, a, e],
// the definition, written out with no im2col.
std::vector<double> naive_conv2d(const Tensor64& x, const Tensor64& w, const Tensor64& b, Size2 s, Size2 p, Size2 d,
                                 Index groups) {
  const Shape xs = x.shape(), ws = w.shape();
  const Index N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], cg = ws[1], kh = ws[2], kw = ws[3];
  const Index og = O / groups;
  const Index OH = (H + 2 * p.h - d.h * (kh - 1) - 1) / s.h + 1, OW = (W + 2 * p.w - d.w * (kw - 1) - 1) / s.w + 1;
  const auto xv = x.to_vector(), wv = w.to_vector();
  std::vector<double> y;
  for (Index n = 0; n < N; ++n)
    for (Index o = 0; o < O; ++o)
      for (Index i = 0; i < OH; ++i)
        for (Index j = 0; j < OW; ++j) {
          double acc = b.defined() ? b.to_vector()[o] : 0.0;
          const Index c0 = (o / og) * cg;
          for (Index c = 0; c < cg; ++c)
            for (Index a = 0; a < kh; ++a)
              for (Index e = 0; e < kw; ++e) {
                const Index ih = i * s.h - p.h + a * d.h, iw = j * s.w - p.w + e * d.w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += xv[((n * C + c0 + c) * H + ih) * W + iw] * wv[((o * cg + c) * kh + a) * kw + e];
              }
          y.push_back(acc);
        }
  (void)C;
  return y;
}

struct Case {
  Index n, c, h, w, o, kh, kw;
  Size2 s, p, d;
  Index groups;
  bool bias;
};

}  // namespace

TEST_CASE("conv2d: values equal the direct loop over stride, padding, dilation and groups") {
  Generator gen(3);
  const std::vector<Case> cases = {
      {2, 3, 7, 6, 4, 3, 3, 1, 0, 1, 1, true},   {2, 3, 7, 6, 4, 3, 2, 2, 1, 1, 1, true},
      {1, 4, 9, 8, 6, 3, 3, {2, 1}, {1, 2}, {2, 1}, 2, true}, {2, 4, 5, 5, 4, 3, 3, 1, 1, 1, 4, false},
      {3, 2, 4, 5, 3, 1, 1, 1, 0, 1, 1, true},   {1, 2, 6, 6, 2, 1, 1, 2, 1, 1, 2, true},
      {2, 3, 5, 4, 2, 5, 4, 3, 2, 1, 1, true},
      {2, 3, 7, 6, 4, 3, 3, {2, 1}, 1, 1, 1, true},  {2, 2, 6, 5, 3, 3, 3, 1, {2, 1}, {2, 1}, 1, true},
      {1, 2, 3, 2, 2, 3, 5, 1, {1, 2}, 1, 1, true},  {2, 2, 12, 12, 3, 3, 3, 1, 1, 1, 1, true},
  };
  for (const auto& k : cases) {
    auto x = Tensor64::randn({k.n, k.c, k.h, k.w}, gen), w = Tensor64::randn({k.o, k.c / k.groups, k.kh, k.kw}, gen);
    auto b = k.bias ? Tensor64::randn({k.o}, gen) : Tensor64{};
    const auto y = conv2d(x, w, b, k.s, k.p, k.d, k.groups);
    const auto expected = naive_conv2d(x, w, b, k.s, k.p, k.d, k.groups);
    REQUIRE(y.numel() == static_cast<Index>(expected.size()));
    const auto got = y.to_vector();
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

TEST_CASE("conv2d: samples in chunks (small images) or one per product (wide ones) give the per-sample results") {
  // ops/conv.cpp: 9x9 outputs (81 columns) go 12 samples a chunk
  // (kChunkColumns), so 27 samples make chunks of 12, 12, 3; 22x22 outputs
  // (484 columns, over kOwnColumns) go one sample per product.
  for (const Index size : {Index(9), Index(22)}) {
    CAPTURE(size);
    const Index n = size == 9 ? 27 : 5;
    Generator gen(4);
    auto x = Tensor64::randn({n, 2, size, size}, gen), w = Tensor64::randn({3, 2, 3, 3}, gen);
    auto b = Tensor64::randn({3}, gen);
    const auto expected = naive_conv2d(x, w, b, 1, 1, 1, 1);
    const auto got = conv2d(x, w, b, 1, 1).to_vector();
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
    auto r = Tensor64::randn({n, 3, size, size}, gen);
    auto xa = x.detach().requires_grad_(true), wa = w.detach().requires_grad_(true);
    sum(conv2d(xa, wa, b, 1, 1) * r).backward();
    auto wb = w.detach().requires_grad_(true);
    std::vector<double> dx;
    for (Index m = 0; m < n; ++m) {  // one sample at a time
      auto xn = slice(x, 0, m, m + 1).detach().requires_grad_(true);
      sum(conv2d(xn, wb, b, 1, 1) * slice(r, 0, m, m + 1)).backward();
      const auto g = xn.grad().to_vector();
      dx.insert(dx.end(), g.begin(), g.end());
    }
    const auto dxa = xa.grad().to_vector(), dwa = wa.grad().to_vector(), dwb = wb.grad().to_vector();
    REQUIRE(dxa.size() == dx.size());
    for (std::size_t i = 0; i < dx.size(); ++i) CHECK(dxa[i] == doctest::Approx(dx[i]).epsilon(1e-12));
    for (std::size_t i = 0; i < dwb.size(); ++i) CHECK(dwa[i] == doctest::Approx(dwb[i]).epsilon(1e-10));
  }
}

TEST_CASE("conv2d: a hand example") {
  // x = 1..16 as [1, 1, 4, 4], w = [[1, 0], [0, -1]], bias 0.5, stride 2, padding 1:
  // each output is 0.5 + x[top-left] - x[bottom-right] of its (padded) window.
  std::vector<double> xv(16);
  for (int i = 0; i < 16; ++i) xv[i] = i + 1;
  auto x = Tensor64::from_data(xv, {1, 1, 4, 4});
  auto w = Tensor64::from_data(std::vector<double>{1, 0, 0, -1}, {1, 1, 2, 2});
  auto y = conv2d(x, w, Tensor64::from({0.5}), 2, 1);
  CHECK(y.shape() == Shape{1, 1, 3, 3});
  // windows' top-left rows/cols are -1, 1, 3: (out of range reads as 0)
  CHECK(y.to_vector() == std::vector<double>{0.5 - 1, 0.5 - 3, 0.5 - 0, 0.5 - 9, 0.5 + 6 - 11, 0.5 + 8, 0.5 + 0,
                                             0.5 + 14, 0.5 + 16});
}

TEST_CASE("conv1d: equals conv2d with H = 1, in one node") {
  Generator gen(5);
  auto x = Tensor64::randn({2, 4, 9}, gen), w = Tensor64::randn({6, 2, 3}, gen), b = Tensor64::randn({6}, gen);
  auto y = conv1d(x, w, b, 2, 1, 2, 2);
  auto y2 = conv2d(reshape(x, {2, 4, 1, 9}), reshape(w, {6, 2, 1, 3}), b, Size2(1, 2), Size2(0, 1), Size2(1, 2), 2);
  CHECK(y.shape() == Shape{2, 6, 4});
  CHECK(y.to_vector() == y2.to_vector());
  x.requires_grad_(true);
  auto z = conv1d(x, w, b, 2, 1, 2, 2);
  CHECK(z.node().inputs.size() == 3);
  CHECK(std::string(z.node().op) == "conv1d");
}

TEST_CASE("conv2d: gradcheck and gradgradcheck over stride, padding, dilation, groups") {
  Generator gen(7);
  const std::vector<Case> cases = {
      {2, 2, 5, 4, 3, 3, 2, 1, 0, 1, 1, true},
      {1, 2, 6, 5, 2, 3, 3, 2, 1, 1, 1, true},
      {1, 4, 6, 6, 4, 2, 3, {1, 2}, {2, 1}, {2, 1}, 2, true},
      {2, 2, 3, 3, 2, 1, 1, 1, 0, 1, 2, false},  // pointwise (1x1) path, depthwise
      // Same width at stride 1 along rows: im2col copies each row in one run.
      {2, 2, 5, 4, 3, 3, 3, 1, 1, 1, 1, true},
      {1, 2, 6, 5, 2, 3, 3, {2, 1}, 1, 1, 1, true},       // ... row by row (stride 2 down)
      {1, 2, 7, 5, 2, 3, 3, 1, {2, 1}, {2, 1}, 1, false},  // ... dilated rows
      {1, 2, 3, 2, 2, 3, 5, 1, {1, 2}, 1, 1, true},        // ... a kernel column that reads only padding
      {2, 1, 12, 11, 2, 3, 3, 1, 1, 1, 1, true},           // 132 pixels: one sample per product
  };
  for (const auto& k : cases) {
    auto x = Tensor64::randn({k.n, k.c, k.h, k.w}, gen), w = Tensor64::randn({k.o, k.c / k.groups, k.kh, k.kw}, gen);
    const auto s = k.s, p = k.p, d = k.d;
    const Index g = k.groups;
    if (k.bias) {
      auto b = Tensor64::randn({k.o}, gen);
      CHECK_GRAD_AND_GRADGRAD([=](const auto& in) { return conv2d(in[0], in[1], in[2], s, p, d, g); }, {x, w, b});
    } else {
      CHECK_GRAD_AND_GRADGRAD([=](const auto& in) { return conv2d(in[0], in[1], Tensor64{}, s, p, d, g); }, {x, w});
    }
  }
}

TEST_CASE("conv1d: gradcheck and gradgradcheck") {
  Generator gen(8);
  auto x = Tensor64::randn({2, 2, 7}, gen), w = Tensor64::randn({4, 1, 3}, gen), b = Tensor64::randn({4}, gen);
  CHECK_GRAD_AND_GRADGRAD([](const auto& in) { return conv1d(in[0], in[1], in[2], 2, 2, 1, 2); }, {x, w, b});
}

TEST_CASE("conv2d: third order through the gradient ops, against finite differences") {
  // s(x, w) = Σ r·∂/∂w Σ (∂/∂x Σ conv(x, w)²)² is a derivative of order two
  // of a quartic; its gradient in x (order three) runs the backward of
  // conv_input_grad and conv_weight_grad's own recorded nodes.
  Generator gen(9);
  auto x0 = Tensor64::randn({1, 2, 4, 4}, gen), w = Tensor64::randn({2, 2, 2, 2}, gen);
  auto r = Tensor64::randn({2, 2, 2, 2}, gen);
  auto s = [&](const Tensor64& xv, bool keep) {
    auto x = xv.detach().requires_grad_(true), ww = w.detach().requires_grad_(true);
    auto y = conv2d(x, ww, Tensor64{}, 2, 1);
    auto gx = ember::grad(sum(y * y), {x}, {.create_graph = true})[0];
    auto gw = ember::grad(sum(gx * gx), {ww}, {.create_graph = true})[0];
    auto out = sum(gw * r);
    if (!keep) return std::vector<double>{out.item()};
    auto g3 = ember::grad(out, {x})[0];
    return g3.to_vector();
  };
  const auto analytic = s(x0, true);
  const double eps = 1e-5;
  for (Index i = 0; i < x0.numel(); ++i) {
    auto xp = x0.to_vector(), xm = x0.to_vector();
    xp[i] += eps;
    xm[i] -= eps;
    const double numeric = (s(Tensor64::from_data(xp, x0.shape()), false)[0] -
                            s(Tensor64::from_data(xm, x0.shape()), false)[0]) / (2 * eps);
    CHECK(analytic[i] == doctest::Approx(numeric).epsilon(1e-5));
  }
}

TEST_CASE("conv2d: shape errors name the op and the shapes") {
  auto x = Tensor64::zeros({2, 3, 8, 8});
  CHECK_THROWS_WITH_SUBSTR(conv2d(Tensor64::zeros({2, 3, 8}), Tensor64::zeros({4, 3, 3, 3})), ShapeError,
                           "conv2d: input [2x3x8] must be rank 4 [N, C, H, W]");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({4, 3, 3})), ShapeError, "conv2d: weight [4x3x3] must be rank 4");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({4, 1, 3, 3}), {}, 1, 0, 1, 2), ShapeError,
                           "conv2d: input [2x3x8x8] has 3 channels, not divisible by groups 2");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({4, 2, 3, 3})), ShapeError,
                           "conv2d: weight [4x2x3x3] takes 2 input channels per group, input [2x3x8x8] with groups 1 "
                           "gives 3");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({4, 3, 9, 3})), ShapeError,
                           "conv2d: kernel [4x3x9x3] (dilation 1x1) larger than the padded input 8x8");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({4, 3, 3, 3}), {}, 1, 0, 4), ShapeError,
                           "larger than the padded input");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({4, 3, 3, 3}), Tensor64::zeros({3})), ShapeError,
                           "conv2d: bias [3] does not match weight [4x3x3x3]: expected [4]");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({4, 3, 3, 3}), {}, 0), ValueError, "conv2d: stride (0, 0)");
  CHECK_THROWS_WITH_SUBSTR(conv2d(x, Tensor64::zeros({3, 1, 3, 3}), {}, 1, 0, 1, 0), ValueError,
                           "conv2d: groups 0 must be >= 1");
  CHECK_THROWS_WITH_SUBSTR(conv1d(x, Tensor64::zeros({4, 3, 3})), ShapeError,
                           "conv1d: input [2x3x8x8] must be rank 3 [N, C, L]");
}

TEST_CASE("conv2d: changing the input in place after the forward stops backward (dW reads saved columns)") {
  Generator gen(12);
  auto x = Tensor64::randn({1, 2, 5, 5}, gen), w = Tensor64::randn({3, 2, 3, 3}, gen).requires_grad_();
  auto y = conv2d(x, w, Tensor64{}, 1, 1);
  x.values() *= 2.0;
  CHECK_THROWS_WITH_SUBSTR(sum(y).backward(), GraphError, "conv2d: input 0");
}

TEST_CASE("conv2d: saved columns are reused only once no graph holds them") {
  // Small images: the forward saves its im2col columns for dW, in buffers a
  // later forward may take over. A buffer a live graph still reads must not
  // be handed out again.
  Generator gen(21);
  auto x1 = Tensor64::randn({4, 2, 5, 5}, gen), x2 = Tensor64::randn({4, 2, 5, 5}, gen);
  auto w = Tensor64::randn({3, 2, 3, 3}, gen).requires_grad_();
  auto grad_of = [&](const Tensor64& x) {
    w.zero_grad();
    sum(conv2d(x, w, Tensor64{}, 1, 1)).backward();
    return w.grad().to_vector();
  };
  const auto alone1 = grad_of(x1), alone2 = grad_of(x2);
  REQUIRE(alone1 != alone2);
  auto y1 = sum(conv2d(x1, w, Tensor64{}, 1, 1));
  auto y2 = sum(conv2d(x2, w, Tensor64{}, 1, 1));  // y1's graph is alive: its columns must stay y1's
  w.zero_grad();
  y1.backward();
  CHECK(w.grad().to_vector() == alone1);
  w.zero_grad();
  y2.backward();
  CHECK(w.grad().to_vector() == alone2);
  for (int step = 0; step < 3; ++step) {  // released graphs: their buffers are reused, results unchanged
    CHECK(grad_of(x2) == alone2);
    CHECK(grad_of(x1) == alone1);
  }
}

namespace {

// dL/dx and dL/dw of L = Σ r·conv(x, w) from the definition (stride 1, dilation 1, one group):
//   dx[n, c, ih, iw] = Σ_{o, a, e} r[n, o, ih + p − a, iw + p − e] · w[o, c, a, e]
//   dw[o, c, a, e]   = Σ_{n, i, j} r[n, o, i, j] · x[n, c, i − p + a, j − p + e]
std::pair<std::vector<double>, std::vector<double>> naive_conv2d_grads(const Tensor64& x, const Tensor64& w,
                                                                        const Tensor64& r, Size2 p) {
  const Shape xs = x.shape(), ws = w.shape(), rs = r.shape();
  const Index N = xs[0], C = xs[1], H = xs[2], W = xs[3], O = ws[0], kh = ws[2], kw = ws[3], OH = rs[2], OW = rs[3];
  const auto xv = x.to_vector(), wv = w.to_vector(), rv = r.to_vector();
  std::vector<double> dx(xv.size(), 0.0), dw(wv.size(), 0.0);
  for (Index n = 0; n < N; ++n)
    for (Index o = 0; o < O; ++o)
      for (Index i = 0; i < OH; ++i)
        for (Index j = 0; j < OW; ++j)
          for (Index c = 0; c < C; ++c)
            for (Index a = 0; a < kh; ++a)
              for (Index e = 0; e < kw; ++e) {
                const Index ih = i - p.h + a, iw = j - p.w + e;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const double g = rv[((n * O + o) * OH + i) * OW + j];
                dx[((n * C + c) * H + ih) * W + iw] += g * wv[((o * C + c) * kh + a) * kw + e];
                dw[((o * C + c) * kh + a) * kw + e] += g * xv[((n * C + c) * H + ih) * W + iw];
              }
  return {dx, dw};
}

bool near(double got, double expected, double tol) {
  return std::abs(got - expected) <= tol * (1 + std::abs(expected));
}

}  // namespace

TEST_CASE("conv2d: 3x3 stride 1 with 16+ channels (Winograd) equals the definition, forward and backward") {
  // ops/conv.cpp takes Winograd F(2x2, 3x3) here: odd sizes (tiles cut off
  // at the edge), padding 0, 1 and 2, batch 1, channels not multiples of 8,
  // non-square images, groups, one output row, chunks of several samples.
  struct W {
    Index n, c, h, w, o;
    Size2 p;
    Index groups;
  };
  // {12, .., 10x10}: 25 tiles a sample, chunks of 10, 2; {70, .., 3x3}: chunks of 64, 6.
  const std::vector<W> cases = {{1, 17, 7, 5, 19, 1, 1},       {2, 21, 5, 6, 16, 0, 1},  {1, 18, 4, 7, 17, 2, 1},
                                {3, 34, 6, 5, 36, 1, 2},       {1, 16, 3, 9, 16, 0, 1},  {70, 16, 3, 3, 17, 1, 1},
                                {2, 20, 14, 14, 33, 1, 1},     {12, 16, 10, 10, 16, 1, 1},
                                {2, 17, 6, 7, 18, {2, 0}, 1},  {1, 16, 5, 8, 16, {0, 1}, 1}};
  Generator gen(31);
  for (const auto& k : cases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.h);
    CAPTURE(k.w);
    CAPTURE(k.o);
    CAPTURE(k.p.h);
    CAPTURE(k.p.w);
    CAPTURE(k.groups);
    auto x = Tensor64::randn({k.n, k.c, k.h, k.w}, gen), w = Tensor64::randn({k.o, k.c / k.groups, 3, 3}, gen);
    auto b = Tensor64::randn({k.o}, gen);
    const auto expected = naive_conv2d(x, w, b, 1, k.p, 1, k.groups);
    auto xa = x.detach().requires_grad_(true), wa = w.detach().requires_grad_(true);
    auto y = conv2d(xa, wa, b, 1, k.p, 1, k.groups);
    const auto got = y.to_vector();
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(near(got[i], expected[i], 1e-12));
    auto r = Tensor64::randn(y.shape(), gen);
    sum(y * r).backward();
    if (k.groups == 1) {
      const auto [dx, dw] = naive_conv2d_grads(x, w, r, k.p);
      const auto gx = xa.grad().to_vector(), gw = wa.grad().to_vector();
      for (std::size_t i = 0; i < dx.size(); ++i) CHECK(near(gx[i], dx[i], 1e-12));
      for (std::size_t i = 0; i < dw.size(); ++i) CHECK(near(gw[i], dw[i], 1e-12));
    } else {  // each group alone is a one-group convolution
      const Index cg = k.c / k.groups, og = k.o / k.groups;
      for (Index g = 0; g < k.groups; ++g) {
        const auto [dx, dw] = naive_conv2d_grads(slice(x, 1, g * cg, (g + 1) * cg), slice(w, 0, g * og, (g + 1) * og),
                                                 slice(r, 1, g * og, (g + 1) * og), k.p);
        const auto gx = slice(xa.grad(), 1, g * cg, (g + 1) * cg).to_vector();
        const auto gw = slice(wa.grad(), 0, g * og, (g + 1) * og).to_vector();
        for (std::size_t i = 0; i < dx.size(); ++i) CHECK(near(gx[i], dx[i], 1e-12));
        for (std::size_t i = 0; i < dw.size(); ++i) CHECK(near(gw[i], dw[i], 1e-12));
      }
    }
  }
}

TEST_CASE("conv2d: Winograd in float stays near the double result") {
  // The transforms add and subtract before multiplying; in float the error
  // must stay a few ulps of the products' size, as im2col's does.
  Generator gen(32);
  auto x = Tensor64::randn({2, 16, 14, 14}, gen), w = Tensor64::randn({32, 16, 3, 3}, gen) * 0.1;
  auto r = Tensor64::randn({2, 32, 14, 14}, gen);
  auto to_float = [](const Tensor64& t) {
    const auto v = t.to_vector();
    return Tensor::from_data(std::vector<float>(v.begin(), v.end()), t.shape());
  };
  auto xd = x.detach().requires_grad_(true), wd = w.detach().requires_grad_(true);
  auto xf = to_float(x).requires_grad_(true), wf = to_float(w).requires_grad_(true);
  auto yd = conv2d(xd, wd, Tensor64{}, 1, 1);
  auto yf = conv2d(xf, wf, Tensor{}, 1, 1);
  sum(yd * r).backward();
  sum(yf * to_float(r)).backward();
  auto max_error = [](const auto& f, const Tensor64& d) {
    const auto fv = f.to_vector(), dv = d.to_vector();
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < dv.size(); ++i) {
      err = std::max(err, std::abs(double(fv[i]) - dv[i]));
      scale = std::max(scale, std::abs(dv[i]));
    }
    return err / scale;
  };
  CHECK(max_error(yf, yd) < 1e-5);
  CHECK(max_error(xf.grad(), xd.grad()) < 1e-5);
  CHECK(max_error(wf.grad(), wd.grad()) < 1e-5);
}

TEST_CASE("conv2d: gradcheck and gradgradcheck on the Winograd path") {
  Generator gen(33);
  struct W {
    Index n, c, h, w, o, p, groups;
  };
  for (const W k : {W{1, 17, 5, 4, 16, 1, 1}, W{2, 16, 3, 5, 17, 0, 1}, W{1, 32, 3, 3, 34, 2, 2}}) {
    auto x = Tensor64::randn({k.n, k.c, k.h, k.w}, gen), w = Tensor64::randn({k.o, k.c / k.groups, 3, 3}, gen);
    auto b = Tensor64::randn({k.o}, gen);
    const Index p = k.p, g = k.groups;
    CHECK_GRAD_AND_GRADGRAD([=](const auto& in) { return conv2d(in[0], in[1], in[2], 1, p, 1, g); }, {x, w, b});
  }
}

TEST_CASE("conv2d: Winograd gradients repeat bit for bit, and equal those recorded under create_graph") {
  // The recorded path (create_graph) runs the same kernels as the plain
  // backward for dX and dW, so their first-order results share every bit.
  Generator gen(34);
  auto x = Tensor::randn({3, 16, 6, 7}, gen).requires_grad_(true);
  auto w = Tensor::randn({17, 16, 3, 3}, gen).requires_grad_(true);
  auto b = Tensor::randn({17}, gen).requires_grad_(true);
  auto r = Tensor::randn({3, 17, 6, 7}, gen);
  auto grads = [&](bool create_graph) {
    auto g = ember::grad(sum(conv2d(x, w, b, 1, 1) * r), {x, w}, {.create_graph = create_graph});
    return std::vector<std::vector<float>>{g[0].to_vector(), g[1].to_vector()};
  };
  const auto first = grads(false);
  CHECK(grads(false) == first);
  CHECK(grads(true) == first);
}

TEST_CASE("conv2d: on the Winograd path an infinite or NaN input spoils only the outputs that read it") {
  // The transforms mix the inputs of a 4x4 tile, so an output may be NaN
  // where the direct sum is ±inf; but every output that does not read the
  // bad input must stay finite, as in the direct loop.
  Generator gen(35);
  auto x = Tensor64::randn({2, 16, 7, 6}, gen), w = Tensor64::randn({16, 16, 3, 3}, gen);
  auto xv = x.to_vector();
  xv[3 * 42 + 2 * 6 + 3] = std::numeric_limits<double>::infinity();  // sample 0, channel 3, (2, 3)
  xv[(16 + 5) * 42 + 6 * 6 + 0] = std::numeric_limits<double>::quiet_NaN();  // sample 1, channel 5, (6, 0)
  x = Tensor64::from_data(xv, x.shape());
  const auto expected = naive_conv2d(x, w, Tensor64{}, 1, 1, 1, 1);
  const auto got = conv2d(x, w, Tensor64{}, 1, 1).to_vector();
  REQUIRE(got.size() == expected.size());
  Index bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(std::isfinite(got[i]) == std::isfinite(expected[i]));
    bad += !std::isfinite(expected[i]);
  }
  CHECK(bad == 16 * (9 + 4));  // 3x3 outputs read (2, 3); 2x2 read the corner-adjacent (6, 0)
}
