// Q4 (does ReLU train faster?), Q5 (dead ReLUs) and Q3's training-time side,
// on the digits data (8x8 images, 10 classes).
//
// The race is a sweep: activation x learning rate x seed, one MLP, one
// optimizer, one batch order per seed; only the activation and the rate
// change. Each activation is initialized by its family's rule (Xavier for
// sigmoid and tanh, Kaiming for the ReLU family, both with PyTorch's gain)
// and compared at its own best rate (activation_race_report.cpp). Every run
// also counts dead units (output 0 on every training sample) over training,
// so Q5 reads where ReLU dies and where LeakyReLU diverges along the rates.
//
// --time measures instead the CPU time of one training step per activation
// (Q3), on one thread, into timing.json: timings vary from run to run, so
// they never mix with the sweep's deterministic results.
#include "activation_race.hpp"
#include "mlp.hpp"
#include "sweep.hpp"

#include <data/dataset.hpp>
#include <data/metrics.hpp>
#include <nn/optim.hpp>
#include <ops/loss.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#ifdef __SSE__
#include <xmmintrin.h>
#endif
#include <cmath>
#include <fstream>

#include <fmt/ranges.h>

using namespace ember;
using namespace ember::examples;
using namespace ember::examples::race;

namespace {

struct Data {
  Dataset train, test;
};

Data load(const Options& options) {
  Dataset all = load_csv(data_file(options, "digits.csv").string());
  Generator split_gen(options.seed);
  Split split = train_test_split(all, 0.2, split_gen);
  Standardizer scaler;  // constant pixels (always 0) stay exactly 0
  split.train.features = scaler.fit_transform(split.train.features);
  split.test.features = scaler.transform(split.test.features);
  return {split.train, split.test};
}

std::vector<Index> widths(const Data& d, const Config& c) {
  std::vector<Index> w{d.train.num_features()};
  w.insert(w.end(), c.hidden.begin(), c.hidden.end());
  w.push_back(d.train.num_classes());
  return w;
}

// The init rule of the activation's family, with PyTorch's gain for it.
Mlp make_model(const std::string& act, const Data& d, const Config& c, Generator& gen) {
  const bool saturating = act == "sigmoid" || act == "tanh";
  return Mlp(widths(d, c), act, saturating ? Init::xavier_uniform : Init::kaiming_normal, calculate_gain(act), gen);
}

// Dead: output exactly 0 on every training sample. Negative: pre-activation
// <= 0 on every training sample (for relu the same units; a leaky_relu unit
// there still passes 1% of its gradient and can come back).
RunRecord train(const std::string& act, double lr, std::uint64_t seed, const Data& data, const Config& config) {
  Generator init_gen(seed + 1), batch_gen(seed + 2);
  Mlp model = make_model(act, data, config, init_gen);
  SGDT<float> sgd(model.parameters(), {.lr = lr, .momentum = config.momentum});
  BatchIterator batches(data.train, config.batch_size, batch_gen);
  const int total_steps = config.epochs * int(batches.num_batches());
  RunRecord rec;
  Run& r = rec.run;
  r.activation = act;
  r.lr = lr;
  r.seed = seed;
  double train_seconds = 0;  // CPU time of the training steps only: evaluations are not part of the race
  int steps_run = 0;
  Batch batch;
  std::vector<HiddenLayer> hidden;
  auto diverge = [&](int step) { r.diverged = true, r.diverged_step = step; };
  for (int step = 0; step <= total_steps; ++step) {
    if (step % config.eval_every == 0 || step == total_steps) {
      NoGradGuard no_grad;
      CurvePoint p;
      p.step = step;
      p.loss = cross_entropy(model.forward(data.train.features, &hidden), data.train.labels).item();
      p.accuracy = accuracy(model.forward(data.test.features), data.test.labels);
      Index dead = 0, negative = 0, units = 0;
      for (const HiddenLayer& layer : hidden) {
        auto y = layer.pre.matrix().array();
        auto h = layer.post.matrix().array();
        const Index d = (h == 0.0f).colwise().all().count();
        dead += d;
        negative += (y <= 0.0f).colwise().all().count();
        units += h.cols();
        p.dead_per_layer.push_back(double(d) / double(h.cols()));
      }
      if (step == 0) r.initial_loss = p.loss;
      const bool blown = !std::isfinite(p.loss) || p.loss > config.blow_up * r.initial_loss;
      if (!blown) {
        if (std::isnan(r.steps_to_90) && p.accuracy >= 0.90) r.steps_to_90 = step;
        if (std::isnan(r.steps_to_95) && p.accuracy >= 0.95) r.steps_to_95 = step;
        r.final_accuracy = p.accuracy;
        r.final_loss = p.loss;
        r.dead = double(dead) / double(units);
        r.negative = double(negative) / double(units);
        r.dead_per_layer = p.dead_per_layer;
      }
      rec.curve.push_back(std::move(p));
      if (blown) {
        diverge(step);
        break;
      }
    }
    if (step == total_steps) break;
    CpuStopwatch watch;
    if (!batches.next(batch)) batches.next(batch);
    sgd.zero_grad();
    Tensor loss = cross_entropy(model.forward(batch.features), batch.labels);
    if (!std::isfinite(loss.item())) {
      diverge(step);
      break;
    }
    loss.backward();
    sgd.step();
    train_seconds += watch.seconds();
    ++steps_run;
  }
  if (!r.diverged && !(r.final_loss <= r.initial_loss)) diverge(total_steps);  // ended above where it started
  if (r.diverged) {
    r.final_accuracy = r.final_loss = r.dead = r.negative = NAN;
    r.dead_per_layer.clear();
  }
  r.ms_per_step = steps_run ? 1e3 * train_seconds / steps_run : NAN;
  return rec;
}

// Q3's training-time side: CPU ms per training step for each activation at
// the shared rate, first seed, serially on this thread; and, apart, the
// activation's own forward+backward on the step's hidden shapes ([batch,
// width] per hidden layer), to show its share of the step. Blocks of
// `steps` steps are interleaved across the activations (round after round),
// so a slow spell of a busy machine hits every activation alike; medians
// and min-max over the rounds.
int time_steps(const Options& options, const Config& config, const Data& data) {
  const int warmup = options.quick ? 20 : 100, steps = options.quick ? 50 : 200, rounds = options.quick ? 3 : 15;
  struct Timed {
    Timed(const std::string& name, const Data& data, const Config& config, std::uint64_t seed)
        : act(name), init_gen(seed + 1), batch_gen(seed + 2), model(make_model(name, data, config, init_gen)),
          sgd(model.parameters(), {.lr = config.shared_lr, .momentum = config.momentum}),
          batches(data.train, config.batch_size, batch_gen), fn(activation<float>(name)) {}
    std::string act;
    Generator init_gen, batch_gen;  // the iterator keeps a reference to its generator
    Mlp model;
    SGDT<float> sgd;
    BatchIterator batches;
    ActivationFn<float> fn;
    std::vector<Tensor> inputs, upstream;  // the activation alone, on the hidden shapes
    std::vector<double> step_ms, act_us, ftz_ms;  // ftz: subnormals flushed to zero
  };
  // `twin` trains identical copies with subnormals flushed to zero: their
  // own state, since a flushed momentum buffer stays flushed.
  std::vector<std::unique_ptr<Timed>> all, twin;
  Generator input_gen(options.seed + 3);
  for (const auto& act : config.activations) {
    auto t = std::make_unique<Timed>(act, data, config, options.seed);
    for (Index w : config.hidden) {
      t->inputs.push_back(Tensor::randn({config.batch_size, w}, input_gen).requires_grad_());
      t->upstream.push_back(Tensor::ones({config.batch_size, w}));
    }
    all.push_back(std::move(t));
    twin.push_back(std::make_unique<Timed>(act, data, config, options.seed));
  }
#ifdef __SSE__
  const unsigned int mxcsr = _mm_getcsr();
  auto flush = [&](bool on) { _mm_setcsr(on ? mxcsr | 0x8040u : mxcsr); };  // FTZ and DAZ, this thread only
#else
  auto flush = [](bool) {};
#endif
  Batch batch;
  auto step = [&](Timed& t) {
    if (!t.batches.next(batch)) t.batches.next(batch);
    t.sgd.zero_grad();
    cross_entropy(t.model.forward(batch.features), batch.labels).backward();
    t.sgd.step();
  };
  auto act_alone = [](Timed& t) {
    for (std::size_t l = 0; l < t.inputs.size(); ++l) t.fn(t.inputs[l]).backward(t.upstream[l]);
  };
  for (auto& t : all)
    for (int i = 0; i < warmup; ++i) step(*t), act_alone(*t);
  flush(true);
  for (auto& t : twin)
    for (int i = 0; i < warmup; ++i) step(*t);
  flush(false);
  for (int r = 0; r < rounds; ++r)
    for (std::size_t k = 0; k < all.size(); ++k) {
      Timed* t = all[k].get();
      CpuStopwatch watch;
      for (int i = 0; i < steps; ++i) step(*t);
      t->step_ms.push_back(1e3 * watch.seconds() / steps);
      CpuStopwatch act_watch;
      for (int i = 0; i < steps; ++i) act_alone(*t);
      t->act_us.push_back(1e6 * act_watch.seconds() / steps);
#ifdef __SSE__
      // The twin's steps with subnormal floats flushed to zero: what
      // subnormal arithmetic costs the step.
      flush(true);
      CpuStopwatch ftz_watch;
      for (int i = 0; i < steps; ++i) step(*twin[k]);
      t->ftz_ms.push_back(1e3 * ftz_watch.seconds() / steps);
      flush(false);
#endif
    }
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double relu_ms = NAN, relu_us = NAN, relu_ftz = NAN;
  for (auto& t : all)
    if (t->act == "relu")
      relu_ms = med(t->step_ms), relu_us = med(t->act_us), relu_ftz = t->ftz_ms.empty() ? NAN : med(t->ftz_ms);
  nlohmann::ordered_json out;
  out["steps_per_block"] = steps;
  out["rounds"] = rounds;
  out["lr"] = config.shared_lr;
  out["batch"] = config.batch_size;
  {  // the step's sizes, for the page: values the activations see, multiply-adds of the products
    const std::vector<Index> w = widths(data, config);
    std::string arch;
    Index hidden_values = 0, macs = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      arch += (i ? " → " : "") + std::to_string(w[i]);
      if (i > 0 && i + 1 < w.size()) hidden_values += config.batch_size * w[i];
      if (i + 1 < w.size()) macs += 3 * config.batch_size * w[i] * w[i + 1];  // forward, input and weight gradients
    }
    out["architecture"] = arch;
    out["hidden_values_per_step"] = hidden_values;
    out["multiply_adds_per_step"] = macs;
  }
  out["note"] = "CPU time of this thread; varies from run to run: not part of any page's staleness check";
  std::string table = "| activation | CPU ms per training step | min–max over rounds | × relu | the activation alone, "
                      "forward+backward, µs per step | × relu | share of the step | step with subnormals flushed "
                      "to zero, ms | × relu |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  heading("Q3: CPU time of one training step (forward, backward, SGD step), and of the activation alone in it");
  for (auto& t : all) {
    const double ms = med(t->step_ms), us = med(t->act_us), ftz = t->ftz_ms.empty() ? NAN : med(t->ftz_ms);
    const auto [lo, hi] = std::minmax_element(t->step_ms.begin(), t->step_ms.end());
    out["activations"][t->act] = {{"ms_per_step", ms}, {"min", *lo}, {"max", *hi}, {"vs_relu", ms / relu_ms},
                                  {"activation_us", us}, {"activation_vs_relu", us / relu_us},
                                  {"activation_share", us / (1e3 * ms)}, {"ms_per_step_ftz", ftz},
                                  {"ftz_vs_relu", ftz / relu_ftz}};
    table += fmt::format("| {} | {:.4f} | {:.4f}–{:.4f} | {:.2f}× | {:.2f} | {:.2f}× | {:.0f}% | {:.4f} | {:.2f}× |\n",
                         t->act, ms, *lo, *hi, ms / relu_ms, us, us / relu_us, 100 * us / (1e3 * ms), ftz,
                         ftz / relu_ftz);
    fmt::print("  {:<10} step {:.4f} ms ({:.4f}-{:.4f}), {:.2f}x relu; activation alone {:.2f} us ({:.0f}% of the step)\n",
               t->act, ms, *lo, *hi, ms / relu_ms, us, 100 * us / (1e3 * ms));
  }
  {
    // The verdict, from these numbers: the step ratios of sigmoid and tanh,
    // and the range of the activation's share of a step.
    double share_lo = 1, share_hi = 0;
    std::string share_lo_act, share_hi_act, ratios, ftz_ratios;
    for (auto& t : all) {
      const double share = med(t->act_us) / (1e3 * med(t->step_ms));
      if (share < share_lo) share_lo = share, share_lo_act = t->act;
      if (share > share_hi) share_hi = share, share_hi_act = t->act;
      if (t->act == "sigmoid" || t->act == "tanh")
      {
        ratios += fmt::format("{}{} {:.2f}×", ratios.empty() ? "" : ", ", t->act, med(t->step_ms) / relu_ms);
        if (!t->ftz_ms.empty())
          ftz_ratios += fmt::format("{}{} {:.2f}×", ftz_ratios.empty() ? "" : ", ", t->act, med(t->ftz_ms) / relu_ftz);
      }
    }
    out["verdict"] = fmt::format(
        "a whole training step costs, relative to relu's: {}; the activation's own forward+backward is {:.0f}% "
        "({}) to {:.0f}% ({}) of a step, the rest is the matrix products, the loss and the optimizer",
        ratios, 100 * share_lo, share_lo_act, 100 * share_hi, share_hi_act);
    if (!ftz_ratios.empty())
      out["verdict_ftz"] = fmt::format(
          "with subnormal floats flushed to zero (FTZ/DAZ) relu's step takes {:.2f}× its normal time, and the "
          "ratios become {}{}",
          relu_ftz / relu_ms, ftz_ratios,
          relu_ftz < 0.95 * relu_ms ? ": part of relu's step time is arithmetic on subnormal floats, not the "
                                      "activation itself (which values are subnormal was not traced)"
                                    : "");
    fmt::print("{}\n", out["verdict"].get<std::string>());
  }
  std::ofstream(options.out / "timing.json") << out.dump(2) << "\n";
  std::ofstream(options.out / "timing.md") << table;
  fmt::print("wrote {} and timing.md\n", (options.out / "timing.json").string());
  return 0;
}

}  // namespace

namespace ember::examples::race {

using json = nlohmann::ordered_json;

namespace {

json number(double v) { return std::isnan(v) ? json(nullptr) : json(v); }
double number_of(const json& j) { return j.is_null() ? NAN : j.get<double>(); }

}  // namespace

std::string serialize(const RunRecord& rec) {
  const Run& r = rec.run;
  json j = {{"activation", r.activation}, {"lr", r.lr}, {"seed", r.seed}, {"steps_to_90", number(r.steps_to_90)},
            {"steps_to_95", number(r.steps_to_95)}, {"final_accuracy", number(r.final_accuracy)},
            {"final_loss", number(r.final_loss)}, {"initial_loss", number(r.initial_loss)},
            {"diverged", r.diverged}, {"diverged_step", number(r.diverged_step)}, {"dead", number(r.dead)},
            {"negative", number(r.negative)}, {"dead_per_layer", r.dead_per_layer},
            {"ms_per_step", number(r.ms_per_step)}};
  json curve = json::array();
  for (const CurvePoint& p : rec.curve) curve.push_back({p.step, number(p.loss), number(p.accuracy), p.dead_per_layer});
  j["curve"] = curve;
  return j.dump();
}

RunRecord deserialize(const std::string& text) {
  const json j = json::parse(text);
  RunRecord rec;
  Run& r = rec.run;
  r.activation = j["activation"].get<std::string>();
  r.lr = j["lr"].get<double>();
  r.seed = j["seed"].get<std::uint64_t>();
  r.steps_to_90 = number_of(j["steps_to_90"]);
  r.steps_to_95 = number_of(j["steps_to_95"]);
  r.final_accuracy = number_of(j["final_accuracy"]);
  r.final_loss = number_of(j["final_loss"]);
  r.initial_loss = number_of(j["initial_loss"]);
  r.diverged = j["diverged"].get<bool>();
  r.diverged_step = number_of(j["diverged_step"]);
  r.dead = number_of(j["dead"]);
  r.negative = number_of(j["negative"]);
  r.dead_per_layer = j["dead_per_layer"].get<std::vector<double>>();
  r.ms_per_step = number_of(j["ms_per_step"]);
  for (const json& p : j["curve"])
    rec.curve.push_back({p[0].get<int>(), number_of(p[1]), number_of(p[2]), p[3].get<std::vector<double>>()});
  return rec;
}

}  // namespace ember::examples::race

int main(int argc, char** argv) {
  SweepEnvironment mpi(argc, argv);  // mpirun -np N activation_race: the grid points are split over the ranks
  CLI::App app{"Q4 and Q5 on the digits data: activations x learning rates x seeds, each activation at its best rate; "
               "dead ReLUs and diverging LeakyReLUs along the rates. --time: Q3's training-step timing"};
  Options options;
  Config config;
  int jobs = 1;
  bool time_mode = false;
  add_common_options(app, options, "activation_race", 42);
  add_sweep_options(app, jobs);
  app.add_option("--lrs", config.lrs, "The SGD learning rates of the sweep")->capture_default_str()->delimiter(',');
  app.add_option("--epochs", config.epochs, "Epochs of every run")->capture_default_str();
  app.add_option("--seeds", config.seeds, "Seeds per activation and rate (medians and min-max shown)")
      ->capture_default_str();
  app.add_flag("--time", time_mode, "Only time one training step per activation (Q3) into timing.json");
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {
    if (!app.count("--epochs")) config.epochs = 4;
    if (!app.count("--seeds")) config.seeds = 2;
    if (!app.count("--lrs")) config.lrs = {0.05, 0.3};
  }
  std::sort(config.lrs.begin(), config.lrs.end());

  try {
    prepare_run(options);
    Data data = load(options);
    if (time_mode) return is_root() ? time_steps(options, config, data) : 0;
    std::string arch = fmt::format("{}", data.train.num_features());
    for (Index h : config.hidden) arch += fmt::format(" -> {}", h);
    arch += fmt::format(" -> {}", data.train.num_classes());
    if (is_root())
      fmt::print("digits: {} train / {} test images, standardized on the train split; MLP {}, cross-entropy, SGD "
                 "momentum {}, batch {}, {} epochs; rates {}; {} seed(s) from {}; {} job(s)\n",
                 data.train.size(), data.test.size(), arch, config.momentum, config.batch_size, config.epochs,
                 fmt::join(config.lrs, ", "), config.seeds, options.seed, jobs);

    // The grid: activation x rate x seed, split over MPI ranks when launched
    // by mpirun, over --jobs threads within a process, and resumable
    // (sweep.hpp); the report reads the points in grid order.
    const std::string config_text = fmt::format(
        "activation_race v2 seed={} quick={} threads={} data={} lrs={} epochs={} seeds={} batch={} momentum={} "
        "hidden={} acts={} eval_every={} blow_up={}",
        options.seed, options.quick, options.threads, options.data.string(), fmt::join(config.lrs, ","),
        config.epochs, config.seeds, config.batch_size, config.momentum, fmt::join(config.hidden, "x"),
        fmt::join(config.activations, ","), config.eval_every, config.blow_up);
    const std::size_t n_lr = config.lrs.size(), n_seed = std::size_t(config.seeds);
    const std::size_t points = config.activations.size() * n_lr * n_seed;
    const std::vector<std::string> results =
        run_sweep("race", points, config_text, options.out, jobs, [&](std::size_t p) {
          const std::string& act = config.activations[p / (n_lr * n_seed)];
          const double lr = config.lrs[p / n_seed % n_lr];
          const std::uint64_t seed = options.seed + 100 * std::uint64_t(p % n_seed);
          return serialize(train(act, lr, seed, data, config));
        });
    if (!is_root()) return 0;  // rank 0 reports
    std::vector<RunRecord> records;
    records.reserve(results.size());
    for (const auto& text : results) records.push_back(deserialize(text));
    return report(options, config, records);
  } catch (const std::exception& e) {
    return fail("activation_race", e);
  }
}
