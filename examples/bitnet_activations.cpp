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
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <tuple>

#include "bitnet_train.hpp"
#include "common.hpp"

using namespace ember;
using namespace ember::examples;
using namespace ember::examples::bitnet;

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
    // The page's sentences that depend on the numbers, computed here.
    {
      const int beyond = int(v["digits"]["gap_beyond_seed_range_count"].get<std::size_t>() +
                             v["breast_cancer"]["gap_beyond_seed_range_count"].get<std::size_t>());
      v["gap_vs_seeds_sentence"] = beyond == 0 ? std::string("for no activation does it exceed")
                                               : fmt::format("for {} activation/data-set pairs it exceeds", beyond);
      const double relu_family = v["digits"]["gap_relu_family_points"].get<double>(),
                   smooth = v["digits"]["gap_smooth_points"].get<double>();
      v["relu_family_vs_smooth_sentence"] = relu_family < smooth ? "lose less than" : "lose at least as much as";
      std::string lowest;
      double lowest_ratio = INFINITY;
      for (const auto& a : kActivations) {
        const double r = summary["digits"][a]["ternary"]["grad_ratio_l1_l2"].get<double>();
        if (r < lowest_ratio) lowest_ratio = r, lowest = a;
      }
      v["smallest_first_layer_share"] = lowest;
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
