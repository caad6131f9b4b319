// ops/activation: every activation against a long-double reference (values
// and derivatives, float and double), gradchecked at seeded random points on
// several shapes and at the edge values; NaN in gives NaN out; the kink
// conventions; the identities of SCIENCE.md; softmax/log_softmax along each
// axis; lookup by name and its error.
#include <ember/ember.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "../test_helpers.hpp"
#include "any_size.hpp"

using namespace ember;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
using L = long double;

// Stan's edge set, extended.
const std::vector<double> kEdges = {-1.3, 0.0, 0.49, 0.99, 1.01, 20, -20, 40, -40, 710, -710, kInf, -kInf, kNaN};

// The edges three times over: long enough for SIMD packets (16 floats, 8
// doubles) and a scalar tail.
std::vector<double> edge_values() {
  std::vector<double> v;
  for (int i = 0; i < 3; ++i) v.insert(v.end(), kEdges.begin(), kEdges.end());
  return v;
}

L sigmoid_ref(L x) { return 1 / (1 + std::exp(-x)); }
L phi_ref(L x) { return std::erfc(-x / std::sqrt(L(2))) / 2; }
// SELU's constants (Klambauer et al. 2017), to more digits than a double holds
constexpr L kSeluAlpha = 1.6732632423543772848170429916717L, kSeluScale = 1.0507009873554804934193349852946L;
constexpr L kGeluK = 0.79788456080286535587989211986876373L, kGeluC = 0.044715L;

struct Activation {
  std::string name;
  std::function<L(L)> value, slope;  // long-double reference and its derivative
  std::vector<double> kinks;         // where the derivative is a convention
  double at_inf[2], slope_at_inf[2]; // the limits at +inf and -inf
};

const std::vector<Activation> kActivations = {
    {"sigmoid", sigmoid_ref, [](L x) { return sigmoid_ref(x) * (1 - sigmoid_ref(x)); }, {}, {1, 0}, {0, 0}},
    {"tanh", [](L x) { return std::tanh(x); }, [](L x) { return 1 - std::tanh(x) * std::tanh(x); }, {}, {1, -1},
     {0, 0}},
    {"relu", [](L x) { return x > 0 ? x : 0; }, [](L x) -> L { return x > 0 ? 1 : 0; }, {0.0}, {kInf, 0}, {1, 0}},
    {"leaky_relu", [](L x) { return x > 0 ? x : L(0.01) * x; }, [](L x) { return x > 0 ? L(1) : L(0.01); }, {0.0},
     {kInf, -kInf}, {1, 0.01}},
    {"elu", [](L x) { return x > 0 ? x : std::expm1(x); }, [](L x) { return x > 0 ? L(1) : std::exp(x); }, {},
     {kInf, -1}, {1, 0}},
    {"gelu", [](L x) { return x * phi_ref(x); },
     [](L x) { return phi_ref(x) + x * std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi_v<L>); }, {},
     {kInf, 0}, {1, 0}},
    // x/2 (1 + tanh u) = x sigmoid(2u): the reference must not cancel either
    {"gelu_tanh", [](L x) { return x * sigmoid_ref(2 * kGeluK * (x + kGeluC * x * x * x)); },
     [](L x) {
       const L s = sigmoid_ref(2 * kGeluK * (x + kGeluC * x * x * x));
       return s + x * s * (1 - s) * 2 * kGeluK * (1 + 3 * kGeluC * x * x);
     },
     {}, {kInf, 0}, {1, 0}},
    {"silu", [](L x) { return x * sigmoid_ref(x); },
     [](L x) { return sigmoid_ref(x) * (1 + x * (1 - sigmoid_ref(x))); }, {}, {kInf, 0}, {1, 0}},
    {"softplus", [](L x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }, sigmoid_ref, {},
     {kInf, 0}, {1, 0}},
    {"centered_sigmoid", [](L x) { return std::tanh(x / 2) / 2; },
     [](L x) { return sigmoid_ref(x) * (1 - sigmoid_ref(x)); }, {}, {0.5, -0.5}, {0, 0}},
    {"identity", [](L x) { return x; }, [](L) { return L(1); }, {}, {kInf, -kInf}, {1, 1}},
    // PyTorch's definitions (torch.nn.functional docs), in long double
    {"log_sigmoid", [](L x) { return x < 0 ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x)); },
     [](L x) { return sigmoid_ref(-x); }, {}, {0, -kInf}, {0, 1}},
    {"hardtanh", [](L x) { return std::clamp(x, L(-1), L(1)); }, [](L x) -> L { return x > -1 && x < 1 ? 1 : 0; },
     {}, {1, -1}, {0, 0}},
    {"relu6", [](L x) { return std::clamp(x, L(0), L(6)); }, [](L x) -> L { return x > 0 && x < 6 ? 1 : 0; }, {0.0},
     {6, 0}, {0, 0}},
    {"hardsigmoid", [](L x) { return std::clamp(x / 6 + L(0.5), L(0), L(1)); },
     [](L x) -> L { return x > -3 && x < 3 ? L(1) / 6 : 0; }, {}, {1, 0}, {0, 0}},
    {"hardswish", [](L x) { return x <= -3 ? 0 : x >= 3 ? x : x * (x + 3) / 6; },
     [](L x) { return x < -3 ? L(0) : x > 3 ? L(1) : x / 3 + L(0.5); }, {}, {kInf, 0}, {1, 0}},
    {"selu", [](L x) { return x > 0 ? kSeluScale * x : kSeluScale * kSeluAlpha * std::expm1(x); },
     [](L x) { return x > 0 ? kSeluScale : kSeluScale * kSeluAlpha * std::exp(x); }, {0.0},
     {kInf, -static_cast<double>(kSeluScale) * static_cast<double>(kSeluAlpha)}, {static_cast<double>(kSeluScale), 0}},
    {"celu", [](L x) { return x > 0 ? x : std::expm1(x); }, [](L x) { return x > 0 ? L(1) : std::exp(x); }, {},
     {kInf, -1}, {1, 0}},
    {"mish", [](L x) { return x * std::tanh(std::log1p(std::exp(x))); },
     [](L x) {
       const L t = std::tanh(std::log1p(std::exp(x)));
       return t + x * (1 - t * t) * sigmoid_ref(x);
     },
     {}, {kInf, 0}, {1, 0}},
    {"softsign", [](L x) { return x / (1 + std::fabs(x)); }, [](L x) { return 1 / ((1 + std::fabs(x)) * (1 + std::fabs(x))); },
     {}, {1, -1}, {0, 0}},
    {"relu_squared", [](L x) { return x > 0 ? x * x : 0; }, [](L x) { return x > 0 ? 2 * x : 0; }, {}, {kInf, 0},
     {kInf, 0}},
};

bool close(double a, L ref, double atol, double rtol) {
  if (std::isinf(static_cast<double>(ref))) return a == static_cast<double>(ref);
  return std::fabs(a - static_cast<double>(ref)) <= atol + rtol * std::fabs(static_cast<double>(ref));
}

// Values and gradients (upstream ones) of the named activation at `xs`, in T.
template <class T>
std::pair<std::vector<double>, std::vector<double>> run(const std::string& name, const std::vector<double>& xs) {
  std::vector<T> in(xs.begin(), xs.end());
  auto x = TensorT<T>::from_data(in, {static_cast<Index>(in.size())}).requires_grad_();
  auto y = activation<T>(name)(x);
  y.backward(TensorT<T>::ones(y.shape()));
  std::vector<double> values, grads;
  for (T v : y.to_vector()) values.push_back(v);
  for (T g : x.grad().to_vector()) grads.push_back(g);
  return {values, grads};
}

std::vector<double> random_points(Generator& gen, int n, double scale) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(gen.normal(0, scale));
  return v;
}

Tensor64 vec(const std::vector<double>& v) { return Tensor64::from_data(v, {static_cast<Index>(v.size())}); }

}  // namespace

// --- values and derivatives against the reference ---------------------------

template <class T>
void check_against_reference(double atol, double rtol, double slope_atol, double slope_rtol) {
  Generator gen(7);
  std::vector<double> xs = random_points(gen, 200, 4);
  for (double e : kEdges)
    if (std::isfinite(e)) xs.push_back(e);
  for (auto& x : xs) x = static_cast<double>(static_cast<T>(x));  // the points T can hold
  for (const auto& act : kActivations) {
    INFO("activation ", act.name);
    const auto [values, grads] = run<T>(act.name, xs);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO("x = ", xs[i], " value ", values[i], " reference ", static_cast<double>(act.value(xs[i])));
      CHECK(close(values[i], static_cast<T>(act.value(xs[i])), atol, rtol));
      if (std::find(act.kinks.begin(), act.kinks.end(), xs[i]) != act.kinks.end()) continue;
      INFO("gradient ", grads[i], " reference ", static_cast<double>(act.slope(xs[i])));
      CHECK(close(grads[i], static_cast<T>(act.slope(xs[i])), slope_atol, slope_rtol));
    }
  }
}

TEST_CASE("activation: values and derivatives match a long-double reference, double") {
  check_against_reference<double>(1e-300, 1e-13, 1e-14, 1e-10);
}

TEST_CASE("activation: values and derivatives match a long-double reference, float") {
  check_against_reference<float>(1e-37, 1e-5, 1e-6, 1e-4);
}

// --- gradcheck --------------------------------------------------------------

TEST_CASE("activation: gradcheck at random points on several shapes") {
  Generator gen(11);
  const std::vector<Shape> shapes = {{}, {1}, {7}, {3, 4}, {2, 3, 5}};
  for (const auto& act : kActivations) {
    const auto f = activation<double>(act.name);
    for (const auto& s : shapes) {
      INFO("activation ", act.name, " shape ", s.str());
      CHECK(gradcheck([&](const auto& in) { return f(in[0]); }, {Tensor64::randn(s, gen, 0, 3)}));
    }
  }
}

TEST_CASE("activation: gradcheck at the edge values, skipping non-finite and kink points") {
  for (const auto& act : kActivations) {
    std::vector<double> xs;
    for (double x : edge_values())
      if (std::find(act.kinks.begin(), act.kinks.end(), x) == act.kinks.end()) xs.push_back(x);
    const auto f = activation<double>(act.name);
    INFO("activation ", act.name);
    const auto result = gradcheck([&](const auto& in) { return f(in[0]); }, {vec(xs)});
    CHECK(result);
    CHECK(result.compared > 0);
  }
}

// --- edge values: finite stays finite, NaN gives NaN, limits at infinity ---

template <class T>
void check_edges() {
  const std::vector<double> xs = edge_values();
  for (const auto& act : kActivations) {
    INFO("activation ", act.name, " in ", std::string(sizeof(T) == 4 ? "float" : "double"));
    const auto [values, grads] = run<T>(act.name, xs);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO("x = ", xs[i], " value ", values[i], " gradient ", grads[i]);
      if (std::isfinite(xs[i])) {
        CHECK(std::isfinite(values[i]));
        CHECK(std::isfinite(grads[i]));
      } else if (std::isnan(xs[i])) {
        CHECK(std::isnan(values[i]));
        CHECK(std::isnan(grads[i]) == (act.name != "identity"));  // identity' = 1 everywhere
      } else {
        const int side = xs[i] > 0 ? 0 : 1;
        CHECK(values[i] == static_cast<T>(act.at_inf[side]));
        CHECK(grads[i] == static_cast<T>(act.slope_at_inf[side]));
      }
    }
  }
}

TEST_CASE("activation: edge values, float and double") {
  check_edges<double>();
  check_edges<float>();
}

TEST_CASE("activation: infinities and other specials give the same value at every tensor size, float and double") {
  for (const auto& name : activation_names()) {
    edge::check_any_size<float>(name, activation<float>(name));
    edge::check_any_size<double>(name, activation<double>(name));
  }
}

TEST_CASE("activation: sigmoid at +-1000 is exactly 1 and 0 with zero gradient, float and double") {
  const auto [vd, gd] = run<double>("sigmoid", {1000, -1000});
  CHECK(vd == std::vector<double>{1, 0});
  CHECK(gd == std::vector<double>{0, 0});
  const auto [vf, gf] = run<float>("sigmoid", {1000, -1000});
  CHECK(vf == std::vector<double>{1, 0});
  CHECK(gf == std::vector<double>{0, 0});
  // and inside [0, 1] everywhere in between, in both tails at full precision
  Generator gen(3);
  const auto [v, g] = run<float>("sigmoid", random_points(gen, 1000, 300));
  for (double h : v) CHECK((h >= 0 && h <= 1));
  CHECK(run<double>("sigmoid", {-700}).first[0] == doctest::Approx(std::exp(-700.0)).epsilon(1e-13));
}

TEST_CASE("activation: softplus neither overflows nor loses its gradient in the lower tail") {
  for (double x : {100.0, 1000.0}) {
    CHECK(run<float>("softplus", {x}).first[0] == x);
    CHECK(run<double>("softplus", {x}).first[0] == x);
  }
  // the exact gradient sigmoid(x) ~ e^x, nonzero where 1 + e^x rounds to 1
  CHECK(run<double>("softplus", {-40}).second[0] == doctest::Approx(std::exp(-40.0)).epsilon(1e-14));
  CHECK(run<float>("softplus", {-40}).second[0] == doctest::Approx(std::exp(-40.0)).epsilon(1e-6));
  CHECK(run<float>("softplus", {-80}).second[0] > 0);
  CHECK(run<double>("softplus", {-700}).second[0] > 0);
}

// --- kink conventions, exactly ----------------------------------------------

TEST_CASE("activation: kink conventions at 0 are exact") {
  const std::vector<double> at = {0.0, -0.0};
  CHECK(run<double>("relu", at).second == std::vector<double>{0, 0});  // PyTorch, JAX, TensorFlow
  CHECK(run<float>("relu", at).second == std::vector<double>{0, 0});
  CHECK(run<double>("relu", at).first == std::vector<double>{0, 0});
  CHECK(run<double>("relu", {1e-300}).second[0] == 1);
  CHECK(run<double>("leaky_relu", at).second == std::vector<double>{0.01, 0.01});  // the slope, as in PyTorch
  CHECK(run<float>("leaky_relu", at).second == std::vector<double>{0.01f, 0.01f});
  auto x = Tensor64::from({0.0, -2.0, 3.0}).requires_grad_();
  leaky_relu(x, 0.2).backward(Tensor64::ones({3}));
  CHECK(x.grad().to_vector() == std::vector<double>{0.2, 0.2, 1.0});
  x.zero_grad();
  elu(x, 2.0).backward(Tensor64::ones({3}));  // alpha e^0 = alpha at 0
  CHECK(x.grad().to_vector() == std::vector<double>{2.0, 2.0 * std::exp(-2.0), 1.0});
  const auto e = elu(x, 2.0).to_vector();
  CHECK(e[0] == 0.0);
  CHECK(e[1] == doctest::Approx(2.0 * std::expm1(-2.0)).epsilon(1e-15));
  CHECK(e[2] == 3.0);
}

TEST_CASE("activation: gelu matches its known values, and the tanh form stays within 5e-4") {
  CHECK(gelu(Tensor64::scalar(1.0)).item() == doctest::Approx(0.8413447460685429).epsilon(1e-15));
  CHECK(gelu(Tensor64::scalar(1.0), GeluApproximation::tanh).item() ==
        doctest::Approx(0.8411919906082768).epsilon(1e-15));
  Generator gen(5);
  auto x = Tensor64::rand({200}, gen, -6, 6);
  auto diff = (gelu(x) - gelu(x, GeluApproximation::tanh)).to_vector();
  for (double d : diff) CHECK(std::fabs(d) < 5e-4);
}

TEST_CASE("activation: exact gelu keeps its relative precision deep in the lower tail, float and double") {
  for (const auto& [lowest, rtol, is_float] : {std::tuple{-12.5, 2e-6, true}, std::tuple{-37.0, 1e-13, false}}) {
    std::vector<double> xs;
    for (double x = lowest; x <= 5; x += 0.0625) xs.push_back(x);
    const auto [values, grads] = is_float ? run<float>("gelu", xs) : run<double>("gelu", xs);
    const auto& act = kActivations[5];
    REQUIRE(act.name == "gelu");
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO("x = ", xs[i], (is_float ? " float" : " double"));
      CHECK(values[i] == doctest::Approx(static_cast<double>(act.value(xs[i]))).epsilon(rtol));
      // The slope Phi(x) + x phi(x) is a difference near its root x = -0.75:
      // measure its error against the size of the two terms, not of the sum.
      const L x = xs[i], terms = phi_ref(x) + std::fabs(x) * std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi_v<L>);
      const double slack = static_cast<double>(terms) - std::fabs(static_cast<double>(act.slope(x)));
      CHECK(grads[i] == doctest::Approx(static_cast<double>(act.slope(x))).epsilon(rtol * 10).scale(slack + 1e-30));
    }
  }
}

// --- the identities of SCIENCE.md --------------------------------------------

TEST_CASE("activation: sigmoid' peaks at exactly 0.25 at 0, tanh'(0) is exactly 1") {
  CHECK(run<double>("sigmoid", {0}).second[0] == 0.25);
  CHECK(run<float>("sigmoid", {0}).second[0] == 0.25);
  CHECK(run<double>("tanh", {0}).second[0] == 1);
  CHECK(run<float>("tanh", {0}).second[0] == 1);
  std::vector<double> grid;
  for (int i = -400; i <= 400; ++i) grid.push_back(i * 0.025);
  for (double g : run<double>("sigmoid", grid).second) CHECK(g <= 0.25);
  for (double g : run<double>("tanh", grid).second) CHECK(g <= 1);
}

TEST_CASE("activation: sigmoid(y) - 1/2 = tanh(y/2)/2, and centered_sigmoid has the sigmoid's derivative") {
  Generator gen(13);
  auto y = Tensor64::randn({500}, gen, 0, 6);
  const auto lhs = (sigmoid(y) - 0.5).to_vector(), rhs = (tanh(y * 0.5) * 0.5).to_vector();
  const auto centered = centered_sigmoid(y).to_vector();
  for (std::size_t i = 0; i < lhs.size(); ++i) {
    CHECK(std::fabs(lhs[i] - rhs[i]) <= 2.3e-16);  // two ulp of 1/2: the subtraction's own rounding
    CHECK(centered[i] == doctest::Approx(rhs[i]).epsilon(1e-15));  // relative, also near 0
  }
  CHECK(centered_sigmoid(Tensor64::scalar(1e-300)).item() == 0.25e-300);  // no cancellation near 0
  // the same gradient bit for bit, in both precisions
  auto a = y.detach().requires_grad_(), b = y.detach().requires_grad_();
  sigmoid(a).backward(Tensor64::ones({500}));
  centered_sigmoid(b).backward(Tensor64::ones({500}));
  CHECK(a.grad().to_vector() == b.grad().to_vector());
  auto af = Tensor::randn({100}, gen, 0, 6).requires_grad_(), bf = af.detach().requires_grad_();
  sigmoid(af).backward(Tensor::ones({100}));
  centered_sigmoid(bf).backward(Tensor::ones({100}));
  CHECK(af.grad().to_vector() == bf.grad().to_vector());
}

// --- softmax and log_softmax ---------------------------------------------------

TEST_CASE("activation: softmax and log_softmax values along each axis") {
  auto x = Tensor64::from({{1.0, 2.0, 3.0}, {-1.0, 0.0, 1000.0}});
  auto p = softmax(x);
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  CHECK(p.at({0, 0}) == doctest::Approx(1 / z));
  CHECK(p.at({0, 2}) == doctest::Approx(std::exp(2.0) / z));
  CHECK(p.at({1, 2}) == 1.0);  // shifted by the max: no overflow at 1000
  CHECK(p.at({1, 0}) == 0.0);
  CHECK(log_softmax(x).at({1, 0}) == -1001.0);  // exact, where log(softmax) would be -inf
  CHECK(log_softmax(x).at({0, 1}) == doctest::Approx(2.0 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
  auto col = softmax(x, 0);
  CHECK(col.at({0, 0}) == doctest::Approx(std::exp(1.0) / (std::exp(1.0) + std::exp(-1.0))));
  CHECK(col.at({0, 2}) == 0.0);
  Generator gen(17);
  auto t = Tensor64::randn({2, 3, 4}, gen, 0, 5);
  for (int axis : {0, 1, 2, -1, -2}) {
    INFO("axis ", axis);
    auto s = softmax(t, axis), e = exp(log_softmax(t, axis));
    const int a = axis < 0 ? axis + 3 : axis;
    for (Index i = 0; i < 2; ++i)
      for (Index j = 0; j < 3; ++j)
        for (Index k = 0; k < 4; ++k) {
          CHECK(s.at({i, j, k}) == doctest::Approx(e.at({i, j, k})).epsilon(1e-13));
          if ((a == 0 && i == 0) || (a == 1 && j == 0) || (a == 2 && k == 0)) {
            double total = 0;
            for (Index m = 0; m < t.size(a); ++m)
              total += s.at({a == 0 ? m : i, a == 1 ? m : j, a == 2 ? m : k});
            CHECK(total == doctest::Approx(1.0).epsilon(1e-14));
          }
        }
  }
  CHECK(softmax(Tensor64::scalar(3.0)).item() == 1.0);
  CHECK(log_softmax(Tensor64::scalar(3.0)).item() == 0.0);
}

TEST_CASE("activation: softmax and log_softmax gradcheck along each axis") {
  Generator gen(19);
  struct Case {
    Shape shape;
    int axis;
  };
  for (const auto& c : std::vector<Case>{{{5}, 0}, {{3, 4}, -1}, {{3, 4}, 0}, {{2, 3, 4}, 1}, {{2, 3, 4}, 0},
                                         {{2, 3, 4}, 2}, {{}, -1}}) {
    INFO("shape ", c.shape.str(), " axis ", c.axis);
    auto x = Tensor64::randn(c.shape, gen, 0, 3);
    CHECK(gradcheck([&](const auto& in) { return softmax(in[0], c.axis); }, {x}));
    CHECK(gradcheck([&](const auto& in) { return log_softmax(in[0], c.axis); }, {x}));
  }
}

TEST_CASE("activation: empty tensors go through forward and backward") {
  for (const Shape& s : {Shape{0}, Shape{0, 3}, Shape{3, 0}}) {
    INFO("shape ", s.str());
    auto x = Tensor64::zeros(s).requires_grad_();
    for (const auto& name : activation_names()) {
      auto y = activation<double>(name)(x);
      CHECK(y.shape() == s);
      y.backward(Tensor64::zeros(s));
    }
    for (auto y : {softmax(x, 0), softmax(x, -1), log_softmax(x, 0), log_softmax(x, -1)}) {
      CHECK(y.shape() == s);
      y.backward(Tensor64::zeros(s));
    }
    CHECK(x.grad().numel() == 0);
  }
}

TEST_CASE("activation: softmax edge values: masked -inf gives 0, NaN poisons only its row") {
  auto x = Tensor64::from({{-kInf, 0.0, 0.0}, {1.0, kNaN, 2.0}, {710.0, -710.0, 40.0}});
  auto p = softmax(x).to_vector(), lp = log_softmax(x).to_vector();
  CHECK(p[0] == 0.0);
  CHECK(p[1] == 0.5);
  CHECK(lp[0] == -kInf);
  for (int j = 3; j < 6; ++j) CHECK(std::isnan(p[static_cast<std::size_t>(j)]));
  for (int j = 3; j < 6; ++j) CHECK(std::isnan(lp[static_cast<std::size_t>(j)]));
  for (int j = 6; j < 9; ++j) CHECK(std::isfinite(p[static_cast<std::size_t>(j)]));
  for (int j = 6; j < 9; ++j) CHECK(std::isfinite(lp[static_cast<std::size_t>(j)]));
  auto f = Tensor::from({{710.0f, -710.0f, 40.0f}, {-20.0f, 20.0f, 1.01f}}).requires_grad_();
  auto y = log_softmax(f);
  y.backward(Tensor::ones(y.shape()));
  for (float v : y.to_vector()) CHECK(std::isfinite(v));
  for (float g : f.grad().to_vector()) CHECK(std::isfinite(g));
  CHECK(y.at({0, 1}) == -1420.0f);
}

TEST_CASE("activation: softmax axis out of range is a clear error") {
  auto x = Tensor64::zeros({2, 3});
  CHECK_THROWS_WITH_SUBSTR(softmax(x, 2), ShapeError, "softmax: axis 2 is out of range for shape [2x3]");
  CHECK_THROWS_WITH_SUBSTR(log_softmax(x, -3), ShapeError, "log_softmax: axis -3 is out of range for shape [2x3]");
}

// --- lookup by name --------------------------------------------------------------

TEST_CASE("activation: lookup by name records a node named after the lookup name") {
  CHECK(activation_names().size() == kActivations.size());
  for (const auto& name : activation_names()) {
    INFO("name ", name);
    auto x = Tensor64::from({-1.0, 0.5}).requires_grad_();
    CHECK(std::string(activation<double>(name)(x).op()) == name);
    auto xf = Tensor::from({-1.0f, 0.5f}).requires_grad_();
    CHECK(std::string(activation<float>(name)(xf).op()) == name);
  }
  auto x = Tensor64::from({-2.0, 3.0});
  CHECK(activation<double>("leaky_relu")(x).to_vector() == leaky_relu(x, 0.01).to_vector());
  CHECK(activation<double>("elu")(x).to_vector() == elu(x, 1.0).to_vector());
  CHECK(activation<double>("gelu_tanh")(x).to_vector() == gelu(x, GeluApproximation::tanh).to_vector());
  CHECK(std::string(gelu(x.detach().requires_grad_(), GeluApproximation::tanh).op()) == "gelu_tanh");
}

TEST_CASE("activation: an unknown name is an error listing the valid names") {
  CHECK_THROWS_WITH_SUBSTR(activation<float>("sigmod"), ValueError,
                           "activation: unknown name 'sigmod'; valid names: sigmoid, tanh, relu, leaky_relu, elu, "
                           "gelu, gelu_tanh, silu, softplus, centered_sigmoid, identity");
  CHECK_THROWS_WITH_SUBSTR(activation<double>(""), ValueError, "activation: unknown name ''");
}
