// Q6: which activation suits 1.58-bit (ternary) weights? MLPs on the digits
// and breast-cancer data, each hidden layer either a full-precision linear
// map or a BitLinear (BitNet b1.58: RMSNorm, int8 activations, absmean
// ternary weights, straight-through estimator), for relu, relu_squared,
// swiglu, silu, gelu, tanh and sigmoid over several seeds. Both precisions
// share the architecture (parameter-free RMSNorm before each hidden layer,
// no hidden bias; a full-precision output layer, as BitNet keeps its head),
// so the gap between them is the quantization alone.
//
// Measured: test accuracy and the fp32 -> ternary gap per activation; the
// fraction of ternary weights that are 0 and how it moves during training;
// activation sparsity (exact zeros, and int8 codes that are 0 at the next
// layer's input); per-layer gradient norms through the STE; test accuracy
// across Adam learning rates. After training, every ternary model is packed
// (2 bits a weight) and run through the add/subtract kernel: its test
// predictions must be the training forward's.
//
// Outputs in --out: runs.csv, curves.csv, table.md, summary.json, PNGs.
#include <ember/ember.hpp>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <sstream>
#include <tuple>
#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "common.hpp"

using namespace ember;
using namespace ember::examples;

namespace {

const std::vector<std::string> kActivations = {"relu", "relu_squared", "swiglu", "silu", "gelu", "tanh", "sigmoid"};

struct Config {
  Index hidden = 64;   // swiglu: 2/3 of it per half (LLaMA's rule), so its layer has as many weights
  int layers = 2;     // hidden layers
  int batch = 32;
  int seeds = 5;
  int epochs_digits = 20, epochs_cancer = 40;
  double lr = 3e-3;                                  // Adam
  std::vector<double> lrs = {3e-4, 1e-3, 3e-3, 1e-2, 3e-2};  // the sensitivity sweep (digits)
  int sweep_seeds = 5;
  int evals = 10;  // curve points per run
  int jobs = 0;    // 0: every core
};

struct Data {
  std::string name;
  Dataset train, test;
  int epochs = 0;
};

Data load(const Options& options, const std::string& name, const std::string& file, int epochs) {
  Dataset all = load_csv(data_file(options, file).string());
  Generator split_gen(options.seed);
  Split split = train_test_split(all, 0.2, split_gen);
  Standardizer scaler;
  split.train.features = scaler.fit_transform(split.train.features);
  split.test.features = scaler.transform(split.test.features);
  return {name, split.train, split.test, epochs};
}

struct Model {
  std::string activation;
  bool ternary = false;
  std::vector<Tensor> weights;  // hidden layers, [out, in], no bias
  Tensor head_w, head_b;        // full-precision output layer

  Model(const std::string& act, bool bit, Index in, Index classes, const Config& c, Generator& gen)
      : activation(act), ternary(bit) {
    const bool gated = act == "swiglu";
    const Index width = gated ? c.hidden * 2 / 3 : c.hidden;
    for (int l = 0; l < c.layers; ++l) {
      auto w = Tensor::empty({gated ? 2 * width : width, l == 0 ? in : width});
      init::layer_(w, Tensor{}, Init::standard, gen);
      weights.push_back(w.requires_grad_());
    }
    head_w = Tensor::empty({classes, width});
    head_b = Tensor::empty({classes});
    init::layer_(head_w, head_b, Init::standard, gen);
    head_w.requires_grad_();
    head_b.requires_grad_();
  }
  std::vector<Tensor> parameters() const {
    auto p = weights;
    p.push_back(head_w);
    p.push_back(head_b);
    return p;
  }
  Tensor act(const Tensor& y) const { return activation == "swiglu" ? swiglu(y) : ember::activation<float>(activation)(y); }
  // logits; `hidden` receives each hidden layer's output H
  Tensor forward(const Tensor& x, std::vector<Tensor>* hidden = nullptr) const {
    Tensor h = x;
    for (const auto& w : weights) {
      h = act(ternary ? bitlinear(h, w) : linear(rms_normalize(h), w));
      if (hidden) hidden->push_back(h);
    }
    return linear(h, head_w, head_b);
  }
  // The same forward through packed weights and the add/subtract kernel (ternary models).
  Tensor forward_packed(const Tensor& x) const {
    Tensor h = x;
    for (const auto& w : weights) h = act(ternary_linear(h, pack_ternary(quantize_ternary(w))));
    return linear(h, head_w, head_b);
  }
};

double zero_weight_fraction(const Model& m) {
  double zeros = 0, n = 0;
  for (const auto& w : m.weights) {
    const auto q = quantize_ternary(w);
    zeros += double(std::count(q.values.begin(), q.values.end(), std::int8_t(0)));
    n += double(q.values.size());
  }
  return zeros / n;
}

struct Run {
  std::string dataset, activation;
  bool ternary = false;
  double lr = 0;
  std::uint64_t seed = 0;
  double accuracy = NAN, train_loss = NAN, zero_weights_init = NAN, zero_weights = NAN;
  double act_zero = NAN, int8_zero = NAN;  // exact zeros of H; int8 codes 0 at the next layer's input
  std::vector<double> grad_norm;           // per hidden layer, mean over training steps
  bool diverged = false;
  bool packed_agrees = true;
  double packed_max_diff = 0;
  std::string curves;  // CSV rows
};

Run train(const Data& d, const std::string& act, bool bit, double lr, std::uint64_t seed, const Config& c,
          bool with_curves) {
  Generator init_gen(seed * 7919 + 1), batch_gen(seed * 7919 + 2);
  Model m(act, bit, d.train.num_features(), d.train.num_classes(), c, init_gen);
  AdamT<float> adam(m.parameters(), {.lr = lr});
  BatchIterator batches(d.train, c.batch, batch_gen);
  const int total = d.epochs * int(batches.num_batches());
  const int every = std::max(1, total / c.evals);
  Run r;
  r.dataset = d.name;
  r.activation = act;
  r.ternary = bit;
  r.lr = lr;
  r.seed = seed;
  r.zero_weights_init = zero_weight_fraction(m);
  r.grad_norm.assign(m.weights.size(), 0.0);
  Batch batch;
  for (int step = 0; step < total; ++step) {
    if (!batches.next(batch)) batches.next(batch);
    adam.zero_grad();
    Tensor loss = cross_entropy(m.forward(batch.features), batch.labels);
    if (!std::isfinite(loss.item())) {
      r.diverged = true;
      break;
    }
    loss.backward();
    std::vector<double> norms;
    for (std::size_t l = 0; l < m.weights.size(); ++l) {
      const double g = std::sqrt(double(m.weights[l].grad().values().square().sum()));
      r.grad_norm[l] += g / total;
      norms.push_back(g);
    }
    adam.step();
    if (with_curves && (step % every == 0 || step == total - 1))
      for (std::size_t l = 0; l < m.weights.size(); ++l) {
        const auto q = quantize_ternary(m.weights[l]);
        const double z = double(std::count(q.values.begin(), q.values.end(), std::int8_t(0))) / double(q.values.size());
        r.curves += CsvWriter::line(d.name, act, bit ? "ternary" : "fp32", seed, step + 1, int(l + 1), z, norms[l]) + "\n";
      }
  }
  NoGradGuard no_grad;
  std::vector<Tensor> hidden;
  const Tensor logits = m.forward(d.test.features, &hidden);
  r.accuracy = r.diverged ? NAN : accuracy(logits, d.test.labels);
  r.train_loss = r.diverged ? NAN : cross_entropy(m.forward(d.train.features), d.train.labels).item();
  r.zero_weights = zero_weight_fraction(m);
  double zeros = 0, codes = 0, n = 0, ncodes = 0;
  for (std::size_t l = 0; l < hidden.size(); ++l) {
    zeros += double((hidden[l].values() == 0.0f).count());
    n += double(hidden[l].numel());
    const auto q = quantize_int8(rms_normalize(hidden[l]));
    codes += double(std::count(q.values.begin(), q.values.end(), std::int8_t(0)));
    ncodes += double(q.values.size());
  }
  r.act_zero = zeros / n;
  r.int8_zero = codes / ncodes;
  if (bit && !r.diverged) {
    const Tensor packed = m.forward_packed(d.test.features);
    // relative to the largest logit: a float rounding difference in layer 1 can move an int8 code of layer 2 by one
    double scale = 0;
    for (Index i = 0; i < logits.numel(); ++i) scale = std::max(scale, double(std::abs(logits.data()[i])));
    for (Index i = 0; i < packed.numel(); ++i)
      r.packed_max_diff = std::max(r.packed_max_diff, double(std::abs(packed.data()[i] - logits.data()[i])) / scale);
    r.packed_agrees = predict_classes(packed) == predict_classes(logits);
  }
  return r;
}

struct Job {
  const Data* data;
  std::string act;
  bool bit;
  double lr;
  std::uint64_t seed;
  bool curves;
};

// The runs on `threads` threads, each run on one core; results in job order,
// identical to a serial run (every run has its own generators).
std::vector<Run> run_all(const std::vector<Job>& jobs, const Config& config, int threads) {
  std::vector<Run> out(jobs.size());
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex print;
  auto worker = [&]() {
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    for (std::size_t i; (i = next++) < jobs.size();) {
      const Job& j = jobs[i];
      out[i] = train(*j.data, j.act, j.bit, j.lr, j.seed, config, j.curves);
      const std::size_t k = ++done;
      std::lock_guard lock(print);
      fmt::print("\r  {}/{} runs", k, jobs.size());
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  fmt::print("\n");
  return out;
}

}  // namespace

namespace {

struct Stats {
  double mean = NAN, min = NAN, max = NAN;
  int diverged = 0, n = 0;
};
Stats stats(const std::vector<double>& v) {
  Stats s;
  std::vector<double> f;
  for (double x : v) {
    ++s.n;
    if (std::isfinite(x)) f.push_back(x);
    else ++s.diverged;
  }
  if (f.empty()) return s;
  s.mean = 0;
  for (double x : f) s.mean += x / double(f.size());
  s.min = *std::min_element(f.begin(), f.end());
  s.max = *std::max_element(f.begin(), f.end());
  return s;
}

const char* prec(bool bit) { return bit ? "ternary" : "fp32"; }

// The runs of one (dataset, activation, precision, lr) over seeds.
std::vector<const Run*> select(const std::vector<Run>& runs, const std::string& data, const std::string& act, bool bit,
                               double lr) {
  std::vector<const Run*> out;
  for (const auto& r : runs)
    if (r.dataset == data && r.activation == act && r.ternary == bit && r.lr == lr) out.push_back(&r);
  return out;
}
template <class F>
Stats over(const std::vector<const Run*>& rs, F f) {
  std::vector<double> v;
  for (const Run* r : rs) v.push_back(f(*r));
  return stats(v);
}
nlohmann::json json_stats(const Stats& s) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"mean", num(s.mean)}, {"min", num(s.min)}, {"max", num(s.max)}, {"diverged", s.diverged}, {"runs", s.n}};
}

std::string plot_script(const std::vector<std::string>& datasets, const std::vector<double>& lrs) {
  std::string s = gnuplot_preamble(1000, 560);
  for (const auto& d : datasets) {
    s += fmt::format(R"gp(
set output 'accuracy-{0}.png'
set title 'Test accuracy on {0}: fp32 vs ternary (BitLinear), mean over seeds, bars min-max'
set style fill solid 0.7 border -1
set boxwidth 0.36
set ylabel 'test accuracy'
set key outside right top
set yrange [*:1.0]
set xrange [-0.6:6.6]
set grid ytics
plot 'accuracy_{0}.csv' skip 1 using ($0-0.19):3:xtic(2) with boxes title 'fp32', \
     '' skip 1 using ($0-0.19):3:4:5 with yerrorbars lc rgb 'black' pt 0 notitle, \
     '' skip 1 using ($0+0.19):6 with boxes title 'ternary', \
     '' skip 1 using ($0+0.19):6:7:8 with yerrorbars lc rgb 'black' pt 0 notitle
unset xrange
unset yrange
)gp",
                     d);
  }
  s += R"gp(
set output 'zero-weights.png'
set title 'Fraction of ternary weights that are 0 during training (digits, BitLinear, mean of seeds and layers)'
set xlabel 'step'
set ylabel 'fraction of weights = 0'
set key outside right top
set grid
plot for [a in "relu relu_squared swiglu silu gelu tanh sigmoid"] 'curves_mean.csv' using (strcol(2) eq a && strcol(3) eq 'ternary' ? $4 : 1/0):5 with linespoints pt 7 ps 0.6 title a

set output 'grad-norms.png'
set title 'Gradient norm of each hidden layer through the STE (digits, BitLinear, mean of seeds)'
set ylabel '||dL/dW|| (log)'
set logscale y
acts = "relu relu_squared swiglu sigmoid"
plot for [i=1:4] 'curves_mean.csv' using (strcol(2) eq word(acts, i) && strcol(3) eq 'ternary' ? $4 : 1/0):6 with lines lc i lw 2 title word(acts, i).' layer 1', \
     for [i=1:4] 'curves_mean.csv' using (strcol(2) eq word(acts, i) && strcol(3) eq 'ternary' ? $4 : 1/0):7 with lines lc i dt 2 lw 2 title word(acts, i).' layer 2'
unset logscale y

set output 'sparsity.png'
set title 'Activation sparsity, digits test set, BitLinear nets'
set style fill solid 0.7 border -1
set boxwidth 0.36
set ylabel 'fraction'
unset xlabel
set yrange [0:1]
set xrange [-0.6:6.6]
plot 'sparsity.csv' skip 1 using ($0-0.19):2:xtic(1) with boxes title 'H exactly 0', \
     '' skip 1 using ($0+0.19):3 with boxes title 'int8 code 0 at the next layer'
unset xrange
unset yrange

LR_PLOT
set output 'lr.png'
set title 'Test accuracy vs Adam learning rate (digits, mean of seeds): fp32 dashed, ternary solid'
set xlabel 'learning rate'
set ylabel 'test accuracy'
set logscale x
all = "relu relu_squared swiglu silu gelu tanh sigmoid"
plot for [i=1:7] 'lr_sweep.csv' using (strcol(1) eq word(all, i) && strcol(2) eq 'ternary' ? $3 : 1/0):4 with linespoints lc i lw 2 pt 7 title word(all, i), \
     for [i=1:7] 'lr_sweep.csv' using (strcol(1) eq word(all, i) && strcol(2) eq 'fp32' ? $3 : 1/0):4 with linespoints lc i dt 2 pt 6 notitle
)gp";
  const std::size_t at = s.find("LR_PLOT");
  s = lrs.empty() ? s.substr(0, at) : s.erase(at, 8);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Q6: which activation suits BitNet b1.58's ternary weights? fp32 vs BitLinear MLPs on digits and "
               "breast cancer"};
  Options options;
  Config config;
  add_common_options(app, options, "bitnet_activations", 42);
  app.add_option("--seeds", config.seeds, "Seeds per activation and precision")->capture_default_str();
  app.add_option("--lr", config.lr, "Adam learning rate of the main runs")->capture_default_str();
  app.add_option("--jobs", config.jobs, "Runs in parallel (0: every core)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {
    if (!app.count("--seeds")) config.seeds = 1;
    config.epochs_digits = 3;
    config.epochs_cancer = 5;
    config.lrs = {};  // no sweep
  }
  const int threads = config.jobs > 0 ? config.jobs : int(std::max(1u, std::thread::hardware_concurrency()));

  try {
    prepare_run(options);
    Stopwatch clock;
    const std::vector<Data> data = {load(options, "digits", "digits.csv", config.epochs_digits),
                                    load(options, "breast_cancer", "breast_cancer.csv", config.epochs_cancer)};
    fmt::print("digits: {} train / {} test; breast_cancer: {} / {}; {} hidden layers of {} (swiglu {} per half), Adam lr "
               "{}, batch {}, {} seeds from {}, {} jobs\n",
               data[0].train.size(), data[0].test.size(), data[1].train.size(), data[1].test.size(), config.layers,
               config.hidden, config.hidden * 2 / 3, config.lr, config.batch, config.seeds, options.seed, threads);

    std::vector<Job> jobs;
    for (const auto& d : data)
      for (const auto& a : kActivations)
        for (bool bit : {false, true})
          for (int s = 0; s < config.seeds; ++s)
            jobs.push_back({&d, a, bit, config.lr, options.seed + std::uint64_t(s), d.name == "digits"});
    for (double lr : config.lrs) {
      if (lr == config.lr) continue;  // the main runs are that column
      for (const auto& a : kActivations)
        for (bool bit : {false, true})
          for (int s = 0; s < std::min(config.sweep_seeds, config.seeds); ++s)
            jobs.push_back({&data[0], a, bit, lr, options.seed + std::uint64_t(s), false});
    }
    const std::vector<Run> runs = run_all(jobs, config, threads);

    {
      CsvWriter csv(options.out / "runs.csv",
                    {"dataset", "activation", "precision", "lr", "seed", "test_accuracy", "train_loss", "zero_weights_init",
                     "zero_weights_final", "act_zero", "int8_zero", "grad_norm_l1", "grad_norm_l2", "diverged",
                     "packed_agrees", "packed_max_rel_diff"});
      for (const auto& r : runs)
        csv.row(r.dataset, r.activation, prec(r.ternary), r.lr, r.seed, r.accuracy, r.train_loss, r.zero_weights_init,
                r.zero_weights, r.act_zero, r.int8_zero, r.grad_norm[0], r.grad_norm[1], int(r.diverged),
                int(r.packed_agrees), r.packed_max_diff);
    }
    // curves: per run, then the mean over seeds and layers at each step
    std::map<std::tuple<std::string, std::string, std::string, int>, std::array<double, 4>> mean_curve;
    {
      CsvWriter csv(options.out / "curves.csv",
                    {"dataset", "activation", "precision", "seed", "step", "layer", "zero_weights", "grad_norm"});
      for (const auto& r : runs) {
        std::istringstream lines(r.curves);
        for (std::string line; std::getline(lines, line);) {
          csv.write_line(line);
          std::vector<std::string> c;
          std::istringstream cells(line);
          for (std::string x; std::getline(cells, x, ',');) c.push_back(x);
          auto& m = mean_curve[{c[0], c[1], c[2], std::stoi(c[4])}];
          const int layer = std::stoi(c[5]);
          m[0] += std::stod(c[6]);
          m[layer] += std::stod(c[7]);
          m[3] += 1;
        }
      }
      CsvWriter mean(options.out / "curves_mean.csv",
                     {"dataset", "activation", "precision", "step", "zero_weights", "grad_norm_l1", "grad_norm_l2"});
      for (const auto& [k, m] : mean_curve) {
        const double per_layer = m[3] / config.layers;  // runs at this step
        mean.row(std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), m[0] / m[3], m[1] / per_layer,
                 m[2] / per_layer);
      }
    }

    nlohmann::json summary;
    std::string table = "| data | activation | fp32 acc (min–max) | ternary acc (min–max) | gap (pts) | weights = 0 "
                        "init → end | H = 0 | int8 code 0 | grad L1/L2 |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& d : data) {
      CsvWriter wide(options.out / fmt::format("accuracy_{}.csv", d.name),
                     {"dataset", "activation", "fp32_mean", "fp32_min", "fp32_max", "ternary_mean", "ternary_min",
                      "ternary_max"});
      for (const auto& a : kActivations) {
        auto& j = summary[d.name][a];
        const auto f = select(runs, d.name, a, false, config.lr), t = select(runs, d.name, a, true, config.lr);
        const Stats fa = over(f, [](const Run& r) { return r.accuracy; }), ta = over(t, [](const Run& r) { return r.accuracy; });
        j["fp32"]["acc"] = json_stats(fa);
        j["ternary"]["acc"] = json_stats(ta);
        j["gap_points"] = 100 * (fa.mean - ta.mean);
        const Stats z0 = over(t, [](const Run& r) { return r.zero_weights_init; });
        const Stats z1 = over(t, [](const Run& r) { return r.zero_weights; });
        const Stats az = over(t, [](const Run& r) { return r.act_zero; });
        const Stats iz = over(t, [](const Run& r) { return r.int8_zero; });
        const Stats g1 = over(t, [](const Run& r) { return r.grad_norm[0]; });
        const Stats g2 = over(t, [](const Run& r) { return r.grad_norm[1]; });
        j["ternary"]["zero_weights_init"] = z0.mean;
        j["ternary"]["zero_weights_final"] = z1.mean;
        j["ternary"]["act_zero"] = az.mean;
        j["ternary"]["int8_zero"] = iz.mean;
        j["fp32"]["act_zero"] = over(f, [](const Run& r) { return r.act_zero; }).mean;
        j["ternary"]["grad_norm_l1"] = g1.mean;
        j["ternary"]["grad_norm_l2"] = g2.mean;
        j["ternary"]["grad_ratio_l1_l2"] = g1.mean / g2.mean;
        wide.row(d.name, a, fa.mean, fa.min, fa.max, ta.mean, ta.min, ta.max);
        table += fmt::format("| {} | {} | {} ({}–{}) | {} ({}–{}) | {:.1f} | {} → {} | {} | {} | {:.2f} |\n", d.name, a,
                             percent(fa.mean), percent(fa.min), percent(fa.max), percent(ta.mean), percent(ta.min),
                             percent(ta.max), 100 * (fa.mean - ta.mean), percent(z0.mean), percent(z1.mean),
                             percent(az.mean), percent(iz.mean), g1.mean / g2.mean);
      }
    }
    {
      CsvWriter sp(options.out / "sparsity.csv", {"activation", "act_zero", "int8_zero"});
      for (const auto& a : kActivations)
        sp.row(a, summary["digits"][a]["ternary"]["act_zero"].get<double>(),
               summary["digits"][a]["ternary"]["int8_zero"].get<double>());
    }
    // learning-rate sensitivity on digits (the first sweep_seeds seeds at every rate)
    std::string lr_table;
    if (!config.lrs.empty()) {
      CsvWriter lrcsv(options.out / "lr_sweep.csv", {"activation", "precision", "lr", "acc_mean", "acc_min", "acc_max"});
      lr_table = "| activation | precision |";
      for (double lr : config.lrs) lr_table += fmt::format(" lr {} |", lr);
      lr_table += " best lr | spread (pts) |\n|---|---|";
      for (std::size_t i = 0; i < config.lrs.size() + 2; ++i) lr_table += "---|";
      lr_table += "\n";
      for (const auto& a : kActivations)
        for (bool bit : {false, true}) {
          double best = -1, best_lr = NAN, worst = 2;
          lr_table += fmt::format("| {} | {} |", a, prec(bit));
          for (double lr : config.lrs) {
            auto rs = select(runs, "digits", a, bit, lr);
            rs.resize(std::min<std::size_t>(rs.size(), std::size_t(config.sweep_seeds)));
            const Stats s = over(rs, [](const Run& r) { return r.accuracy; });
            lrcsv.row(a, prec(bit), lr, s.mean, s.min, s.max);
            const double v = std::isfinite(s.mean) ? s.mean : 0.0;
            if (v > best) best = v, best_lr = lr;
            worst = std::min(worst, v);
            lr_table += fmt::format(" {}{} |", percent(s.mean), s.diverged ? fmt::format(" ({} diverged)", s.diverged) : "");
            summary["lr"][a][prec(bit)][fmt::format("{}", lr)] = json_stats(s);
          }
          summary["lr"][a][prec(bit)]["best_lr"] = best_lr;
          summary["lr"][a][prec(bit)]["spread_points"] = 100 * (best - worst);
          lr_table += fmt::format(" {} | {:.1f} |\n", best_lr, 100 * (best - worst));
        }
    }

    // Verdicts, from the numbers above.
    auto acc = [&](const std::string& d, const std::string& a, const char* p) {
      return summary[d][a][p]["acc"]["mean"].is_null() ? 0.0 : summary[d][a][p]["acc"]["mean"].get<double>();
    };
    nlohmann::json& v = summary["verdicts"];
    for (const auto& d : data) {
      std::string best_t = kActivations[0], best_f = kActivations[0], small_gap = kActivations[0], big_gap = kActivations[0];
      for (const auto& a : kActivations) {
        if (acc(d.name, a, "ternary") > acc(d.name, best_t, "ternary")) best_t = a;
        if (acc(d.name, a, "fp32") > acc(d.name, best_f, "fp32")) best_f = a;
        const double gap = acc(d.name, a, "fp32") - acc(d.name, a, "ternary");
        if (gap < acc(d.name, small_gap, "fp32") - acc(d.name, small_gap, "ternary")) small_gap = a;
        if (gap > acc(d.name, big_gap, "fp32") - acc(d.name, big_gap, "ternary")) big_gap = a;
      }
      v[d.name] = {{"best_ternary", best_t}, {"best_ternary_acc", acc(d.name, best_t, "ternary")},
                   {"best_fp32", best_f}, {"best_fp32_acc", acc(d.name, best_f, "fp32")},
                   {"smallest_gap", small_gap}, {"smallest_gap_points", summary[d.name][small_gap]["gap_points"]},
                   {"largest_gap", big_gap}, {"largest_gap_points", summary[d.name][big_gap]["gap_points"]}};
      double mean_gap = 0;
      for (const auto& a : kActivations) mean_gap += summary[d.name][a]["gap_points"].get<double>() / double(kActivations.size());
      v[d.name]["mean_gap_points"] = mean_gap;
      // Where the seeds settle it: every ternary run below every fp32 run (the min-max ranges do not overlap).
      std::vector<std::string> beyond;
      for (const auto& a : kActivations) {
        const auto& j = summary[d.name][a];
        if (!j["ternary"]["acc"]["max"].is_null() && !j["fp32"]["acc"]["min"].is_null() &&
            j["ternary"]["acc"]["max"].get<double>() < j["fp32"]["acc"]["min"].get<double>())
          beyond.push_back(a);
      }
      v[d.name]["gap_beyond_seed_range"] = beyond.empty() ? std::string("none") : fmt::format("{}", fmt::join(beyond, ", "));
      v[d.name]["gap_beyond_seed_range_count"] = beyond.size();
      // relu family (sparse: relu, relu_squared) and swiglu against the smooth ones
      auto mean_of = [&](std::initializer_list<const char*> acts) {
        double m = 0;
        for (const char* a : acts) m += summary[d.name][a]["gap_points"].get<double>() / double(acts.size());
        return m;
      };
      v[d.name]["gap_relu_family_points"] = mean_of({"relu", "relu_squared", "swiglu"});
      v[d.name]["gap_smooth_points"] = mean_of({"silu", "gelu", "tanh", "sigmoid"});
    }
    const auto sparse = [&](const std::string& a, const char* key) { return summary["digits"][a]["ternary"][key].get<double>(); };
    v["relu_squared_sparser_than_relu"] = sparse("relu_squared", "int8_zero") > sparse("relu", "int8_zero");
    v["swiglu_sparser_than_relu"] = sparse("swiglu", "int8_zero") > sparse("relu", "int8_zero");
    v["relu_squared_more_int8_zeros_than_exact_zeros"] = sparse("relu_squared", "int8_zero") > sparse("relu_squared", "act_zero");
    bool packed_ok = true;
    double packed_diff = 0;
    for (const auto& r : runs)
      if (r.ternary && !r.diverged) packed_ok = packed_ok && r.packed_agrees, packed_diff = std::max(packed_diff, r.packed_max_diff);
    v["packed_predictions_identical"] = packed_ok;
    v["packed_max_rel_logit_diff"] = packed_diff;
    int diverged = 0;
    for (const auto& r : runs) diverged += r.diverged;
    summary["diverged_runs"] = diverged;
    summary["runs"] = runs.size();
    summary["seeds"] = config.seeds;
    summary["lr"]["main"] = config.lr;
    summary["seconds"] = clock.seconds();
    for (const auto& d : data) summary["sizes"][d.name] = {{"train", d.train.size()}, {"test", d.test.size()}};
    summary["jobs"] = threads;

    std::ofstream(options.out / "table.md") << table;
    if (!lr_table.empty()) std::ofstream(options.out / "lr_table.md") << lr_table;
    std::ofstream(options.out / "summary.json") << summary.dump(2) << "\n";

    heading("fp32 vs ternary, per activation (mean over seeds at lr " + fmt::format("{}", config.lr) + ")");
    fmt::print("{}\n", table);
    if (!lr_table.empty()) {
      heading("Learning-rate sensitivity (digits)");
      fmt::print("{}\n", lr_table);
    }
    heading("Verdicts");
    for (const auto& d : data)
      fmt::print("{}: best under ternary weights {} ({}), best in fp32 {} ({}); smallest fp32->ternary gap {} ({:.1f} "
                 "pts), largest {} ({:.1f} pts)\n",
                 d.name, v[d.name]["best_ternary"].get<std::string>(), percent(v[d.name]["best_ternary_acc"].get<double>()),
                 v[d.name]["best_fp32"].get<std::string>(), percent(v[d.name]["best_fp32_acc"].get<double>()),
                 v[d.name]["smallest_gap"].get<std::string>(), v[d.name]["smallest_gap_points"].get<double>(),
                 v[d.name]["largest_gap"].get<std::string>(), v[d.name]["largest_gap_points"].get<double>());
    for (const auto& d : data)
      fmt::print("{}: gap beyond the seeds' min-max range for: {}; mean gap relu/relu_squared/swiglu {:.2f} pts, "
                 "silu/gelu/tanh/sigmoid {:.2f} pts\n",
                 d.name, v[d.name]["gap_beyond_seed_range"].get<std::string>(),
                 v[d.name]["gap_relu_family_points"].get<double>(), v[d.name]["gap_smooth_points"].get<double>());
    fmt::print("int8 codes 0 at the next layer (digits, ternary): relu {}, relu_squared {}, swiglu {}\n",
               percent(sparse("relu", "int8_zero")), percent(sparse("relu_squared", "int8_zero")),
               percent(sparse("swiglu", "int8_zero")));
    fmt::print("packed 2-bit inference gives the training forward's predictions on every run: {} (max |logit diff| / max |logit|: {})\n",
               packed_ok ? "yes" : "NO", sci(packed_diff));
    fmt::print("{} runs in {:.1f} s on {} jobs\n", runs.size(), clock.seconds(), threads);

    if (options.plots) render_plots(options, "bitnet_activations", plot_script({"digits", "breast_cancer"}, config.lrs));

    if (options.check) {
      heading("Checks");
      Checker check;
      check.expect_csv_header(options.out / "runs.csv",
                              "dataset,activation,precision,lr,seed,test_accuracy,train_loss,zero_weights_init,"
                              "zero_weights_final,act_zero,int8_zero,grad_norm_l1,grad_norm_l2,diverged,packed_agrees,"
                              "packed_max_rel_diff");
      check.expect_csv_header(options.out / "curves.csv", "dataset,activation,precision,seed,step,layer,zero_weights,grad_norm");
      const double floor = options.quick ? 0.80 : 0.90;
      check.expect(acc("digits", "relu", "fp32") >= floor,
                   fmt::format("fp32 relu on digits reaches {} >= {}", percent(acc("digits", "relu", "fp32")), percent(floor)));
      check.expect(acc("digits", "relu", "ternary") >= floor - 0.1,
                   fmt::format("ternary relu on digits reaches {} >= {}", percent(acc("digits", "relu", "ternary")),
                               percent(floor - 0.1)));
      check.expect(packed_ok, "packed 2-bit inference predicts what the training forward predicts, on every ternary run");
      check.expect(packed_diff < 1e-2, fmt::format("packed logits within 1% of the largest logit of the training forward ({})",
                                                sci(packed_diff)));
      check.expect(sparse("relu_squared", "act_zero") > 0.2 && sparse("relu", "act_zero") > 0.2,
                   fmt::format("relu and relu_squared outputs are sparse (H = 0: {}, {})", percent(sparse("relu", "act_zero")),
                               percent(sparse("relu_squared", "act_zero"))));
      check.expect(sparse("swiglu", "act_zero") < 0.01,
                   fmt::format("swiglu outputs are not exactly sparse ({} zeros)", percent(sparse("swiglu", "act_zero"))));
      bool grads = true;
      for (const auto& r : runs)
        if (r.ternary && !r.diverged)
          for (double g : r.grad_norm) grads = grads && std::isfinite(g) && g > 0;
      check.expect(grads, "every hidden layer receives a finite, nonzero gradient through the STE");
      const double z = summary["digits"]["relu"]["ternary"]["zero_weights_init"].get<double>();
      // U(-a, a) init: mean|W| = a/2, |W| < a/4 rounds to 0: a quarter of the weights
      check.expect(std::abs(z - 0.25) < 0.03, fmt::format("at init {} of ternary weights are 0 (uniform init: 25%)", percent(z)));
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bitnet_activations: {}\n", e.what());
    return 1;
  }
  return 0;
}
