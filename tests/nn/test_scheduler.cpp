// Learning-rate schedules against PyTorch's formulas and results, their
// state out and in, and their errors.
#include <ember/ember.hpp>

#include <cmath>
#include <numbers>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

struct Fixture {
  Tensor64 p = Tensor64::scalar(0.0).requires_grad_();
  SGD64 opt{{p}, {.lr = 0.1}};
  explicit Fixture(double lr = 0.1) { opt.set_lr(lr); }
};

// The lr after construction, then after each of `steps` steps.
template <class S>
std::vector<double> lrs(Optimizer& opt, S& schedule, int steps) {
  std::vector<double> out{opt.lr()};
  for (int i = 0; i < steps; ++i) {
    schedule.step();
    out.push_back(opt.lr());
  }
  return out;
}

void check_close(const std::vector<double>& got, const std::vector<double>& expected, double eps = 1e-12) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(eps));
  }
}

}  // namespace

TEST_CASE("LinearLR: base·(start + (end - start)·min(e, total)/total)") {
  Fixture f;
  LinearLR schedule(f.opt, 0.25, 1.0, 4);
  std::vector<double> expected;
  for (int e = 0; e <= 6; ++e) expected.push_back(0.1 * (0.25 + 0.75 * std::min(e, 4) / 4.0));
  const auto got = lrs(f.opt, schedule, 6);
  check_close(got, expected);
  // torch.optim.lr_scheduler.LinearLR(SGD(lr=0.1), 0.25, 1.0, 4), torch 1.13 (its chained form rounds differently)
  check_close(got, {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1});
}

TEST_CASE("LambdaLR: base·f(epoch), f the caller's") {
  Fixture f;
  LambdaLR schedule(f.opt, [](int e) { return 1.0 / (1 + e); });
  check_close(lrs(f.opt, schedule, 4), {0.1, 0.05, 0.1 / 3, 0.025, 0.02});
  Fixture g;
  LambdaLR bad(g.opt, [](int e) { return e == 2 ? -1.0 : 1.0; });
  bad.step();
  CHECK_THROWS_WITH_SUBSTR(bad.step(), ValueError, "LambdaLR: the factor function gave -1 at epoch 2");
  CHECK(bad.last_epoch() == 1);  // the failed step changed nothing
  CHECK(g.opt.lr() == 0.1);
}

TEST_CASE("OneCycleLR: cosine up to max_lr, then down to max_lr/div/final_div") {
  Fixture f(0.5);
  OneCycleLR schedule(f.opt, 1.0, 10);
  // PyTorch's phases: up over steps [0, 0.3·10 - 1 = 2], down over [2, 9];
  // cos anneal from a to b at fraction t: b + (a - b)/2·(cos(πt) + 1).
  const double initial = 1.0 / 25, low = initial / 1e4;
  auto cos_anneal = [](double a, double b, double t) { return b + (a - b) / 2 * (std::cos(std::numbers::pi * t) + 1); };
  std::vector<double> expected;
  for (int s = 0; s <= 9; ++s)
    expected.push_back(s <= 2 ? cos_anneal(initial, 1.0, s / 2.0) : cos_anneal(1.0, low, (s - 2) / 7.0));
  const auto got = lrs(f.opt, schedule, 9);
  check_close(got, expected);
  // torch.optim.lr_scheduler.OneCycleLR(SGD(lr=0.5), max_lr=1, total_steps=10, cycle_momentum=False), torch 1.13
  check_close(got, {0.04, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893,
                    0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-06},
              1e-9);
  CHECK(schedule.base_lr() == initial);
  schedule.step();  // step 10 = total_steps is still allowed, as in PyTorch
  CHECK_THROWS_WITH_SUBSTR(schedule.step(), ValueError, "OneCycleLR: step 11 is outside the cycle of total_steps 10");
}

TEST_CASE("OneCycleLR: three phases, linear") {
  Fixture f(0.5);
  OneCycleLR schedule(f.opt, 2.0, 20, {.pct_start = 0.25, .cos_anneal = false, .div_factor = 10,
                                       .final_div_factor = 100, .three_phase = true});
  // torch.optim.lr_scheduler.OneCycleLR(SGD(lr=0.5), max_lr=2, total_steps=20, pct_start=0.25,
  // anneal_strategy='linear', three_phase=True, div_factor=10, final_div_factor=100, cycle_momentum=False)
  check_close(lrs(f.opt, schedule, 19),
              {0.2, 0.65, 1.1, 1.55, 2.0, 1.55, 1.1, 0.65, 0.2, 0.182, 0.164, 0.146, 0.128, 0.11, 0.092, 0.074, 0.056,
               0.038, 0.02, 0.002},
              1e-9);
}

TEST_CASE("SequentialLR: linear warmup, then cosine from the base lr") {
  Fixture f(1.0);
  auto warmup = std::make_shared<LinearLR>(f.opt, 0.1, 1.0, 3);
  auto cosine = std::make_shared<CosineAnnealingLR>(f.opt, 5, 0.01);
  SequentialLR schedule(f.opt, {warmup, cosine}, {3});
  std::vector<double> expected;
  for (int e = 0; e <= 10; ++e)
    expected.push_back(e < 3 ? 0.1 + 0.9 * e / 3.0
                             : 0.01 + 0.99 * (1 + std::cos(std::numbers::pi * (e - 3) / 5.0)) / 2);
  const auto got = lrs(f.opt, schedule, 10);
  check_close(got, expected);
  // torch.optim.lr_scheduler.SequentialLR(SGD(lr=1), [LinearLR(0.1, 1, 3), CosineAnnealingLR(5, 0.01)], [3])
  check_close(got, {0.1, 0.4, 0.7, 1.0, 0.905463412215599, 0.657963412215599, 0.352036587784401,
                    0.10453658778440104, 0.01, 0.104536587784401, 0.35203658778440117},
              1e-9);
  CHECK(schedule.kind() == "SequentialLR(LinearLR, CosineAnnealingLR)");
  CHECK(cosine->base_lr() == 1.0);  // the optimizer's initial lr, not the warmup's first value
}

TEST_CASE("ReduceLROnPlateau: min mode, relative threshold, cooldown") {
  Fixture f(1.0);
  ReduceLROnPlateau schedule(f.opt, {.factor = 0.5, .patience = 2, .threshold = 0.05, .cooldown = 1});
  const std::vector<double> metrics{10, 9, 9.5, 9.2, 9.1, 8.0, 8.5, 8.4, 8.3, 8.2, 8.1, 8.0};
  // torch.optim.lr_scheduler.ReduceLROnPlateau(SGD(lr=1), factor=0.5, patience=2, threshold=0.05, cooldown=1):
  // lr, num_bad_epochs, cooldown_counter after each step
  const std::vector<double> lr{1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25};
  const std::vector<int> bad{0, 0, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2}, cool{0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    CAPTURE(i);
    schedule.step(metrics[i]);
    CHECK(f.opt.lr() == lr[i]);
    CHECK(schedule.num_bad_epochs() == bad[i]);
    CHECK(schedule.cooldown_counter() == cool[i]);
  }
  CHECK(schedule.best() == 8.0);
}

TEST_CASE("ReduceLROnPlateau: max mode, absolute threshold, min_lr") {
  Fixture f(1.0);
  ReduceLROnPlateau schedule(f.opt, {.maximize = true, .factor = 0.5, .patience = 1, .threshold = 0.5,
                                     .relative_threshold = false, .min_lr = 0.3});
  // torch: ReduceLROnPlateau(mode='max', factor=0.5, patience=1, threshold=0.5, threshold_mode='abs', min_lr=0.3)
  const std::vector<double> metrics{1, 2, 2.2, 2.4, 3, 3.1, 3.2, 3.3}, lr{1, 1, 1, 0.5, 0.5, 0.5, 0.3, 0.3};
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    CAPTURE(i);
    schedule.step(metrics[i]);
    CHECK(f.opt.lr() == lr[i]);
  }
  CHECK(schedule.best() == 3.0);
  schedule.step(std::nan(""));  // NaN is never better
  CHECK(schedule.num_bad_epochs() == 0);  // that bad epoch reached patience: reduced (lr already at min_lr), reset
}

TEST_CASE("schedules: state out and in continues the same lrs") {
  auto run = [](auto make, int first, int second) {
    Fixture a(1.0);
    auto s = make(a.opt);
    for (int i = 0; i < first + second; ++i) s->step();
    Fixture b(1.0);
    auto t = make(b.opt);
    for (int i = 0; i < first; ++i) t->step();
    const SchedulerState state = t->state_dict();
    const OptimizerState<double> opt_state = b.opt.state_dict();
    Fixture c(1.0);
    auto u = make(c.opt);
    u->load_state_dict(state);
    c.opt.load_state_dict(opt_state);
    for (int i = 0; i < second; ++i) u->step();
    CHECK(u->last_epoch() == s->last_epoch());
    CHECK(c.opt.lr() == a.opt.lr());
  };
  run([](Optimizer& o) { return std::make_shared<StepLR>(o, 3, 0.5); }, 4, 3);
  run([](Optimizer& o) { return std::make_shared<LinearLR>(o, 0.2, 1.0, 10); }, 4, 3);
  run([](Optimizer& o) { return std::make_shared<LambdaLR>(o, [](int e) { return 0.9 + 0.01 * e; }); }, 4, 3);
  run([](Optimizer& o) { return std::make_shared<OneCycleLR>(o, 2.0, 12); }, 5, 6);
  run([](Optimizer& o) {
    return std::make_shared<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{
                                                 std::make_shared<LinearLR>(o, 0.1, 1.0, 3),
                                                 std::make_shared<CosineAnnealingLR>(o, 6)},
                                          std::vector<int>{3});
  }, 2, 5);
  // ReduceLROnPlateau's progress: best, bad epochs, cooldown
  Fixture a(1.0), b(1.0);
  ReduceLROnPlateau s(a.opt, {.patience = 1, .cooldown = 2});
  for (double m : {5.0, 4.0, 4.5, 4.6}) s.step(m);
  ReduceLROnPlateau t(b.opt, {.patience = 1, .cooldown = 2});
  t.load_state_dict(s.state_dict());
  CHECK(t.best() == 4.0);
  CHECK(t.cooldown_counter() == s.cooldown_counter());
  CHECK(t.num_bad_epochs() == s.num_bad_epochs());
  CHECK(t.last_epoch() == 4);
}

TEST_CASE("schedules: a state that does not fit is a one-line error and changes nothing") {
  Fixture f(1.0);
  StepLR step(f.opt, 3, 0.5);
  step.step();
  CosineAnnealingLR cosine(f.opt, 10);
  const SchedulerState state = step.state_dict();
  CHECK_THROWS_WITH_SUBSTR(cosine.load_state_dict(state), ValueError,
                           "CosineAnnealingLR.load_state_dict: the state is from \"StepLR\", not CosineAnnealingLR");
  StepLR other(f.opt, 4, 0.5);
  CHECK_THROWS_WITH_SUBSTR(other.load_state_dict(state), ValueError,
                           "StepLR.load_state_dict: step_size is 3 in the state, 4 in this schedule");
  CHECK(other.last_epoch() == 0);
  SchedulerState extra = state;
  extra.scalars["bogus"] = 1;
  CHECK_THROWS_WITH_SUBSTR(other.load_state_dict(extra), ValueError, "the state has the unexpected scalar \"bogus\"");
  SchedulerState missing = state;
  missing.scalars.erase("base_lr");
  StepLR same(f.opt, 3, 0.5);
  CHECK_THROWS_WITH_SUBSTR(same.load_state_dict(missing), ValueError,
                           "StepLR.load_state_dict: the state lacks the scalar \"base_lr\"");
  SchedulerState fractional = state;
  fractional.scalars["last_epoch"] = 2.5;
  CHECK_THROWS_WITH_SUBSTR(same.load_state_dict(fractional), ValueError, "last_epoch is 2.5, not an epoch count");
  CHECK(same.last_epoch() == 0);
  // a SequentialLR's children are part of its kind
  auto w = std::make_shared<LinearLR>(f.opt, 0.5, 1.0, 2);
  SequentialLR seq(f.opt, {w, std::make_shared<StepLR>(f.opt, 2)}, {2});
  auto w2 = std::make_shared<LinearLR>(f.opt, 0.5, 1.0, 2);
  SequentialLR seq2(f.opt, {w2, std::make_shared<CosineAnnealingLR>(f.opt, 2)}, {2});
  CHECK_THROWS_WITH_SUBSTR(seq2.load_state_dict(seq.state_dict()), ValueError,
                           "the state is from \"SequentialLR(LinearLR, StepLR)\", not SequentialLR(LinearLR, "
                           "CosineAnnealingLR)");
}

TEST_CASE("schedules: argument errors") {
  Fixture f;
  CHECK_THROWS_WITH_SUBSTR(LinearLR(f.opt, 0.0), ValueError, "LinearLR: start_factor must be in (0, 1], got 0");
  CHECK_THROWS_WITH_SUBSTR(LinearLR(f.opt, 0.5, 1.5), ValueError, "LinearLR: end_factor must be in [0, 1], got 1.5");
  CHECK_THROWS_WITH_SUBSTR(LinearLR(f.opt, 0.5, 1.0, 0), ValueError, "LinearLR: total_iters must be positive, got 0");
  CHECK_THROWS_WITH_SUBSTR(LambdaLR(f.opt, nullptr), ValueError, "LambdaLR: the factor function is empty");
  CHECK_THROWS_WITH_SUBSTR(OneCycleLR(f.opt, 0.0, 10), ValueError, "OneCycleLR: max_lr must be positive, got 0");
  CHECK_THROWS_WITH_SUBSTR(OneCycleLR(f.opt, 1.0, 0), ValueError, "OneCycleLR: total_steps must be positive, got 0");
  CHECK_THROWS_WITH_SUBSTR(OneCycleLR(f.opt, 1.0, 10, {.pct_start = 1.5}), ValueError,
                           "OneCycleLR: pct_start must be in [0, 1], got 1.5");
  CHECK_THROWS_WITH_SUBSTR(OneCycleLR(f.opt, 1.0, 3, {.pct_start = 0.3}), ValueError,
                           "OneCycleLR: phase 1 ends at step -0.1");
  CHECK_THROWS_WITH_SUBSTR(ReduceLROnPlateau(f.opt, {.factor = 1.0}), ValueError,
                           "ReduceLROnPlateau: factor must be in [0, 1), got 1");
  CHECK_THROWS_WITH_SUBSTR(ReduceLROnPlateau(f.opt, {.patience = -1}), ValueError,
                           "ReduceLROnPlateau: patience must be >= 0, got -1");
  auto a = std::make_shared<LinearLR>(f.opt, 0.5);
  CHECK_THROWS_WITH_SUBSTR(SequentialLR(f.opt, {a, a}, {}), ValueError, "SequentialLR: 2 schedules need 1 milestones, got 0");
  CHECK_THROWS_WITH_SUBSTR(SequentialLR(f.opt, {a, a, a}, {3, 3}), ValueError,
                           "SequentialLR: milestones must be positive and increasing, got 3 after 3");
  Fixture g;
  auto elsewhere = std::make_shared<StepLR>(g.opt, 2);
  CHECK_THROWS_WITH_SUBSTR(SequentialLR(f.opt, {a, elsewhere}, {2}), ValueError,
                           "SequentialLR: schedule 1 (StepLR) drives another optimizer");
}
