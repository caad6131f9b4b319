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
// the shared rate, first seed, serially on this thread (nothing else of
// this process runs meanwhile). Median of `reps` blocks of `steps` steps.
int time_steps(const Options& options, const Config& config, const Data& data) {
  const int warmup = options.quick ? 20 : 100, steps = options.quick ? 50 : 300, reps = options.quick ? 3 : 7;
  nlohmann::ordered_json out;
  out["steps_per_block"] = steps;
  out["blocks"] = reps;
  out["lr"] = config.shared_lr;
  out["batch"] = config.batch_size;
  std::string table = "| activation | CPU ms per training step (median) | min–max over blocks | vs relu |\n|---|---|---|---|\n";
  std::vector<std::pair<std::string, std::vector<double>>> per;
  for (const auto& act : config.activations) {
    Generator init_gen(options.seed + 1), batch_gen(options.seed + 2);
    Mlp model = make_model(act, data, config, init_gen);
    SGDT<float> sgd(model.parameters(), {.lr = config.shared_lr, .momentum = config.momentum});
    BatchIterator batches(data.train, config.batch_size, batch_gen);
    Batch batch;
    auto step = [&] {
      if (!batches.next(batch)) batches.next(batch);
      sgd.zero_grad();
      cross_entropy(model.forward(batch.features), batch.labels).backward();
      sgd.step();
    };
    for (int i = 0; i < warmup; ++i) step();
    std::vector<double> blocks;
    for (int b = 0; b < reps; ++b) {
      CpuStopwatch watch;
      for (int i = 0; i < steps; ++i) step();
      blocks.push_back(1e3 * watch.seconds() / steps);
    }
    std::sort(blocks.begin(), blocks.end());
    per.emplace_back(act, blocks);
  }
  double relu_ms = NAN;
  for (const auto& [act, b] : per)
    if (act == "relu") relu_ms = b[b.size() / 2];
  heading("Q3: CPU time of one training step (forward, backward, SGD step)");
  for (const auto& [act, b] : per) {
    const double med = b[b.size() / 2];
    out["activations"][act] = {{"ms_per_step", med}, {"min", b.front()}, {"max", b.back()}, {"vs_relu", med / relu_ms}};
    table += fmt::format("| {} | {:.4f} | {:.4f}–{:.4f} | {:.2f}× |\n", act, med, b.front(), b.back(), med / relu_ms);
    fmt::print("  {:<10} {:.4f} ms  ({:.4f}-{:.4f})  {:.2f}x relu\n", act, med, b.front(), b.back(), med / relu_ms);
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
