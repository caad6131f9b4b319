// Q4 (does ReLU train faster?), Q5 (dead ReLUs) and Q3's training-time side,
// on the digits data (8x8 images, 10 classes).
//
// The race: one MLP, one optimizer, one batch order; only the activation
// changes (sigmoid, tanh, relu, leaky_relu, elu, gelu), each initialized by
// its family's rule (Xavier for sigmoid and tanh, Kaiming for the ReLU
// family, both with PyTorch's gain for the activation). Steps and seconds to
// 90% and 95% test accuracy, and the final accuracy.
//
// Dead units: relu and leaky_relu at the race's learning rate and at a
// too-high one; the fraction of units that output zero on every training
// sample, per layer, over training.
#include "common.hpp"
#include "mlp.hpp"
#include "sweep.hpp"

#include <data/dataset.hpp>
#include <data/metrics.hpp>
#include <nn/optim.hpp>
#include <ops/loss.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/ranges.h>

using namespace ember;
using namespace ember::examples;

namespace {

struct Config {
  std::vector<std::string> activations{"sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"};
  std::vector<Index> hidden{128, 64};
  Index batch_size = 32;
  double lr = 0.05;
  double momentum = 0.9;
  int epochs = 20;
  int seeds = 3;
  int eval_every = 10;
  // Dead units: the race's lr against one far too high for it.
  double high_lr = 0.1;
  int dead_epochs = 20;
};

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

struct RaceResult {
  std::string activation;
  std::uint64_t seed = 0;
  int steps_to_90 = -1, steps_to_95 = -1;
  double seconds_to_90 = NAN, seconds_to_95 = NAN;
  double final_accuracy = 0, final_loss = 0;
  double seconds_per_step = 0;
};

RaceResult race(const std::string& act, std::uint64_t seed, const Data& data, const Config& config,
                std::string* curves) {
  Generator init_gen(seed + 1), batch_gen(seed + 2);
  Mlp model = make_model(act, data, config, init_gen);
  SGDT<float> sgd(model.parameters(), {.lr = config.lr, .momentum = config.momentum});
  BatchIterator batches(data.train, config.batch_size, batch_gen);
  const int total_steps = config.epochs * int(batches.num_batches());
  RaceResult r;
  r.activation = act;
  r.seed = seed;
  double train_seconds = 0;  // CPU time of the training steps only: evaluations are not part of the race
  Batch batch;
  for (int step = 0; step <= total_steps; ++step) {
    if (step % config.eval_every == 0 || step == total_steps) {
      NoGradGuard no_grad;
      double loss = cross_entropy(model.forward(data.train.features), data.train.labels).item();
      double acc = accuracy(model.forward(data.test.features), data.test.labels);
      if (curves) *curves += CsvWriter::line(act, step, train_seconds, loss, acc) + "\n";
      if (r.steps_to_90 < 0 && acc >= 0.90) r.steps_to_90 = step, r.seconds_to_90 = train_seconds;
      if (r.steps_to_95 < 0 && acc >= 0.95) r.steps_to_95 = step, r.seconds_to_95 = train_seconds;
      r.final_accuracy = acc;
      r.final_loss = loss;
    }
    if (step == total_steps) break;
    CpuStopwatch watch;
    if (!batches.next(batch)) batches.next(batch);
    sgd.zero_grad();
    cross_entropy(model.forward(batch.features), batch.labels).backward();
    sgd.step();
    train_seconds += watch.seconds();
  }
  r.seconds_per_step = train_seconds / total_steps;
  return r;
}

struct DeadResult {
  double final_dead = 0, peak_dead = 0, final_negative = 0, final_accuracy = 0;
  int diverged = 0;  // runs whose training loss stopped being finite
};

// Dead: output exactly 0 on every training sample. Negative: pre-activation
// <= 0 on every training sample (for relu the same thing; a leaky_relu unit
// there still passes 1% of its gradient and can come back).
DeadResult dead_units(const std::string& act, double lr, std::uint64_t seed, const Data& data, const Config& config,
                      std::string& rows) {
  Generator init_gen(seed + 1), batch_gen(seed + 2);
  Mlp model = make_model(act, data, config, init_gen);
  SGDT<float> sgd(model.parameters(), {.lr = lr, .momentum = config.momentum});
  BatchIterator batches(data.train, config.batch_size, batch_gen);
  const int total_steps = config.dead_epochs * int(batches.num_batches());
  DeadResult result;
  Batch batch;
  std::vector<HiddenLayer> hidden;
  for (int step = 0; step <= total_steps; ++step) {
    if (step % config.eval_every == 0 || step == total_steps) {
      NoGradGuard no_grad;
      model.forward(data.train.features, &hidden);
      Index dead = 0, negative = 0, units = 0;
      for (std::size_t l = 0; l < hidden.size(); ++l) {
        auto y = hidden[l].pre.matrix().array();
        auto h = hidden[l].post.matrix().array();
        const Index d = (h == 0.0f).colwise().all().count();
        const Index n = (y <= 0.0f).colwise().all().count();
        rows += CsvWriter::line(act, lr, seed, step, l + 1, double(d) / double(h.cols()), double(n) / double(y.cols())) +
                "\n";
        dead += d;
        negative += n;
        units += h.cols();
      }
      result.final_dead = double(dead) / double(units);
      result.final_negative = double(negative) / double(units);
      result.peak_dead = std::max(result.peak_dead, result.final_dead);
      if (step == total_steps) result.final_accuracy = accuracy(model.forward(data.test.features), data.test.labels);
    }
    if (step == total_steps) break;
    if (!batches.next(batch)) batches.next(batch);
    sgd.zero_grad();
    Tensor loss = cross_entropy(model.forward(batch.features), batch.labels);
    if (!std::isfinite(loss.item())) result.diverged = 1;
    loss.backward();
    sgd.step();
  }
  return result;
}

// A sweep point's result travels as text (sweep.hpp): its CSV rows, and
// for a race point first its race.csv row, which holds the whole RaceResult.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    lines.push_back(text.substr(pos, eol - pos));
    pos = eol == std::string::npos ? text.size() : eol + 1;
  }
  return lines;
}
std::vector<double> numbers_of(const std::string& line, std::size_t skip) {  // empty cell -> NaN
  std::vector<double> v;
  std::size_t pos = 0, field = 0;
  for (;;) {
    const std::size_t comma = line.find(',', pos);
    const std::string cell = line.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (field++ >= skip) v.push_back(cell.empty() ? NAN : std::stod(cell));
    if (comma == std::string::npos) return v;
    pos = comma + 1;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return NAN;
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string steps_text(double v) { return std::isinf(v) || std::isnan(v) ? std::string("never") : fixed(v, 0); }

std::string plot_script(const Config& config, std::uint64_t seed) {
  std::string s = gnuplot_preamble(1300, 550);
  s += fmt::format("normal_lr = {}\nhigh_lr = {}\nlayers = {}\nseed = {}\n", config.lr, config.high_lr,
                   config.hidden.size(), seed);
  s += R"gp(
acts = "sigmoid tanh relu leaky_relu elu gelu"
colors = "#d62728 #1f77b4 #2ca02c #ff7f0e #9467bd #8c564b"
set output 'race.png'
set multiplot layout 1,2 title 'The race on digits: same MLP, init rule per family, SGD with momentum, first seed'
set xlabel 'step'
set key bottom right
set title 'Test accuracy'
set ylabel 'test accuracy'
set yrange [0:1]
set ytics 0.1
plot 0.9 with lines dt 2 lc rgb '#999999' notitle, 0.95 with lines dt 3 lc rgb '#999999' notitle, \
  for [a=1:6] 'race_curves.csv' using (strcol(1) eq word(acts,a) ? $2 : NaN):5 \
  with lines lw 2 lc rgb word(colors,a) title word(acts,a)
set title 'Training loss'
set ylabel 'cross-entropy (log scale)'
set yrange [*:*]
set ytics auto
set logscale y
set format y '%.0e'
set key top right
plot for [a=1:6] 'race_curves.csv' using (strcol(1) eq word(acts,a) ? $2 : NaN):4 \
  with lines lw 2 lc rgb word(colors,a) title word(acts,a)
unset multiplot
unset logscale y
set format y '%g'

set terminal pngcairo size 1100,800 noenhanced font 'Sans,11'
set output 'dead_units.png'
set multiplot layout 2,2 title sprintf('Units that output 0 on every training sample (solid), and units negative on every sample (dashed); seed %d', seed)
stats 'dead_units.csv' using 6 nooutput
top = STATS_max
stats 'dead_units.csv' using 7 nooutput
top = (STATS_max > top ? STATS_max : top)
set yrange [0:(top > 0 ? 1.1 * top : 1)]
set ylabel 'fraction of the layer'
set key top left
dead_acts = "relu leaky_relu"
sel(a, lr) = strcol(1) eq a && abs($2 - lr) < 1e-9 && $3 == seed
do for [a=1:2] {
  do for [k=1:2] {
    lr = (k == 1 ? normal_lr : high_lr)
    set title sprintf('%s, lr %g', word(dead_acts,a), lr)
    plot for [l=1:layers] 'dead_units.csv' using (sel(word(dead_acts,a), lr) && $5 == l ? $4 : NaN):6 \
      with lines lw 2 lc l title sprintf('layer %d dead', l), \
      for [l=1:layers] 'dead_units.csv' using (sel(word(dead_acts,a), lr) && $5 == l ? $4 : NaN):7 \
      with lines lw 1 dt 2 lc l title sprintf('layer %d negative', l)
  }
}
unset multiplot
)gp";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  SweepEnvironment mpi(argc, argv);  // mpirun -np N activation_race: the grid points are split over the ranks
  CLI::App app{"Does ReLU train faster (Q4)? Dead ReLUs (Q5). Six activations race on the digits data"};
  Options options;
  Config config;
  add_common_options(app, options, "activation_race", 42);
  app.add_option("--lr", config.lr, "SGD learning rate of the race (and the normal rate of the dead-unit runs)")
      ->capture_default_str();
  app.add_option("--high-lr", config.high_lr, "The too-high learning rate of the dead-unit runs")->capture_default_str();
  app.add_option("--epochs", config.epochs, "Epochs of the race")->capture_default_str();
  app.add_option("--seeds", config.seeds, "Seeds per activation (the table shows medians)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {
    if (!app.count("--epochs")) config.epochs = 4;
    if (!app.count("--seeds")) config.seeds = 1;
    config.dead_epochs = 4;
  }

  try {
    prepare_run(options);
    Data data = load(options);
    std::string arch = fmt::format("{}", data.train.num_features());
    for (Index h : config.hidden) arch += fmt::format(" -> {}", h);
    arch += fmt::format(" -> {}", data.train.num_classes());
    if (is_root())
      fmt::print("digits: {} train / {} test images, standardized on the train split; MLP {}, cross-entropy, SGD lr {} "
               "momentum {}, batch {}, {} epochs, {} seed(s) from {}\n",
               data.train.size(), data.test.size(), arch, config.lr, config.momentum, config.batch_size,
               config.epochs, config.seeds, options.seed);

    // The grid: activation x seed, one point each, split over MPI ranks when
    // launched by mpirun and resumable (sweep.hpp); rank 0 writes the CSVs
    // in grid order.
    const std::string config_text =
        fmt::format("activation_race seed={} quick={} threads={} data={} lr={} high_lr={} epochs={} seeds={} "
                    "dead_epochs={} batch={} momentum={} hidden={} acts={}",
                    options.seed, options.quick, options.threads, options.data.string(), config.lr, config.high_lr,
                    config.epochs,
                    config.seeds, config.dead_epochs, config.batch_size, config.momentum, fmt::join(config.hidden, "x"),
                    fmt::join(config.activations, ","));
    const std::size_t n_race = config.activations.size() * std::size_t(config.seeds);
    const std::vector<std::string> race_points = run_sweep("race", n_race, config_text, options.out, [&](std::size_t p) {
      const std::string& act = config.activations[p / std::size_t(config.seeds)];
      const int s = int(p % std::size_t(config.seeds));
      const std::uint64_t seed = options.seed + 100 * std::uint64_t(s);
      std::string curves;
      RaceResult r = race(act, seed, data, config, s == 0 ? &curves : nullptr);
      return CsvWriter::line(act, seed, r.steps_to_90 < 0 ? NAN : double(r.steps_to_90), r.seconds_to_90,
                             r.steps_to_95 < 0 ? NAN : double(r.steps_to_95), r.seconds_to_95, r.final_accuracy,
                             1e3 * r.seconds_per_step) +
             "\n" + curves;
    });
    const std::vector<std::pair<std::string, double>> dead_grid = {
        {"relu", config.lr}, {"relu", config.high_lr}, {"leaky_relu", config.lr}, {"leaky_relu", config.high_lr}};
    const std::vector<std::string> dead_points =
        run_sweep("dead_units", dead_grid.size() * std::size_t(config.seeds), config_text, options.out, [&](std::size_t p) {
          const auto& [act, lr] = dead_grid[p / std::size_t(config.seeds)];
          const std::uint64_t seed = options.seed + 100 * std::uint64_t(p % std::size_t(config.seeds));
          std::string rows;
          const DeadResult r = dead_units(act, lr, seed, data, config, rows);
          return CsvWriter::line(r.final_dead, r.peak_dead, r.final_negative, r.final_accuracy, r.diverged) + "\n" +
                 rows;
        });
    if (!is_root()) return 0;  // rank 0 reports

    heading("The race: steps and seconds to 90% and 95% test accuracy");
    std::map<std::string, std::vector<double>> s90, s95, t90, t95, final_acc, per_step;
    {
      CsvWriter race_csv(options.out / "race.csv", {"activation", "seed", "steps_to_90", "seconds_to_90", "steps_to_95",
                                                    "seconds_to_95", "final_test_accuracy", "ms_per_step"});
      CsvWriter curves(options.out / "race_curves.csv", {"activation", "step", "seconds", "train_loss", "test_accuracy"});
      for (std::size_t p = 0; p < n_race; ++p) {
        const std::string& act = config.activations[p / std::size_t(config.seeds)];
        const std::vector<std::string> lines = lines_of(race_points[p]);
        race_csv.write_line(lines.at(0));
        for (std::size_t k = 1; k < lines.size(); ++k) curves.write_line(lines[k]);
        // steps_to_90, seconds_to_90, steps_to_95, seconds_to_95, final_test_accuracy, ms_per_step
        const std::vector<double> v = numbers_of(lines[0], 2);
        auto never = [](double x) { return std::isnan(x) ? std::numeric_limits<double>::infinity() : x; };
        s90[act].push_back(never(v[0]));
        t90[act].push_back(never(v[1]));
        s95[act].push_back(never(v[2]));
        t95[act].push_back(never(v[3]));
        final_acc[act].push_back(v[4]);
        per_step[act].push_back(v[5]);
      }
    }
    auto ms = [](double seconds) { return std::isinf(seconds) ? std::string("never") : fixed(1e3 * seconds, 1); };
    Table race_table({"activation", "steps to 90%", "CPU ms", "steps to 95%", "CPU ms", "final test acc",
                      "ms/step"});
    for (const auto& act : config.activations)
      race_table.add({act, steps_text(median(s90[act])), ms(median(t90[act])), steps_text(median(s95[act])),
                      ms(median(t95[act])), percent(median(final_acc[act])), fixed(median(per_step[act]), 3)});
    race_table.print();
    fmt::print("(medians over {} seed(s); accuracy checked every {} steps; CPU ms: CPU time of the training steps only, on "
               "this machine)\n",
               config.seeds, config.eval_every);

    heading("Dead units: relu and leaky_relu at a normal and a too-high learning rate");
    std::map<std::pair<std::string, double>, DeadResult> dead;
    {
      CsvWriter csv(options.out / "dead_units.csv", {"activation", "lr", "seed", "step", "layer", "dead_fraction",
                                                     "negative_fraction"});
      for (std::size_t g = 0; g < dead_grid.size(); ++g) {
        std::vector<DeadResult> runs;
        for (int s = 0; s < config.seeds; ++s) {
          const std::vector<std::string> lines = lines_of(dead_points[g * std::size_t(config.seeds) + std::size_t(s)]);
          const std::vector<double> v = numbers_of(lines.at(0), 0);
          runs.push_back({v[0], v[1], v[2], v[3], int(v[4])});
          for (std::size_t k = 1; k < lines.size(); ++k) csv.write_line(lines[k]);
        }
        auto med = [&](double DeadResult::*field) {
          std::vector<double> v;
          for (const auto& r : runs) v.push_back(r.*field);
          return median(v);
        };
        int diverged = 0;
        for (const auto& r : runs) diverged += r.diverged;
        dead[dead_grid[g]] = {med(&DeadResult::final_dead), med(&DeadResult::peak_dead),
                              med(&DeadResult::final_negative), med(&DeadResult::final_accuracy), diverged};
      }
    }
    Table dead_table({"activation", "lr", "dead at end", "peak dead", "negative at end", "final test acc"});
    for (const auto& [key, r] : dead)
      dead_table.add({key.first, fmt::format("{}", key.second), percent(r.final_dead), percent(r.peak_dead),
                      percent(r.final_negative), percent(r.final_accuracy)});
    dead_table.print();
    fmt::print("(dead: outputs 0 on every training sample; negative: pre-activation <= 0 on every training sample; "
               "over both hidden layers, {} epochs; medians over {} seed(s))\n",
               config.dead_epochs, config.seeds);

    heading("Verdicts");
    auto best_of = [&](const std::vector<std::string>& acts) {
      std::string best;
      for (const auto& a : acts)
        if (best.empty() || median(s95[a]) < median(s95[best])) best = a;
      return best;
    };
    const std::string best = best_of(config.activations);
    std::string fastest = best;  // every activation tied with the best, in list order
    for (const auto& a : config.activations)
      if (a != best && median(s95[a]) == median(s95[best])) fastest += " and " + a;
    const double relu95 = median(s95["relu"]), tanh95 = median(s95["tanh"]), sig95 = median(s95["sigmoid"]);
    fmt::print("Q4: to 95% test accuracy relu needs {} steps, tanh {}, sigmoid {} (fastest: {}, {} steps); "
               "relu is {} than tanh here{}.\n",
               steps_text(relu95), steps_text(tanh95), steps_text(sig95), fastest, steps_text(median(s95[best])),
               relu95 < tanh95 ? fmt::format("{:.1f}x faster", tanh95 / relu95)
                               : (relu95 == tanh95 ? "as fast" : fmt::format("{:.1f}x slower", relu95 / tanh95)),
               std::isinf(sig95) ? ", and sigmoid never gets there" : "");
    const double relu_ms = median(per_step["relu"]);
    std::string costs;
    bool close = true;
    for (const auto& act : config.activations) {
      const double ratio = median(per_step[act]) / relu_ms;
      costs += fmt::format("{}{} {} ({:.2f}x)", costs.empty() ? "" : ", ", act, fixed(median(per_step[act]), 3), ratio);
      if ((act == "sigmoid" || act == "tanh") && ratio > 1.25) close = false;
    }
    fmt::print("Q3 (training time): CPU ms per training step: {}. {}\n", costs,
               close ? "In a net this small the matrix products, not the activations, set the pace; the exp of "
                       "sigmoid and tanh is not what makes them slower to train."
                     : "The activation's own cost shows in the step time.");
    const DeadResult& relu_hi = dead[{"relu", config.high_lr}];
    const DeadResult& relu_lo = dead[{"relu", config.lr}];
    const DeadResult& leaky_hi = dead[{"leaky_relu", config.high_lr}];
    // A run whose loss overflowed says nothing about dead units: its units
    // hold NaN, which is neither zero nor negative.
    auto diverged = [&](const DeadResult& r) { return 2 * r.diverged > config.seeds; };
    auto diverged_text = [&](const DeadResult& r) {
      return fmt::format("diverged (training loss not finite) in {} of {} runs", r.diverged, config.seeds);
    };
    fmt::print("Q5: at lr {} {}, against {} at lr {}; leaky_relu at lr {}: {}.\n", config.high_lr,
               diverged(relu_hi) ? "relu " + diverged_text(relu_hi)
                                        : fmt::format("{} of relu units end dead (peak {})", percent(relu_hi.final_dead),
                                                      percent(relu_hi.peak_dead)),
               percent(relu_lo.final_dead), config.lr, config.high_lr,
               diverged(leaky_hi)
                   ? diverged_text(leaky_hi)
                   : fmt::format("{} dead, {} sitting on the negative side yet still learning ({} test accuracy vs "
                                 "relu's {})",
                                 percent(leaky_hi.final_dead), percent(leaky_hi.final_negative),
                                 percent(leaky_hi.final_accuracy), percent(relu_hi.final_accuracy)));

    render_plots(options, "activation_race", plot_script(config, options.seed));

    if (options.check) {
      heading("Checks");
      Checker check;
      check.expect_csv_header(options.out / "race.csv", "activation,seed,steps_to_90,seconds_to_90,steps_to_95,"
                                                        "seconds_to_95,final_test_accuracy,ms_per_step");
      check.expect_csv_header(options.out / "race_curves.csv", "activation,step,seconds,train_loss,test_accuracy");
      check.expect_csv_header(options.out / "dead_units.csv",
                              "activation,lr,seed,step,layer,dead_fraction,negative_fraction");
      check.expect(median(final_acc["relu"]) >= 0.9,
                   fmt::format("relu reaches {} >= 90% test accuracy", percent(median(final_acc["relu"]))));
      check.expect(median(s90["relu"]) <= median(s90["sigmoid"]),
                   fmt::format("relu reaches 90% no later than sigmoid ({} vs {} steps)", steps_text(median(s90["relu"])),
                               steps_text(median(s90["sigmoid"]))));
      check.expect(relu_hi.final_dead > relu_lo.final_dead,
                   fmt::format("a too-high lr kills more relu units ({} vs {})", percent(relu_hi.final_dead),
                               percent(relu_lo.final_dead)));
      check.expect(leaky_hi.final_dead == 0.0,
                   fmt::format("leaky_relu has no dead units ({})", percent(leaky_hi.final_dead)));
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    return fail("activation_race", e);
  }
  return 0;
}
