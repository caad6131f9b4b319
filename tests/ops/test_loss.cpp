// ops/loss: every loss and reduction against a long-double reference,
// gradchecked (both inputs) at seeded random points on several shapes and at
// the edge values; the identities of SCIENCE.md; BCE's clamps and domain
// error; cross_entropy against its composite form; every error message.
#include <ember/ember.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../test_helpers.hpp"
#include "any_size.hpp"

using namespace ember;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
using L = long double;
const std::vector<Reduction> kReductions = {Reduction::mean, Reduction::sum, Reduction::none};
const std::vector<Shape> kShapes = {{}, {1}, {6}, {3, 4}, {2, 3, 2}};

const char* name(Reduction r) { return r == Reduction::mean ? "mean" : r == Reduction::sum ? "sum" : "none"; }

// The reference reduction of per-element losses.
std::vector<double> reduce_ref(const std::vector<L>& e, Reduction r) {
  if (r == Reduction::none) return {e.begin(), e.end()};
  L total = 0;
  for (L v : e) total += v;
  return {static_cast<double>(r == Reduction::mean ? total / static_cast<L>(e.size()) : total)};
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double rtol = 1e-13) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(rtol));
}

Tensor64 vec(const std::vector<double>& v) { return Tensor64::from_data(v, {static_cast<Index>(v.size())}); }

L sigmoid_ref(L z) { return 1 / (1 + std::exp(-z)); }

using Loss = std::function<Tensor64(const Tensor64&, const Tensor64&, Reduction)>;
const Loss kMse = [](const Tensor64& p, const Tensor64& y, Reduction r) { return mse_loss(p, y, r); };
const Loss kBce = [](const Tensor64& p, const Tensor64& y, Reduction r) { return binary_cross_entropy(p, y, r); };
const Loss kBceLogits = [](const Tensor64& z, const Tensor64& y, Reduction r) {
  return binary_cross_entropy_with_logits(z, y, r);
};

// Gradcheck of a two-input loss with respect to both inputs.
void gradcheck_both(const Loss& loss, const Tensor64& a, const Tensor64& b) {
  for (auto r : kReductions) {
    INFO("reduction ", name(r), " shape ", a.shape().str());
    const auto result = gradcheck([&](const auto& in) { return loss(in[0], in[1], r); }, {a, b});
    CHECK(result);
    CHECK(result.compared > 0);
  }
}

}  // namespace

// --- values of every reduction ----------------------------------------------

TEST_CASE("loss: mse, bce and bce_with_logits values for every reduction") {
  Generator gen(23);
  auto x = Tensor64::randn({3, 4}, gen, 0, 3), p = Tensor64::rand({3, 4}, gen, 0.01, 0.99),
       y = Tensor64::rand({3, 4}, gen, 0, 1);
  std::vector<L> mse, bce, logits;
  for (Index i = 0; i < 12; ++i) {
    const L xi = x.data()[i], pi = p.data()[i], yi = y.data()[i];
    mse.push_back((xi - yi) * (xi - yi));
    bce.push_back(-(yi * std::log(pi) + (1 - yi) * std::log1p(-pi)));
    logits.push_back(-(yi * std::log(sigmoid_ref(xi)) + (1 - yi) * std::log(sigmoid_ref(-xi))));
  }
  for (auto r : kReductions) {
    INFO("reduction ", name(r));
    const Shape want = r == Reduction::none ? Shape{3, 4} : Shape{};
    CHECK(mse_loss(x, y, r).shape() == want);
    check_close(mse_loss(x, y, r).to_vector(), reduce_ref(mse, r));
    check_close(binary_cross_entropy(p, y, r).to_vector(), reduce_ref(bce, r));
    check_close(binary_cross_entropy_with_logits(x, y, r).to_vector(), reduce_ref(logits, r));
  }
  CHECK(mse_loss(x, y).item() == mse_loss(x, y, Reduction::sum).item() / 12);  // mean is the default
}

TEST_CASE("loss: reductions of no elements: sum 0, mean NaN, none empty") {
  auto e = Tensor64::zeros({0});
  CHECK(mse_loss(e, e, Reduction::sum).item() == 0.0);
  CHECK(std::isnan(mse_loss(e, e).item()));
  CHECK(mse_loss(e, e, Reduction::none).numel() == 0);
  CHECK(std::isnan(cross_entropy(Tensor64::zeros({0, 3}), std::vector<Index>{}).item()));
}

// --- gradcheck --------------------------------------------------------------

TEST_CASE("loss: gradcheck of mse, bce and bce_with_logits in both inputs, every reduction, several shapes") {
  Generator gen(29);
  for (const auto& s : kShapes) {
    gradcheck_both(kMse, Tensor64::randn(s, gen, 0, 2), Tensor64::randn(s, gen, 0, 2));
    gradcheck_both(kBce, Tensor64::rand(s, gen, 0.05, 0.95), Tensor64::rand(s, gen, 0, 1));
    gradcheck_both(kBceLogits, Tensor64::randn(s, gen, 0, 3), Tensor64::rand(s, gen, 0, 1));
  }
}

TEST_CASE("loss: gradcheck of cross_entropy and nll_loss, every reduction") {
  Generator gen(31);
  for (Index n : {1, 4}) {
    std::vector<Index> classes;
    for (Index i = 0; i < n; ++i) classes.push_back(static_cast<Index>(gen.below(5)));
    auto z = Tensor64::randn({n, 5}, gen, 0, 3);
    for (auto r : kReductions) {
      INFO("rows ", n, " reduction ", name(r));
      CHECK(gradcheck([&](const auto& in) { return cross_entropy(in[0], classes, r); }, {z}));
      CHECK(gradcheck([&](const auto& in) { return nll_loss(in[0], classes, r); }, {z}));
    }
  }
}

// --- edge values -------------------------------------------------------------

TEST_CASE("loss: edge values: finite in, finite out and gradient; NaN in, NaN out, no exception") {
  const std::vector<double> edges = {-1.3, 0, 0.49, 0.99, 1.01, 20, -20, 40, -40, 710, -710};
  std::vector<double> z, y;
  for (double e : edges)
    for (double t : {0.0, 1.0, 0.3}) {
      z.push_back(e);
      y.push_back(t);
    }
  for (const auto& [label, loss] : std::vector<std::pair<std::string, Loss>>{{"mse", kMse}, {"logits", kBceLogits}}) {
    INFO(label);
    auto zt = vec(z).requires_grad_();
    auto out = loss(zt, vec(y), Reduction::none);
    out.backward(Tensor64::ones(out.shape()));
    for (double v : out.to_vector()) CHECK(std::isfinite(v));
    for (double g : zt.grad().to_vector()) CHECK(std::isfinite(g));
    CHECK(gradcheck([&](const auto& in) { return loss(in[0], in[1], Reduction::none); }, {vec(z), vec(y)}));
    auto nan = vec({kNaN, 0.5}).requires_grad_();
    auto bad = loss(nan, vec({1.0, 1.0}), Reduction::none);
    CHECK(std::isnan(bad.to_vector()[0]));
    CHECK(std::isfinite(bad.to_vector()[1]));
    CHECK(std::isnan(loss(nan, vec({1.0, 1.0}), Reduction::mean).item()));
    bad.backward(Tensor64::ones({2}));
    CHECK(std::isnan(nan.grad().to_vector()[0]));
  }
  // float: the same edges stay finite
  std::vector<float> zf(z.begin(), z.end()), yf(y.begin(), y.end());
  auto zt = Tensor::from_data(zf, {static_cast<Index>(zf.size())}).requires_grad_();
  auto yt = Tensor::from_data(yf, {static_cast<Index>(yf.size())});
  binary_cross_entropy_with_logits(zt, yt, Reduction::sum).backward();
  for (float g : zt.grad().to_vector()) CHECK(std::isfinite(g));
  CHECK(std::isfinite(binary_cross_entropy_with_logits(zt, yt).item()));
  CHECK(std::isfinite(mse_loss(zt, yt).item()));
}

template <class T>
void check_losses_at_any_size() {
  using X = TensorT<T>;
  const T inf = std::numeric_limits<T>::infinity();
  // Elementwise losses (Reduction::none) in the prediction, at several targets.
  for (const T y : {T(0), T(0.25), T(1), inf, -inf}) {
    const std::string at = " with target " + std::to_string(y);
    edge::check_any_size<T>("mse_loss" + at,
                            [y](const X& x) { return mse_loss(x, X::full(x.shape(), y), Reduction::none); });
    edge::check_any_size<T>("bce_with_logits" + at, [y](const X& x) {
      return binary_cross_entropy_with_logits(x, X::full(x.shape(), y), Reduction::none);
    });
  }
  // In the target, at several predictions (bce's input must lie in [0, 1]).
  for (const T p : {T(0), T(0.25), T(1)}) {
    edge::check_any_size<T>("bce in the target, p = " + std::to_string(p), [p](const X& y) {
      return binary_cross_entropy(X::full(y.shape(), p), y, Reduction::none);
    });
  }
  for (const T z : {T(0), T(3), inf, -inf}) {
    edge::check_any_size<T>("bce_with_logits in the target, z = " + std::to_string(z), [z](const X& y) {
      return binary_cross_entropy_with_logits(X::full(y.shape(), z), y, Reduction::none);
    });
  }
}

TEST_CASE("loss: infinities and other specials give the same elementwise loss at every tensor size, float and double") {
  check_losses_at_any_size<float>();
  check_losses_at_any_size<double>();
}

// The limits as z -> +-inf of softplus(z) - z y = (1 - y) z + log(1 + e^-z):
// +inf for y < 1 at z = +inf, 0 at y = 1; at z = -inf, +inf for y > 0, 0 at y = 0.
TEST_CASE("loss: bce_with_logits at infinite logits is the limit, not NaN, float and double") {
  const double inf = kInf;
  auto loss = [](auto z, auto y) {
    using T = decltype(z);
    return binary_cross_entropy_with_logits(TensorT<T>::from({z}), TensorT<T>::from({y}), Reduction::none).item();
  };
  CHECK(loss(inf, 0.0) == inf);
  CHECK(loss(inf, 0.5) == inf);
  CHECK(loss(inf, 1.0) == 0.0);
  CHECK(loss(-inf, 0.0) == 0.0);
  CHECK(loss(-inf, 0.5) == inf);
  CHECK(loss(-inf, 1.0) == inf);
  CHECK(loss(static_cast<float>(inf), 0.0f) == static_cast<float>(inf));
  CHECK(loss(static_cast<float>(inf), 1.0f) == 0.0f);
  CHECK(loss(-static_cast<float>(inf), 0.0f) == 0.0f);
  CHECK(std::isnan(loss(inf, kNaN)));
  CHECK(std::isnan(loss(kNaN, 0.0)));
}

TEST_CASE("loss: bce at probabilities of exactly 0 and 1 gives finite loss and gradient (log clamped at -100)") {
  auto p = Tensor64::from({0.0, 1.0, 0.0, 1.0, 0.49, 0.99}).requires_grad_();
  auto y = Tensor64::from({1.0, 0.0, 0.0, 1.0, 1.0, 0.0}).requires_grad_();
  auto out = binary_cross_entropy(p, y, Reduction::none);
  const auto v = out.to_vector();
  CHECK(v[0] == 100.0);
  CHECK(v[1] == 100.0);
  CHECK(v[2] == 0.0);
  CHECK(v[3] == 0.0);
  CHECK(v[4] == doctest::Approx(-std::log(0.49)));
  CHECK(v[5] == doctest::Approx(-std::log(0.01)));
  out.backward(Tensor64::ones({6}));
  for (double g : p.grad().to_vector()) CHECK(std::isfinite(g));
  for (double g : y.grad().to_vector()) CHECK(std::isfinite(g));
  CHECK(p.grad().to_vector()[0] == -1e12);  // (p - y) / max(p(1-p), 1e-12), as in PyTorch
  CHECK(y.grad().to_vector()[0] == 100.0);  // log(1-p) - log(p), clamped
  // the interior points, gradchecked
  CHECK(gradcheck([](const auto& in) { return binary_cross_entropy(in[0], in[1], Reduction::none); },
                  {vec({0.49, 0.99, 0.01}), vec({1.0, 0.0, 0.3})}));
  // float too
  auto pf = Tensor::from({0.0f, 1.0f}).requires_grad_();
  binary_cross_entropy(pf, Tensor::from({1.0f, 0.0f}), Reduction::sum).backward();
  for (float g : pf.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("loss: bce passes NaN through and rejects inputs outside 0..1 by value and index") {
  auto out = binary_cross_entropy(Tensor64::from({kNaN, 0.5}), Tensor64::from({1.0, 1.0}), Reduction::none);
  CHECK(std::isnan(out.to_vector()[0]));
  CHECK(out.to_vector()[1] == doctest::Approx(std::log(2.0)));
  CHECK_THROWS_WITH_SUBSTR(binary_cross_entropy(Tensor64::from({0.5, -1.3}), Tensor64::from({1.0, 0.0})), ValueError,
                           "binary_cross_entropy: input value -1.3 at index 1 is outside [0, 1]");
  CHECK_THROWS_WITH_SUBSTR(
      binary_cross_entropy(Tensor64::from({{0.5, 0.2, 0.1}, {0.3, 0.9, 1.01}}), Tensor64::zeros({2, 3})), ValueError,
      "binary_cross_entropy: input value 1.01 at index (1,2) is outside [0, 1]");
  CHECK_THROWS_WITH_SUBSTR(binary_cross_entropy(Tensor::from({std::numeric_limits<float>::infinity(), 0.5f}),
                                                Tensor::from({1.0f, 1.0f})), ValueError,
                           "input value inf at index 0");
  // a tanh output is the classic mistake; (1 + tanh)/2 is the fix
  auto h = tanh(Tensor64::from({-2.0, 1.0}));
  CHECK_THROWS_WITH_SUBSTR(binary_cross_entropy(h, Tensor64::from({0.0, 1.0})), ValueError,
                           "use binary_cross_entropy_with_logits");
  CHECK(std::isfinite(binary_cross_entropy((h + 1.0) / 2.0, Tensor64::from({0.0, 1.0})).item()));
}

// --- the identities of SCIENCE.md --------------------------------------------

TEST_CASE("loss: bce after sigmoid gives dL/dy = H - Y; with logits exactly sigmoid(z) - y") {
  Generator gen(37);
  auto z = Tensor64::randn({40}, gen, 0, 3), y = Tensor64::rand({40}, gen, 0, 1);
  auto a = z.detach().requires_grad_();
  binary_cross_entropy(sigmoid(a), y, Reduction::sum).backward();
  const auto h = sigmoid(z).to_vector(), ga = a.grad().to_vector();
  for (std::size_t i = 0; i < h.size(); ++i) CHECK(ga[i] == doctest::Approx(h[i] - y.data()[i]).epsilon(1e-10));
  // the fused form's gradient is the formula itself, bit for bit
  auto b = z.detach().requires_grad_();
  binary_cross_entropy_with_logits(b, y, Reduction::sum).backward();
  CHECK(b.grad().to_vector() == (sigmoid(z) - y).to_vector());
  auto c = z.detach().requires_grad_();
  binary_cross_entropy_with_logits(c, y).backward();  // the mean divides by N
  const auto gb = b.grad().to_vector(), gc = c.grad().to_vector();
  for (std::size_t i = 0; i < gb.size(); ++i) CHECK(gc[i] == doctest::Approx(gb[i] / 40).epsilon(1e-15));
}

TEST_CASE("loss: mse after sigmoid gives dL/dy = -2(Y - H) H(1 - H), vanishing where H saturates") {
  // one element, reduction sum: exactly the SCIENCE.md formula
  for (double z0 : {-3.0, 0.0, 0.7, 12.0}) {
    auto z = Tensor64::scalar(z0).requires_grad_();
    const double Y = 1.0, H = 1 / (1 + std::exp(-z0));
    mse_loss(sigmoid(z), Tensor64::scalar(Y), Reduction::sum).backward();
    CHECK(z.grad().item() == doctest::Approx(-2 * (Y - H) * H * (1 - H)).epsilon(1e-14));
  }
  // a batch with the mean: the same per element, divided by N
  Generator gen(41);
  auto z = Tensor64::randn({8}, gen, 0, 2).requires_grad_();
  auto Y = Tensor64::rand({8}, gen, 0, 1);
  mse_loss(sigmoid(z), Y).backward();
  for (Index i = 0; i < 8; ++i) {
    const double H = 1 / (1 + std::exp(-z.data()[i])), y = Y.data()[i];
    CHECK(z.grad().data()[i] == doctest::Approx(-2 * (y - H) * H * (1 - H) / 8).epsilon(1e-13));
  }
  // badly wrong but saturated: almost no gradient (H = 1 - 2e-9, target 0)
  auto s = Tensor64::scalar(20.0).requires_grad_();
  mse_loss(sigmoid(s), Tensor64::scalar(0.0), Reduction::sum).backward();
  CHECK(std::fabs(s.grad().item()) < 1e-8);
}

TEST_CASE("loss: bce_with_logits equals bce after sigmoid where both are finite, and stays exact where that breaks") {
  Generator gen(43);
  auto z = Tensor64::rand({60}, gen, -15, 15), y = Tensor64::rand({60}, gen, 0, 1);
  check_close(binary_cross_entropy_with_logits(z, y, Reduction::none).to_vector(),
              binary_cross_entropy(sigmoid(z), y, Reduction::none).to_vector(), 1e-9);
  // where sigmoid rounds to exactly 0 or 1, bce(sigmoid) hits its -100 clamp and loses the gradient;
  // the fused form gives the exact loss |z| and gradient sigmoid(z) - y = +-1
  for (double z0 : {-710.0, 710.0, -1000.0, 1000.0}) {
    const double y0 = z0 < 0 ? 1.0 : 0.0;  // the wrong side
    auto a = Tensor64::scalar(z0).requires_grad_(), b = Tensor64::scalar(z0).requires_grad_();
    auto composite = binary_cross_entropy(sigmoid(a), Tensor64::scalar(y0));
    auto fused = binary_cross_entropy_with_logits(b, Tensor64::scalar(y0));
    composite.backward();
    fused.backward();
    CHECK(composite.item() == 100.0);
    CHECK(a.grad().item() == 0.0);
    CHECK(fused.item() == std::fabs(z0));
    CHECK(b.grad().item() == (z0 < 0 ? -1.0 : 1.0));
  }
  // in float the composite breaks already at |z| = 20
  auto f = Tensor::scalar(20.0f).requires_grad_();
  auto loss = binary_cross_entropy_with_logits(f, Tensor::scalar(0.0f));
  loss.backward();
  CHECK(loss.item() == 20.0f);
  CHECK(f.grad().item() == 1.0f);
  CHECK(binary_cross_entropy(sigmoid(Tensor::scalar(20.0f)), Tensor::scalar(0.0f)).item() == 100.0f);
}

// --- cross_entropy and nll_loss ------------------------------------------------

TEST_CASE("loss: cross_entropy matches nll_loss(log_softmax) in value and gradient, every reduction") {
  Generator gen(47);
  auto z = Tensor64::randn({6, 4}, gen, 0, 4);
  const std::vector<Index> classes = {0, 3, 1, 1, 2, 3};
  for (auto r : kReductions) {
    INFO("reduction ", name(r));
    auto a = z.detach().requires_grad_(), b = z.detach().requires_grad_();
    auto fused = cross_entropy(a, classes, r), composite = nll_loss(log_softmax(b), classes, r);
    check_close(fused.to_vector(), composite.to_vector());
    fused.backward(Tensor64::ones(fused.shape()));
    composite.backward(Tensor64::ones(composite.shape()));
    check_close(a.grad().to_vector(), b.grad().to_vector(), 1e-12);
  }
  // reference values: logsumexp(row) - z[class]
  std::vector<L> ref;
  for (Index i = 0; i < 6; ++i) {
    L total = 0;
    for (Index j = 0; j < 4; ++j) total += std::exp(static_cast<L>(z.at({i, j})));
    ref.push_back(std::log(total) - z.at({i, classes[static_cast<std::size_t>(i)]}));
  }
  for (auto r : kReductions) check_close(cross_entropy(z, classes, r).to_vector(), reduce_ref(ref, r));
  check_close(nll_loss(z, classes, Reduction::none).to_vector(), {-z.at({0, 0}), -z.at({1, 3}), -z.at({2, 1}),
                                                                 -z.at({3, 1}), -z.at({4, 2}), -z.at({5, 3})});
}

TEST_CASE("loss: cross_entropy is stable at large logits and keeps -inf and NaN to their rows") {
  auto z = Tensor64::from({{1000.0, 0.0, -1000.0}, {710.0, -710.0, 40.0}, {-kInf, 0.0, 0.0}, {kNaN, 1.0, 2.0}})
               .requires_grad_();
  auto out = cross_entropy(z, std::vector<Index>{0, 1, 1, 2}, Reduction::none);
  const auto v = out.to_vector();
  CHECK(v[0] == 0.0);
  CHECK(v[1] == 1420.0);
  CHECK(v[2] == doctest::Approx(std::log(2.0)));
  CHECK(std::isnan(v[3]));
  out.backward(Tensor64::ones({4}));
  const auto g = z.grad().to_vector();
  for (std::size_t i = 0; i < 9; ++i) CHECK(std::isfinite(g[i]));
  CHECK(g[3] == 1.0);  // softmax 1 at the 710 logit, which is not the class
  CHECK(g[4] == -1.0);
  CHECK(g[6] == 0.0);  // a masked logit gets no gradient
  CHECK(std::isnan(g[9]));
  auto f = Tensor::from({{88.0f, -88.0f, 20.0f}}).requires_grad_();
  cross_entropy(f, std::vector<Index>{1}).backward();
  for (float gf : f.grad().to_vector()) CHECK(std::isfinite(gf));
}

TEST_CASE("loss: cross_entropy and nll_loss errors name the index, the count and the shape") {
  auto z = Tensor64::zeros({3, 4});
  CHECK_THROWS_WITH_SUBSTR(cross_entropy(z, std::vector<Index>{0, 4, 1}), ValueError,
                           "cross_entropy: class index 4 at position 1 is out of range for 4 classes");
  CHECK_THROWS_WITH_SUBSTR(nll_loss(z, std::vector<Index>{0, 1, -1}), ValueError,
                           "nll_loss: class index -1 at position 2 is out of range for 4 classes");
  CHECK_THROWS_WITH_SUBSTR(cross_entropy(z, std::vector<Index>{0, 1}), ShapeError,
                           "cross_entropy: 2 class indices for input of shape [3x4] (one per row expected)");
  CHECK_THROWS_WITH_SUBSTR(nll_loss(z, std::vector<Index>{0, 1, 2, 3}), ShapeError,
                           "nll_loss: 4 class indices for input of shape [3x4]");
  CHECK_THROWS_WITH_SUBSTR(cross_entropy(Tensor64::zeros({12}), std::vector<Index>{0}), ShapeError,
                           "cross_entropy: input must have shape [N, C], got [12]");
  CHECK_THROWS_WITH_SUBSTR(nll_loss(Tensor64::zeros({2, 3, 4}), std::vector<Index>{0, 0}), ShapeError,
                           "nll_loss: input must have shape [N, C], got [2x3x4]");
}

// --- shapes never broadcast -------------------------------------------------------

TEST_CASE("loss: a prediction/target shape mismatch is an error naming both shapes") {
  CHECK_THROWS_WITH_SUBSTR(mse_loss(Tensor64::zeros({2, 3}), Tensor64::zeros({3, 2})), ShapeError,
                           "mse_loss: input shape [2x3] and target shape [3x2] differ");
  // shapes that would broadcast are still an error
  CHECK_THROWS_WITH_SUBSTR(mse_loss(Tensor64::zeros({4, 1}), Tensor64::zeros({4})), ShapeError,
                           "mse_loss: input shape [4x1] and target shape [4] differ");
  CHECK_THROWS_WITH_SUBSTR(binary_cross_entropy(Tensor64::zeros({3}), Tensor64::zeros({})), ShapeError,
                           "binary_cross_entropy: input shape [3] and target shape [] differ");
  CHECK_THROWS_WITH_SUBSTR(binary_cross_entropy_with_logits(Tensor::zeros({2}), Tensor::zeros({1, 2})), ShapeError,
                           "binary_cross_entropy_with_logits: input shape [2] and target shape [1x2] differ");
}

// --- one fused node per loss --------------------------------------------------------

TEST_CASE("loss: each loss is one node whose inputs are the prediction and the target") {
  auto p = Tensor64::from({0.2, 0.7}).requires_grad_();
  auto y = Tensor64::from({0.0, 1.0});
  const std::vector<Index> cls = {1};
  auto z = Tensor64::from({{0.1, 0.9}}).requires_grad_();
  for (const auto& [op, out] : std::vector<std::pair<std::string, Tensor64>>{
           {"mse_loss", mse_loss(p, y)},
           {"binary_cross_entropy", binary_cross_entropy(p, y)},
           {"binary_cross_entropy_with_logits", binary_cross_entropy_with_logits(p, y)},
           {"cross_entropy", cross_entropy(z, cls)},
           {"nll_loss", nll_loss(z, cls)}}) {
    INFO(op);
    CHECK(std::string(out.op()) == op);
    for (const auto& in : out.node().inputs) CHECK(in->is_leaf());
  }
  // float versions agree with double
  auto pf = Tensor::from({0.2f, 0.7f}), yf = Tensor::from({0.0f, 1.0f});
  CHECK(binary_cross_entropy(pf, yf).item() == doctest::Approx(binary_cross_entropy(p, y).item()).epsilon(1e-6));
  CHECK(mse_loss(pf, yf).item() == doctest::Approx(mse_loss(p, y).item()).epsilon(1e-6));
  CHECK(cross_entropy(Tensor::from({{0.1f, 0.9f}}), cls).item() ==
        doctest::Approx(cross_entropy(z, cls).item()).epsilon(1e-6));
}

TEST_CASE("loss: fused cross_entropy keeps its digits at large logits (float, shifted by 1e4)") {
  Generator gen(21);
  const auto base = Tensor64::randn({8, 5}, gen);
  const std::vector<Index> classes{0, 1, 2, 3, 4, 0, 1, 2};
  std::vector<float> shifted;
  for (double v : base.to_vector()) shifted.push_back(float(v + 1e4));
  // reference in double from the very same float logits: the shift changes nothing mathematically
  std::vector<double> exact;
  for (float v : shifted) exact.push_back(double(v) - 1e4);
  auto zd = Tensor64::from_data(exact, Shape{8, 5}).requires_grad_();
  cross_entropy(zd, classes).backward();
  const auto want = zd.grad().to_vector();
  auto z = Tensor::from_data(shifted, Shape{8, 5}).requires_grad_();
  const auto loss = cross_entropy(z, classes);
  loss.backward();
  const auto got = z.grad().to_vector();
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(double(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  // the form exp(z - lse) lost ~3e-4 here; exp((z - max) - log_total) keeps float precision
  INFO("max gradient error ", worst, " relative to ", scale);
  CHECK(worst / scale < 1e-6);
  // and the fused form matches the unfused nll_loss(log_softmax) to float rounding
  auto zu = z.detach().requires_grad_();
  nll_loss(log_softmax(zu, 1), classes).backward();
  const auto unfused = zu.grad().to_vector();
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(unfused[i]).epsilon(1e-6).scale(1e-7));
  CHECK(loss.item() == doctest::Approx(nll_loss(log_softmax(z.detach(), 1), classes).item()).epsilon(1e-6));
}
