// Resumable training: 10 steps, save model + optimizer + schedule, load into
// fresh objects, 10 more steps — bit-identical to 20 uninterrupted steps;
// damaged or mismatched files are one-line errors that change nothing; a
// failed save keeps the previous file.
#include <ember/ember.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

#include "../temp_dir.hpp"
#include "../test_helpers.hpp"

using namespace ember;
namespace fs = std::filesystem;

using ember_test::TempDir;

namespace {


// A training run's objects: the model, its optimizer and schedule, and how
// the schedule is stepped (per optimizer step, some from the loss).
struct Run {
  Sequential model;
  std::unique_ptr<OptimizerT<float>> opt;
  std::shared_ptr<Scheduler> schedule;
  std::function<void(double loss)> step_schedule;
};

using Setup = std::function<void(Run&)>;

Run make_run(const Setup& setup, std::uint64_t seed) {
  Generator gen(seed);
  Run run{mlp({4, 8, 3}, "tanh", Init::xavier, gen), nullptr, nullptr, nullptr};
  setup(run);
  return run;
}

// A fixed batch per step: 6 samples drawn from a generator seeded by the step.
void train(Run& run, int first_step, int steps) {
  for (int s = first_step; s < first_step + steps; ++s) {
    Generator gen(1000 + static_cast<std::uint64_t>(s));
    const Tensor x = Tensor::randn({6, 4}, gen);
    const std::vector<Index> y{0, 1, 2, static_cast<Index>(s % 3), 1, 0};
    auto loss = cross_entropy(run.model(x), std::span<const Index>(y));
    run.opt->zero_grad();
    loss.backward();
    run.opt->step();
    run.step_schedule(loss.item());
  }
}

std::vector<std::vector<float>> values(const Sequential& model) {
  std::vector<std::vector<float>> out;
  for (const auto& p : model.parameters()) out.push_back(p.to_vector());
  return out;
}
std::vector<std::vector<float>> values(const Run& run) { return values(run.model); }

// Everything an optimizer holds, for "nothing changed" checks.
std::string dump(const OptimizerT<float>& opt) {
  const auto s = opt.state_dict();
  std::string out = s.kind;
  for (const auto& [k, v] : s.scalars) out += fmt::format(" {}={}", k, v);
  for (const auto& [n, t] : s.tensors)
    for (float x : t.to_vector()) out += fmt::format(" {}:{}", n, x);
  return out;
}

void check_resume(const Setup& setup) {
  Run reference = make_run(setup, 1);
  train(reference, 0, 20);

  TempDir dir;
  const std::string path = dir.file("run.safetensors");
  {
    Run first = make_run(setup, 1);
    train(first, 0, 10);
    // the schedule moves the lr across the break, so its state matters
    CHECK(first.opt->lr() != reference.opt->lr());
    save_training_state(path, first.model.named_parameters(), *first.opt, first.schedule.get(),
                        {.step = 10, .epoch = 2, .extra = {{"note", "ten steps"}}});
  }
  Run resumed = make_run(setup, 99);  // other initial values: the file must overwrite them all
  const TrainingProgress at =
      load_training_state(path, resumed.model.named_parameters(), *resumed.opt, resumed.schedule.get());
  CHECK(at.step == 10);
  CHECK(at.epoch == 2);
  CHECK(at.extra.at("note") == "ten steps");
  train(resumed, 10, 10);
  CHECK(values(resumed) == values(reference));  // bit-identical
  CHECK(resumed.opt->lr() == reference.opt->lr());
  CHECK(dump(*resumed.opt) == dump(*reference.opt));

  // The test can fail: the model alone, with a fresh optimizer and schedule, drifts.
  Run model_only = make_run(setup, 99);
  load_training_state(path, model_only.model.named_parameters(), *model_only.opt, model_only.schedule.get());
  setup(model_only);  // a fresh optimizer and schedule on the loaded model
  train(model_only, 10, 10);
  CHECK(values(model_only) != values(reference));
}

Setup sgd_onecycle = [](Run& r) {
  r.opt = std::make_unique<SGD>(r.model.parameters(), SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3});
  auto s = std::make_shared<OneCycleLR>(*r.opt, 0.5, 20);
  r.schedule = s;
  r.step_schedule = [s](double) { s->step(); };
};
Setup adam_warmup_cosine = [](Run& r) {
  r.opt = std::make_unique<Adam>(r.model.parameters(), AdamOptions{.lr = 0.05, .weight_decay = 1e-2});
  auto warmup = std::make_shared<LinearLR>(*r.opt, 0.1, 1.0, 5);
  auto cosine = std::make_shared<CosineAnnealingLR>(*r.opt, 15, 1e-3);
  auto s = std::make_shared<SequentialLR>(*r.opt, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine},
                                          std::vector<int>{5});
  r.schedule = s;
  r.step_schedule = [s](double) { s->step(); };
};
Setup adamw_lambda = [](Run& r) {
  r.opt = std::make_unique<AdamW>(r.model.parameters(), AdamWOptions{.lr = 0.02, .weight_decay = 0.1});
  auto s = std::make_shared<LambdaLR>(*r.opt, [](int step) { return 1.0 / (1.0 + 0.1 * step); });
  r.schedule = s;
  r.step_schedule = [s](double) { s->step(); };
};
Setup sgd_plateau = [](Run& r) {
  r.opt = std::make_unique<SGD>(r.model.parameters(), SGDOptions{.lr = 0.2, .momentum = 0.5, .nesterov = true});
  auto s = std::make_shared<ReduceLROnPlateau>(*r.opt, PlateauOptions{.factor = 0.5, .patience = 1, .cooldown = 1});
  r.schedule = s;
  r.step_schedule = [s](double loss) { s->step(loss); };
};

}  // namespace

TEST_CASE("resume: SGD with momentum and OneCycleLR, bit-identical to an uninterrupted run") {
  check_resume(sgd_onecycle);
}
TEST_CASE("resume: Adam with linear warmup then cosine, bit-identical to an uninterrupted run") {
  check_resume(adam_warmup_cosine);
}
TEST_CASE("resume: AdamW with LambdaLR, bit-identical to an uninterrupted run") { check_resume(adamw_lambda); }
TEST_CASE("resume: Nesterov SGD with ReduceLROnPlateau, bit-identical to an uninterrupted run") {
  check_resume(sgd_plateau);
}

TEST_CASE("resume: damaged or mismatched files are one-line IoErrors that change nothing") {
  TempDir dir;
  const std::string path = dir.file("run.safetensors");
  Run saved = make_run(adam_warmup_cosine, 1);
  train(saved, 0, 3);
  save_training_state(path, saved.model.named_parameters(), *saved.opt, saved.schedule.get(), {.step = 3});

  Run target = make_run(adam_warmup_cosine, 5);
  train(target, 0, 1);
  const auto model_before = values(target);
  const std::string opt_before = dump(*target.opt);
  const int epoch_before = target.schedule->last_epoch();
  const auto expect = [&](const std::string& file, Run& into, const std::string& fragment) {
    CAPTURE(fragment);
    bool thrown = false;
    try {
      load_training_state(file, into.model.named_parameters(), *into.opt, into.schedule.get());
    } catch (const IoError& e) {
      thrown = true;
      const std::string message = e.what();
      INFO("message: ", message);
      CHECK(message.find(fragment) != std::string::npos);
      CHECK(message.find('\n') == std::string::npos);
    }
    CHECK(thrown);
  };
  const auto unchanged = [&] {
    CHECK(values(target) == model_before);
    CHECK(dump(*target.opt) == opt_before);
    CHECK(target.schedule->last_epoch() == epoch_before);
  };

  SUBCASE("truncated file") {
    std::string bytes;
    {
      std::ifstream in(path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::string cut = dir.file("cut.safetensors");
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 10);
    expect(cut, target, "load_safetensors: " + cut + ": ");
    unchanged();
  }
  SUBCASE("a model of other shapes") {
    Generator gen(3);
    Run wide{mlp({4, 9, 3}, "tanh", Init::xavier, gen), nullptr, nullptr, nullptr};
    adam_warmup_cosine(wide);
    const auto before = values(wide);
    expect(path, wide, "load_training_state: " + path +
                           ": model tensor \"0.weight\" has shape [8x4] in the file, [9x4] in the model");
    CHECK(values(wide) == before);
  }
  SUBCASE("another optimizer kind") {
    Run sgd = make_run(sgd_onecycle, 5);
    train(sgd, 0, 1);
    const std::string before = dump(*sgd.opt);
    const auto model = values(sgd);
    expect(path, sgd, "load_training_state: " + path + ": SGD.load_state_dict: the state is from \"Adam\", not SGD");
    CHECK(dump(*sgd.opt) == before);
    CHECK(values(sgd) == model);
  }
  SUBCASE("an optimizer over fewer parameters") {
    auto params = target.model.parameters();
    Adam partial({params[0], params[1]}, {.lr = 0.05, .weight_decay = 1e-2});
    const std::string before = dump(partial);
    bool thrown = false;
    try {
      load_training_state(path, target.model.named_parameters(), partial, target.schedule.get());
    } catch (const IoError& e) {
      thrown = true;
      CHECK(std::string(e.what()).find("Adam.load_state_dict: the state holds 4 parameters, this optimizer 2") !=
            std::string::npos);
    }
    CHECK(thrown);
    CHECK(dump(partial) == before);
    unchanged();
  }
  SUBCASE("other hyperparameters") {
    Generator gen(5);
    Run other{mlp({4, 8, 3}, "tanh", Init::xavier, gen), nullptr, nullptr, nullptr};
    other.opt = std::make_unique<Adam>(other.model.parameters(), AdamOptions{.lr = 0.05, .eps = 1e-6});
    auto s = std::make_shared<LinearLR>(*other.opt, 0.1, 1.0, 5);
    other.schedule = s;
    expect(path, other, "Adam.load_state_dict: eps is 1e-08 in the state, 1e-06 in this optimizer");
  }
  SUBCASE("another schedule") {
    Generator gen(5);
    Run other{mlp({4, 8, 3}, "tanh", Init::xavier, gen), nullptr, nullptr, nullptr};
    other.opt = std::make_unique<Adam>(other.model.parameters(), AdamOptions{.lr = 0.05, .weight_decay = 1e-2});
    other.schedule = std::make_shared<CosineAnnealingLR>(*other.opt, 20);
    const auto model = values(other);
    expect(path, other,
           "CosineAnnealingLR.load_state_dict: the state is from \"SequentialLR(LinearLR, CosineAnnealingLR)\"");
    CHECK(values(other) == model);
    other.schedule = nullptr;
    expect(path, other, "the file holds a \"SequentialLR(LinearLR, CosineAnnealingLR)\" schedule's state");
  }
  SUBCASE("a plain checkpoint is not a training state") {
    const std::string plain = dir.file("plain.safetensors");
    save_safetensors(plain, target.model.named_parameters());
    expect(plain, target, "not a training state: no \"ember.format\" in the metadata");
    unchanged();
  }
  SUBCASE("a file of the other dtype") {
    auto p = Tensor64::zeros({2}).requires_grad_();
    SGD64 opt64({p});
    const std::string f64 = dir.file("f64.safetensors");
    save_training_state<double>(f64, {{"w", p}}, opt64);
    expect(f64, target, "is F64, but F32 was requested");
    unchanged();
  }
}

TEST_CASE("resume: a failed save keeps the previous file") {
  TempDir dir;
  const std::string path = dir.file("run.safetensors");
  Run run = make_run(sgd_onecycle, 1);
  train(run, 0, 2);
  save_training_state(path, run.model.named_parameters(), *run.opt, run.schedule.get(), {.step = 2});
  const auto saved = values(run);
  train(run, 2, 3);

  SUBCASE("a write fails midway (file size limit)") {
    // Writes past RLIMIT_FSIZE fail with EFBIG once SIGXFSZ is ignored; this works as root too.
    rlimit old_limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old_limit;
    small.rlim_cur = 256;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    bool thrown = false;
    try {
      save_training_state(path, run.model.named_parameters(), *run.opt, run.schedule.get(), {.step = 5});
    } catch (const IoError& e) {
      thrown = true;
      CHECK(std::string(e.what()).find("cannot write") != std::string::npos);
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    CHECK(thrown);
  }
  SUBCASE("the state cannot be gathered (an undefined model tensor)") {
    auto named = run.model.named_parameters();
    named.emplace_back("broken", Tensor{});
    CHECK_THROWS_WITH_SUBSTR(save_training_state(path, named, *run.opt, run.schedule.get()), ValueError,
                             "tensor \"model.broken\" is undefined");
  }
  CHECK(dir.entries() == 1);  // no temporary left behind
  Run back = make_run(sgd_onecycle, 7);
  const auto at = load_training_state(path, back.model.named_parameters(), *back.opt, back.schedule.get());
  CHECK(at.step == 2);
  CHECK(values(back) == saved);
}

TEST_CASE("resume: float64, no schedule; a schedule the file lacks is an error") {
  TempDir dir;
  const std::string path = dir.file("run64.safetensors");
  auto w = Tensor64::from({{1.0, -2.0}, {0.5, 3.0}}).requires_grad_();
  SGD64 opt({w}, {.lr = 0.3, .momentum = 0.8, .dampening = 0.1});
  auto step = [](Tensor64& p, SGD64& o) {
    auto loss = sum(square(p - 1.0));
    o.zero_grad();
    loss.backward();
    o.step();
  };
  step(w, opt);
  save_training_state<double>(path, {{"w", w}}, opt, nullptr, {.step = 1});
  step(w, opt);

  auto v = Tensor64::zeros({2, 2}).requires_grad_();
  SGD64 fresh({v}, {.lr = 0.3, .momentum = 0.8, .dampening = 0.1});
  StepLR schedule(fresh, 2);
  CHECK_THROWS_WITH_SUBSTR(load_training_state<double>(path, {{"w", v}}, fresh, &schedule), IoError,
                           "the file holds no schedule, but a StepLR was given to load into");
  CHECK(v.to_vector() == std::vector<double>(4, 0.0));
  CHECK_THROWS_WITH_SUBSTR(load_training_state<double>(path, {{"v", v}}, fresh), IoError,
                           "the file lacks the model tensor \"model.v\"");
  const auto at = load_training_state<double>(path, {{"w", v}}, fresh);
  CHECK(at.step == 1);
  CHECK(at.extra.empty());
  step(v, fresh);
  CHECK(v.to_vector() == w.to_vector());  // bit-identical
}

TEST_CASE("resume: a model with BatchNorm buffers, saved through state_dict(), continues bit-identically") {
  auto make = [](std::uint64_t seed) {
    Generator gen(seed);
    return Sequential(Linear(4, 8, gen), BatchNorm1d(8), Activation("tanh"), Linear(8, 3, gen));
  };
  auto step = [](Sequential& model, AdamW& opt, int s) {
    Generator gen(500 + static_cast<std::uint64_t>(s));
    const std::vector<Index> y{0, 1, 2, 1, 0, 2};
    auto loss = cross_entropy(model(Tensor::randn({6, 4}, gen)), std::span<const Index>(y));
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  Sequential reference = make(1);
  AdamW ref_opt(reference.parameters(), {.lr = 0.01});
  for (int s = 0; s < 20; ++s) step(reference, ref_opt, s);

  TempDir dir;
  const std::string path = dir.file("bn.safetensors");
  {
    Sequential first = make(1);
    AdamW opt(first.parameters(), {.lr = 0.01});
    for (int s = 0; s < 10; ++s) step(first, opt, s);
    save_training_state(path, first.state_dict(), opt);
  }
  Sequential resumed = make(2);
  AdamW opt(resumed.parameters(), {.lr = 0.01});
  load_training_state(path, resumed.state_dict(), opt);
  for (int s = 10; s < 20; ++s) step(resumed, opt, s);
  const auto a = reference.state_dict(), b = resumed.state_dict();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(a[i].second.to_vector() == b[i].second.to_vector());  // parameters and running statistics
  }
}
