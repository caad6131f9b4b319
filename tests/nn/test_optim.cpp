// Optimizers against hand-computed updates, schedules' values, clipping,
// argument errors, and no allocation per step.
#include <ember/ember.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>

#include "../test_helpers.hpp"

using namespace ember;

// Counts every operator new in this executable, to prove step() allocates
// nothing.
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

// Sets p's gradient to g (through a recorded product, as a loss would).
void set_grad(Tensor64 p, std::vector<double> g) {
  p.zero_grad();
  (p * Tensor64::from_data(g, p.shape())).backward(Tensor64::ones(p.shape()));
}

// Runs `steps` steps of opt on a scalar parameter with the given gradients.
template <class Opt, class Options>
std::vector<double> trajectory(double p0, const std::vector<double>& grads, Options options) {
  auto p = Tensor64::scalar(p0).requires_grad_();
  Opt opt({p}, options);
  std::vector<double> out;
  for (double g : grads) {
    set_grad(p, {g});
    opt.step();
    out.push_back(p.item());
  }
  return out;
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("SGD: plain steps p -= lr·g") {
  auto p = Tensor64::from({1.0, 2.0}).requires_grad_();
  SGD64 opt({p}, {.lr = 0.1});
  set_grad(p, {0.5, -1.0});
  opt.step();
  check_close(p.to_vector(), {0.95, 2.1});
  set_grad(p, {1.0, 1.0});
  opt.step();
  check_close(p.to_vector(), {0.85, 2.0});
}

TEST_CASE("SGD: momentum, dampening, nesterov, weight decay by hand") {
  // buf = g on step 1, then 0.9·buf + g; p -= 0.1·buf
  check_close(trajectory<SGD64>(1.0, {1, 1, 1}, SGDOptions{.lr = 0.1, .momentum = 0.9}), {0.9, 0.71, 0.439});
  // dampening does not apply to the first step: buf = 1, then 0.9 + 0.5·1
  check_close(trajectory<SGD64>(1.0, {1, 1}, SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.5}),
              {0.9, 0.76});
  // nesterov: p -= 0.1·(g + 0.9·buf): 1 - 0.19, then buf = 1.9, 0.81 - 0.1·2.71
  check_close(trajectory<SGD64>(1.0, {1, 1}, SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}),
              {0.81, 0.539});
  // weight decay: g = 1 + 0.1·p: 2 - 0.1·1.2, then 1.88 - 0.1·1.188
  check_close(trajectory<SGD64>(2.0, {1, 1}, SGDOptions{.lr = 0.1, .weight_decay = 0.1}), {1.88, 1.7612});
  // momentum with weight decay: g1 = 1.2, buf = 1.2, p = 1.88; g2 = 1.188, buf = 0.5·1.2 + 1.188
  check_close(trajectory<SGD64>(2.0, {1, 1}, SGDOptions{.lr = 0.1, .momentum = 0.5, .weight_decay = 0.1}),
              {1.88, 1.88 - 0.1 * (0.6 + 1.188)});
}

TEST_CASE("SGD: a parameter without a gradient is skipped") {
  auto a = Tensor64::scalar(1.0).requires_grad_();
  auto b = Tensor64::scalar(1.0).requires_grad_();
  SGD64 opt({a, b}, {.lr = 0.5, .momentum = 0.9});
  set_grad(a, {1.0});
  opt.step();
  CHECK(a.item() == 0.5);
  CHECK(b.item() == 1.0);
  set_grad(b, {1.0});  // b's momentum buffer starts now, at g
  opt.step();
  CHECK(b.item() == 0.5);
}

TEST_CASE("Adam: bias-corrected steps by hand") {
  // m̂ = m/(1-β1^t), v̂ = v/(1-β2^t), p -= lr·m̂/(sqrt(v̂)+eps); values from the textbook formula
  check_close(trajectory<Adam64>(1.0, {2, -1, 0.5}, AdamOptions{.lr = 0.1}),
              {0.9000000005, 0.8733662967024315, 0.8393233821389426});
  check_close(trajectory<Adam64>(1.0, {2, -1, 0.5}, AdamOptions{.lr = 0.1, .betas = {0.5, 0.9}, .eps = 0.1}),
              {0.9047619047619048, 0.9047619047619048, 0.883948826237378});
  // Without bias correction the first step would be 0.1·0.2/sqrt(0.004) ≈ 0.316, not 0.1.
}

TEST_CASE("Adam: weight decay enters the gradient (L2)") {
  check_close(trajectory<Adam64>(1.0, {2, -1, 0.5}, AdamOptions{.lr = 0.1, .weight_decay = 0.1}),
              {0.9000000004761904, 0.8681231891743804, 0.8283762644332224});
}

TEST_CASE("AdamW: weight decay is decoupled from the moments") {
  check_close(trajectory<AdamW64>(1.0, {2, -1, 0.5}, AdamWOptions{.lr = 0.1, .weight_decay = 0.1}),
              {0.8900000004999999, 0.8544662966974315, 0.8118787191669683});
  // With a zero gradient AdamW only shrinks p by (1 - lr·wd); Adam's L2 would
  // move p by about lr through the moments.
  check_close(trajectory<AdamW64>(2.0, {0, 0}, AdamWOptions{.lr = 0.1, .weight_decay = 0.5}), {1.9, 1.805});
  const auto adam = trajectory<Adam64>(2.0, {0}, AdamOptions{.lr = 0.1, .weight_decay = 0.5});
  CHECK(adam[0] == doctest::Approx(1.9).epsilon(1e-6));  // ≈ p - lr·sign(wd·p)
  CHECK(AdamWOptions{}.weight_decay == 1e-2);
  CHECK(AdamOptions{}.weight_decay == 0);
}

TEST_CASE("optimizers: float parameters follow the double ones") {
  auto pf = Tensor::from({1.0f, -2.0f}).requires_grad_();
  auto pd = Tensor64::from({1.0, -2.0}).requires_grad_();
  Adam of({pf}, {.lr = 0.01});
  Adam64 od({pd}, {.lr = 0.01});
  for (int i = 0; i < 3; ++i) {
    pf.zero_grad();
    (pf * Tensor::from({0.5f, 3.0f})).backward(Tensor::ones({2}));
    set_grad(pd, {0.5, 3.0});
    of.step();
    od.step();
  }
  CHECK(pf.to_vector()[0] == doctest::Approx(pd.to_vector()[0]).epsilon(1e-6));
  CHECK(pf.to_vector()[1] == doctest::Approx(pd.to_vector()[1]).epsilon(1e-6));
}

TEST_CASE("optimizers: zero_grad zeroes every parameter's gradient and keeps the buffer") {
  auto a = Tensor64::from({1.0, 2.0}).requires_grad_();
  auto b = Tensor64::scalar(3.0).requires_grad_();
  SGD64 opt({a, b});
  set_grad(a, {1.0, 2.0});
  set_grad(b, {4.0});
  const double* buffer = a.grad_values().data();
  opt.zero_grad();
  CHECK(a.grad().to_vector() == std::vector<double>{0.0, 0.0});
  CHECK(b.grad().item() == 0.0);
  CHECK(a.grad_values().data() == buffer);
}

TEST_CASE("optimizers: step() allocates nothing") {
  Generator gen(1);
  auto w = Tensor::randn({64, 32}, gen).requires_grad_();
  auto b = Tensor::randn({64}, gen).requires_grad_();
  w.zero_grad();
  (w * 2.0f).backward(Tensor::ones({64, 32}));
  (b * 2.0f).backward(Tensor::ones({64}));
  SGD sgd({w, b}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true});
  Adam adam({w, b});
  AdamW adamw({w, b});
  std::vector<Optimizer*> all{&sgd, &adam, &adamw};
  for (Optimizer* opt : all) opt->step();  // first steps may set up state
  const long before = g_allocations.load();
  for (int i = 0; i < 10; ++i)
    for (Optimizer* opt : all) opt->step();
  CHECK(g_allocations.load() == before);
}

TEST_CASE("StepLR: lr = base·gamma^(epoch/step_size)") {
  auto p = Tensor64::scalar(0.0).requires_grad_();
  SGD64 opt({p}, {.lr = 1.0});
  StepLR schedule(opt, 2, 0.5);
  std::vector<double> lrs{opt.lr()};
  for (int e = 0; e < 5; ++e) {
    schedule.step();
    lrs.push_back(opt.lr());
  }
  check_close(lrs, {1.0, 1.0, 0.5, 0.5, 0.25, 0.25});
  CHECK(schedule.last_epoch() == 5);
  CHECK(schedule.last_lr() == 0.25);
  CHECK(schedule.base_lr() == 1.0);
}

TEST_CASE("CosineAnnealingLR: half a cosine from base to eta_min over t_max epochs") {
  auto p = Tensor64::scalar(0.0).requires_grad_();
  Adam64 opt({p}, {.lr = 1.0});
  CosineAnnealingLR schedule(opt, 4, 0.1);
  std::vector<double> lrs{opt.lr()};
  for (int e = 0; e < 5; ++e) {
    schedule.step();
    lrs.push_back(opt.lr());
  }
  const double c = 0.45 * (1 + std::sqrt(0.5));  // (1-0.1)/2·(1+cos(π/4))
  check_close(lrs, {1.0, 0.1 + c, 0.55, 0.1 + 0.9 - c, 0.1, 0.1 + 0.9 - c});  // rises after t_max, as PyTorch
  CHECK(schedule.lr_at(2) == doctest::Approx(0.55));
}

TEST_CASE("schedules drive the lr that step() uses") {
  auto p = Tensor64::scalar(1.0).requires_grad_();
  SGD64 opt({p}, {.lr = 1.0});
  StepLR schedule(opt, 1, 0.5);
  schedule.step();  // lr 0.5
  set_grad(p, {1.0});
  opt.step();
  CHECK(p.item() == 0.5);
}

TEST_CASE("clip_grad_norm: scales to max_norm over all parameters, returns the norm before") {
  auto a = Tensor64::scalar(0.0).requires_grad_();
  auto b = Tensor64::scalar(0.0).requires_grad_();
  auto none = Tensor64::scalar(0.0).requires_grad_();  // no gradient: skipped
  set_grad(a, {3.0});
  set_grad(b, {4.0});
  CHECK(clip_grad_norm<double>({a, b, none}, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad().item() == 3.0);  // below max_norm: untouched
  CHECK(clip_grad_norm<double>({a, b, none}, 1.0) == doctest::Approx(5.0));
  CHECK(a.grad().item() == doctest::Approx(3.0 / (5.0 + 1e-6)).epsilon(1e-12));
  CHECK(b.grad().item() == doctest::Approx(4.0 / (5.0 + 1e-6)).epsilon(1e-12));
  CHECK_FALSE(none.has_grad());
  CHECK(clip_grad_norm<double>({a, b}, std::numeric_limits<double>::infinity()) == doctest::Approx(1.0));
}

TEST_CASE("clip_grad_norm: a non-finite norm is reported, gradients left alone") {
  auto a = Tensor64::from({1.0, 2.0}).requires_grad_();
  set_grad(a, {std::nan(""), 1.0});
  CHECK(std::isnan(clip_grad_norm<double>({a}, 1.0)));
  CHECK(a.grad().to_vector()[1] == 1.0);
  CHECK_THROWS_WITH_SUBSTR(clip_grad_norm<double>({a}, -1.0), ValueError,
                           "clip_grad_norm: max_norm must be >= 0, got -1");
}

TEST_CASE("optimizers: argument errors") {
  auto p = Tensor64::scalar(1.0).requires_grad_();
  CHECK_THROWS_WITH_SUBSTR(SGD64({p}, {.lr = -0.1}), ValueError, "SGD: learning rate must be >= 0, got -0.1");
  CHECK_THROWS_WITH_SUBSTR(SGD64({p}, {.momentum = -1}), ValueError, "SGD: momentum must be >= 0, got -1");
  CHECK_THROWS_WITH_SUBSTR(SGD64({p}, {.nesterov = true}), ValueError,
                           "SGD: nesterov needs momentum > 0 and dampening 0, got momentum 0 and dampening 0");
  CHECK_THROWS_WITH_SUBSTR(SGD64({p}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}), ValueError,
                           "dampening 0.1");
  CHECK_THROWS_WITH_SUBSTR(SGD64({p}, {.weight_decay = -1}), ValueError, "SGD: weight_decay must be >= 0");
  CHECK_THROWS_WITH_SUBSTR(Adam64({p}, {.betas = {1.0, 0.999}}), ValueError, "Adam: beta1 must be in [0, 1), got 1");
  CHECK_THROWS_WITH_SUBSTR(AdamW64({p}, {.betas = {0.9, -0.1}}), ValueError,
                           "AdamW: beta2 must be in [0, 1), got -0.1");
  CHECK_THROWS_WITH_SUBSTR(Adam64({p}, {.eps = -1}), ValueError, "Adam: eps must be >= 0");
  CHECK_THROWS_WITH_SUBSTR(AdamW64({p}, {.lr = std::nan("")}), ValueError, "AdamW: learning rate must be >= 0, got nan");
  CHECK_THROWS_WITH_SUBSTR(SGD64({p, p}), ValueError, "SGD: a parameter appears more than once");
  CHECK_THROWS_WITH_SUBSTR(Adam64({p, p * 2.0}), ValueError,
                           "Adam: parameter 1 of shape [] is the output of 'mul_scalar', not a leaf");
  CHECK_THROWS_WITH_SUBSTR(SGD64({Tensor64{}}), ValueError, "SGD: parameter 0 is an undefined tensor");
  SGD64 opt({p});
  CHECK_THROWS_WITH_SUBSTR(opt.set_lr(-1), ValueError, "SGD: learning rate must be >= 0");
  CHECK_THROWS_WITH_SUBSTR(StepLR(opt, 0), ValueError, "StepLR: step_size must be positive, got 0");
  CHECK_THROWS_WITH_SUBSTR(CosineAnnealingLR(opt, -2), ValueError, "CosineAnnealingLR: t_max must be positive, got -2");
}

TEST_CASE("optimizers: a parameter that does not require grad is a ValueError") {
  auto frozen = Tensor64::zeros({2, 3});
  auto trained = Tensor64::zeros({3}).requires_grad_();
  CHECK_THROWS_WITH_SUBSTR(SGD64({trained, frozen}, {.lr = 0.1}), ember::ValueError,
                           "SGD: parameter 1 of shape [2x3] does not require grad");
  CHECK_THROWS_WITH_SUBSTR(ember::AdamT<double>({frozen}, {}), ember::ValueError, "does not require grad");
}
