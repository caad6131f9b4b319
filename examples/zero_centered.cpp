// Q2: does "not zero-centered" matter? Three measurements (docs/SCIENCE.md):
//  1. one neuron: dL/dw1 * dL/dw2 over a grid of inputs, by ember's backward,
//     for BCE and MSE x relu, sigmoid, tanh (and (1+tanh)/2), checked against
//     the hand derivative (MSE: dL/dH = -2(Y - H));
//  2. the zig-zag itself in a two-layer-plus-head net on breast cancer: how
//     often a second-layer neuron's weight update moves every weight the same
//     way, and the cosine between its consecutive updates, by the first
//     layer's activation, the batch size and the optimizer (SGD, momentum,
//     Adam), over seeds;
//  3. sigmoid against centered sigmoid (same derivative, zero mean): steps to
//     several target losses per optimizer and learning rate, over seeds, and
//     the conditioning of the second layer's inputs.
// docs/q2-zero-centered.md is rendered from summary.json and the tables
// written here.
#include "common.hpp"
#include "question_report.hpp"
#include "zero_centered_parts.hpp"
#include "zero_centered_plots.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

using namespace ember;
using namespace ember::examples;
using json = nlohmann::json;

namespace {

const std::vector<std::string> kActivations{"sigmoid", "centered_sigmoid", "tanh", "relu"};
const std::vector<std::string> kOptimizers{"sgd", "momentum", "adam"};

std::string opt_label(const std::string& o) {
  return o == "sgd" ? "SGD" : o == "momentum" ? "SGD + momentum 0.9" : "Adam";
}

// Steps to a target over seeds: the median counts a seed that never got there
// as infinitely slow, so it is ">max" once half the seeds miss.
struct Steps {
  std::vector<double> all;  // NaN: not reached
  int reached() const { return int(std::count_if(all.begin(), all.end(), [](double v) { return !std::isnan(v); })); }
  double median() const {
    std::vector<double> v;
    for (double x : all) v.push_back(std::isnan(x) ? std::numeric_limits<double>::infinity() : x);
    std::sort(v.begin(), v.end());
    if (v.empty()) return std::nan("");
    const std::size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
  }
  std::string text() const {
    const Spread s = Spread::of(all);
    const double m = median();
    if (s.empty()) return "none";
    const std::string range = s.text(fmt_int);
    if (s.missing == 0) return std::isinf(m) ? ">max" : fmt::format("{:.0f} ({})", m, range);
    return fmt::format("{} ({}/{}: {})", std::isinf(m) ? ">max" : fmt::format("{:.0f}", m), reached(), all.size(),
                       range);
  }
  json to_json() const {
    json j = Spread::of(all).json();
    const double m = median();
    j["median_all"] = std::isinf(m) ? json(nullptr) : json(m);
    j["reached"] = reached();
    j["seeds"] = all.size();
    j["text"] = text();
    return j;
  }
};

// A number as a JSON key the page templates can address (no dot: 0.03 -> "0p03").
std::string lr_key(double lr) {
  std::string k = fmt::format("{}", lr);
  std::replace(k.begin(), k.end(), '.', 'p');
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Does \"not zero-centered\" matter (Q2)? One neuron's gradient signs, the zig-zag of a real net's "
               "updates under SGD, momentum and Adam, and sigmoid vs centered sigmoid"};
  Options options;
  add_common_options(app, options, "zero_centered", 42);
  NeuronSetup neuron;
  int seeds = 5, zig_steps = 400, max_steps = 3000, jobs = default_jobs();
  std::vector<double> targets{0.3, 0.1, 0.03};
  double main_target = 0.1;
  std::vector<Index> batch_sizes{1, 8, 64};
  std::map<std::string, double> zig_lr{{"sgd", 0.05}, {"momentum", 0.005}, {"adam", 0.001}};
  std::map<std::string, std::vector<double>> lrs{{"sgd", {0.03, 0.1, 0.3, 1, 3, 10, 30}},
                                                 {"momentum", {0.003, 0.01, 0.03, 0.1, 0.3, 1, 3}},
                                                 {"adam", {1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1}}};
  std::vector<double> curve_lrs{0.3, 10.0};  // SGD rates whose full loss curves and conditioning are logged
  app.add_option("--seeds", seeds, "Seeds (split, init, batch order) per cell of parts 2 and 3")->capture_default_str();
  app.add_option("--targets", targets, "Part 3: training losses to reach (descending)")->capture_default_str();
  app.add_option("--target-loss", main_target, "Part 3: the target the verdict is about (one of --targets)")
      ->capture_default_str();
  app.add_option("--zigzag-steps", zig_steps, "Part 2: optimizer steps per run")->capture_default_str();
  app.add_option("--max-steps", max_steps, "Part 3: steps before a run counts as not reaching a target")
      ->capture_default_str();
  app.add_option("--jobs", jobs, "Runs trained at once (results do not depend on it)")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {
    neuron.step = 0.5;
    if (!app.count("--seeds")) seeds = 2;
    if (!app.count("--zigzag-steps")) zig_steps = 60;
    if (!app.count("--max-steps")) max_steps = 600;
    batch_sizes = {1, 64};
    lrs = {{"sgd", {0.3, 3}}, {"momentum", {0.03, 0.3}}, {"adam", {0.003, 0.03}}};
    curve_lrs = {0.3, 3};
  }
  std::sort(targets.begin(), targets.end(), std::greater<>());
  const auto main_it = std::find(targets.begin(), targets.end(), main_target);
  if (main_it == targets.end()) {
    fmt::print(stderr, "zero_centered: --target-loss {} is not one of --targets {}\n", main_target, targets);
    return 1;
  }
  const std::size_t main_k = std::size_t(main_it - targets.begin());
  std::vector<std::uint64_t> seed_list;
  for (int s = 0; s < seeds; ++s) seed_list.push_back(std::uint64_t(s == 0 ? 0 : 100 * s));  // offsets
  for (auto& s : seed_list) s += options.seed;

  try {
    prepare_run(options);
    Checker check;
    json summary;
    summary["config"] = {{"seeds", seeds}, {"seed_list", fmt::format("{}", fmt::join(seed_list, ", "))},
                         {"zigzag_steps", zig_steps}, {"max_steps", max_steps}, {"targets", targets},
                         {"main_target", main_target}, {"zigzag_lr", zig_lr}, {"grid_step", neuron.step}};

    // 1.
    heading("1. One neuron: sign of dL/dw1 * dL/dw2 against sign of x1 * x2");
    NeuronResult n1 = single_neuron(options, neuron);
    MarkdownTable t1({"loss", "activation", "points", "undefined", "g1g2 = 0 (on the axes)", "same sign as x1x2",
                      "opposite"});
    int disagreements = 0, agreements = 0, zeros_off_axes_nonrelu = 0;
    for (const auto& t : n1.tallies) {
      t1.add({t.loss, t.activation, std::to_string(t.points), std::to_string(t.undefined),
              fmt::format("{} ({})", t.zero, t.zero_on_axes), std::to_string(t.agree), std::to_string(t.disagree)});
      disagreements += t.disagree;
      agreements += t.agree;
      if (t.activation != "relu") zeros_off_axes_nonrelu += t.zero - t.zero_on_axes;
    }
    t1.write(options.out / "neuron.md");
    fmt::print("{}", t1.text());
    json& p1 = summary["neuron"];
    p1["agree"] = agreements;
    p1["disagree"] = disagreements;
    p1["defined_nonzero"] = agreements + disagreements;
    p1["axis_points"] = n1.axis_points;
    p1["points"] = n1.tallies.front().points;
    p1["mse_derivative_error"] = n1.mse_error;
    p1["bce_derivative_error"] = n1.bce_error_value;
    p1["bce_error"] = n1.bce_error;
    p1["axes_sentence"] =
        n1.axis_points > 0
            ? fmt::format("The grid has {} points on the axes x1 = 0 or x2 = 0, and there g1g2 = 0 for every loss and "
                          "activation wherever the loss is defined (one of the two gradients is δ·0); relu adds the "
                          "points where it is off.",
                          n1.axis_points)
            : std::string("The grid has no point on the axes x1 = 0 or x2 = 0; g1g2 = 0 only where relu is off.");

    // 2.
    heading("2. The zig-zag: do a second-layer neuron's weight updates all share a sign?");
    std::vector<ZigzagSpec> zspecs;
    for (const auto& opt : kOptimizers)
      for (const auto& act : kActivations)
        for (Index bs : batch_sizes)
          for (auto seed : seed_list) zspecs.push_back({act, opt, zig_lr[opt], bs, zig_steps, seed});
    Stopwatch watch;
    std::vector<ZigzagResult> zres = parallel_map<ZigzagResult>(
        zspecs.size(), jobs, [&](std::size_t i) { return zigzag_run(zspecs[i], options); });
    fmt::print("{} runs in {:.1f} s\n", zres.size(), watch.seconds());
    std::map<std::tuple<std::string, std::string, Index>, std::vector<const ZigzagResult*>> zby;
    for (std::size_t i = 0; i < zres.size(); ++i)
      zby[{zspecs[i].optimizer, zspecs[i].activation, zspecs[i].batch_size}].push_back(&zres[i]);
    auto zspread = [&](const std::string& o, const std::string& a, Index b, double ZigzagResult::*m) {
      std::vector<double> v;
      for (const ZigzagResult* r : zby[{o, a, b}]) v.push_back(r->*m);
      return Spread::of(v);
    };
    {
      CsvWriter zcsv(options.out / "zigzag.csv", {"optimizer", "feeding_activation", "batch_size", "seed",
                                                  "same_sign_gradient", "same_sign_update", "mean_cosine",
                                                  "reversals"});
      for (std::size_t i = 0; i < zres.size(); ++i)
        zcsv.row(zspecs[i].optimizer, zspecs[i].activation, zspecs[i].batch_size, zspecs[i].seed,
                 zres[i].same_sign_gradient, zres[i].same_sign_update, zres[i].mean_cosine, zres[i].reversals);
    }
    std::vector<std::string> h2{"optimizer", "fed by"};
    for (Index b : batch_sizes) h2.push_back(fmt::format("same-sign updates, batch {}", b));
    const Index b_lo = batch_sizes.front(), b_hi = batch_sizes.back();
    for (std::string h : {fmt::format("cos(Δw_t, Δw_t−1), batch {}", b_lo), fmt::format("cos, batch {}", b_hi),
                          fmt::format("reversals (cos < −0.5), batch {}", b_lo)})
      h2.push_back(h);
    MarkdownTable t2(h2);
    json& p2 = summary["zigzag"];
    for (const auto& o : kOptimizers)
      for (const auto& a : kActivations) {
        std::vector<std::string> row{opt_label(o), a};
        for (Index b : batch_sizes) {
          row.push_back(zspread(o, a, b, &ZigzagResult::same_sign_update).text(fmt_percent));
          json& cell = p2[o][a][std::to_string(b)];
          cell["same_sign_update"] = zspread(o, a, b, &ZigzagResult::same_sign_update).json();
          cell["same_sign_gradient"] = zspread(o, a, b, &ZigzagResult::same_sign_gradient).json();
          cell["mean_cosine"] = zspread(o, a, b, &ZigzagResult::mean_cosine).json();
          cell["reversals"] = zspread(o, a, b, &ZigzagResult::reversals).json();
          cell["same_sign_update_text"] = zspread(o, a, b, &ZigzagResult::same_sign_update).text(fmt_percent);
          cell["same_sign_gradient_text"] = zspread(o, a, b, &ZigzagResult::same_sign_gradient).text(fmt_percent);
          cell["mean_cosine_text"] = zspread(o, a, b, &ZigzagResult::mean_cosine).text(fmt_2);
          cell["reversals_text"] = zspread(o, a, b, &ZigzagResult::reversals).text(fmt_percent);
        }
        row.push_back(zspread(o, a, b_lo, &ZigzagResult::mean_cosine).text(fmt_2));
        row.push_back(zspread(o, a, b_hi, &ZigzagResult::mean_cosine).text(fmt_2));
        row.push_back(zspread(o, a, b_lo, &ZigzagResult::reversals).text(fmt_percent));
        t2.add(row);
      }
    t2.write(options.out / "zigzag.md");
    fmt::print("{}", t2.text());

    // 3.
    heading("3. Does it cost speed? sigmoid against centered sigmoid");
    std::vector<SpeedSpec> sspecs;
    for (const auto& o : kOptimizers)
      for (const auto& a : kActivations)
        for (double lr : lrs[o])
          for (auto seed : seed_list) {
            const bool full = o == "sgd" && std::find(curve_lrs.begin(), curve_lrs.end(), lr) != curve_lrs.end();
            sspecs.push_back({a, o, lr, seed, targets, max_steps, 32, full});
          }
    watch = Stopwatch();
    std::vector<SpeedResult> sres = parallel_map<SpeedResult>(
        sspecs.size(), jobs, [&](std::size_t i) { return speed_run(sspecs[i], options); });
    fmt::print("{} runs in {:.1f} s\n", sres.size(), watch.seconds());
    {
      CsvWriter loss_csv(options.out / "speed.csv", {"activation", "lr", "seed", "step", "train_loss"});
      CsvWriter cond_csv(options.out / "conditioning.csv",
                         {"activation", "lr", "seed", "step", "condition_number", "largest_eigenvalue",
                          "smallest_eigenvalue", "mean_input"});
      std::vector<std::string> header{"optimizer", "activation", "lr", "seed", "diverged"};
      for (double t : targets) header.push_back(fmt::format("steps_to_{}", t));
      CsvWriter steps_csv(options.out / "steps.csv", header);
      for (std::size_t i = 0; i < sres.size(); ++i) {
        for (const auto& l : sres[i].loss_rows) loss_csv.write_line(l);
        for (const auto& l : sres[i].conditioning_rows) cond_csv.write_line(l);
        std::string line = CsvWriter::line(sspecs[i].optimizer, sspecs[i].activation, sspecs[i].lr, sspecs[i].seed,
                                           int(sres[i].diverged));
        for (int s : sres[i].steps_to) line += "," + (s < 0 ? std::string() : std::to_string(s));
        steps_csv.write_line(line);
      }
    }
    // steps[(opt, act, lr)][target k]
    std::map<std::tuple<std::string, std::string, double>, std::vector<Steps>> steps;
    std::map<std::tuple<std::string, std::string, double>, int> diverged;
    std::map<std::string, std::vector<Conditioning>> cond_init, cond_end;
    for (std::size_t i = 0; i < sres.size(); ++i) {
      auto& v = steps[{sspecs[i].optimizer, sspecs[i].activation, sspecs[i].lr}];
      v.resize(targets.size());
      for (std::size_t k = 0; k < targets.size(); ++k)
        v[k].all.push_back(sres[i].steps_to[k] < 0 ? std::nan("") : double(sres[i].steps_to[k]));
      diverged[{sspecs[i].optimizer, sspecs[i].activation, sspecs[i].lr}] += sres[i].diverged;
      if (sspecs[i].optimizer == "sgd" && sspecs[i].lr == curve_lrs.front()) {
        cond_init[sspecs[i].activation].push_back(sres[i].at_init);
        cond_end[sspecs[i].activation].push_back(sres[i].at_end);
      }
    }
    json& p3 = summary["speed"];
    // The best rate of (optimizer, activation) for target k: the smallest median; ties go to the smaller rate.
    auto best = [&](const std::string& o, const std::string& a, std::size_t k) {
      double best_lr = std::nan(""), best_m = std::numeric_limits<double>::infinity();
      for (double lr : lrs[o]) {
        const double m = steps[{o, a, lr}][k].median();
        if (m < best_m) best_m = m, best_lr = lr;
      }
      return std::pair{best_lr, best_m};
    };
    for (const auto& o : kOptimizers) {
      std::vector<std::string> header{"activation"};
      for (double lr : lrs[o]) header.push_back(fmt::format("lr {}", lr));
      header.push_back("best");
      MarkdownTable t(header);
      for (const auto& a : kActivations) {
        std::vector<std::string> row{a};
        for (double lr : lrs[o]) {
          const Steps& s = steps[{o, a, lr}][main_k];
          const int d = diverged[{o, a, lr}];
          row.push_back(s.text() + (d ? fmt::format(", {} diverged", d) : ""));
          json& cell = p3[o][a]["lr"][lr_key(lr)];
          for (std::size_t k = 0; k < targets.size(); ++k) cell[lr_key(targets[k])] = steps[{o, a, lr}][k].to_json();
          cell["diverged"] = d;
        }
        for (std::size_t k = 0; k < targets.size(); ++k) {
          auto [blr, bm] = best(o, a, k);
          json& b = p3[o][a]["best"][lr_key(targets[k])];
          b["lr"] = blr;
          b["median"] = std::isinf(bm) ? json(nullptr) : json(bm);
          b["text"] = std::isinf(bm) ? std::string(">max") : fmt::format("{:.0f} (lr {})", bm, blr);
        }
        auto [blr, bm] = best(o, a, main_k);
        row.push_back(std::isinf(bm) ? ">max" : fmt::format("{:.0f} (lr {})", bm, blr));
        t.add(row);
      }
      t.write(options.out / fmt::format("speed_{}.md", o));
      fmt::print("{}:\n{}", opt_label(o), t.text());
    }
    // The target-loss dependence at each activation's best rate.
    MarkdownTable tt({"optimizer", "target loss", "sigmoid", "centered_sigmoid", "sigmoid / centered", "tanh", "relu"});
    for (const auto& o : kOptimizers)
      for (std::size_t k = 0; k < targets.size(); ++k) {
        auto text = [&](const std::string& a) {
          auto [blr, bm] = best(o, a, k);
          return std::isinf(bm) ? std::string(">max") : fmt::format("{:.0f} (lr {})", bm, blr);
        };
        const double s = best(o, "sigmoid", k).second, c = best(o, "centered_sigmoid", k).second;
        const double ratio = s / c;
        p3[o]["ratio"][lr_key(targets[k])] = std::isfinite(ratio) ? json(ratio) : json(nullptr);
        tt.add({opt_label(o), fmt::format("{}", targets[k]), text("sigmoid"), text("centered_sigmoid"),
                std::isfinite(ratio) ? fmt::format("{:.1f}×", ratio) : "-", text("tanh"), text("relu")});
      }
    tt.write(options.out / "targets.md");
    fmt::print("{}", tt.text());
    MarkdownTable tc({"activation", "cond E[hhᵀ] at init", fmt::format("after training (lr {})", curve_lrs.front()),
                      "largest eigenvalue at init", "mean input at init"});
    for (const auto& a : kActivations) {
      auto sp = [&](const std::vector<Conditioning>& v, double Conditioning::*m) {
        std::vector<double> x;
        for (const auto& c : v) x.push_back(c.*m);
        return Spread::of(x);
      };
      const Spread ci = sp(cond_init[a], &Conditioning::condition), ce = sp(cond_end[a], &Conditioning::condition);
      const Spread li = sp(cond_init[a], &Conditioning::largest), mi = sp(cond_init[a], &Conditioning::mean_input);
      tc.add({a, ci.text(fmt_sci), ce.text(fmt_sci), li.text(fmt_2), mi.text(fmt_2)});
      summary["conditioning"][a] = {{"init", ci.json()}, {"end", ce.json()}, {"largest", li.json()},
                                    {"mean_input", mi.json()}};
    }
    tc.write(options.out / "conditioning.md");
    {
      auto text = [&](const std::string& a, const char* key) {
        const json& j = summary["conditioning"][a][key];
        return j["min"].is_null() ? std::string("-")
                                  : Spread{j["min"].get<double>(), j["median"].get<double>(), j["max"].get<double>(), 1, 0}
                                        .text(std::string(key) == "largest" || std::string(key) == "mean_input"
                                                  ? fmt_2
                                                  : fmt_sci);
      };
      summary["verdicts"]["conditioning"] = fmt::format(
          "The sigmoid layer's outputs have mean {} at init, so E[hhᵀ] of the second layer's inputs has a largest "
          "eigenvalue of {} (along the mean direction) against {} for the centered sigmoid, and a condition number "
          "of {} against {}.",
          text("sigmoid", "mean_input"), text("sigmoid", "largest"), text("centered_sigmoid", "largest"),
          text("sigmoid", "init"), text("centered_sigmoid", "init"));
    }
    fmt::print("{}", tc.text());

    // Verdicts, from the numbers.
    json& v = summary["verdicts"];
    v["mse"] = fmt::format(
        "For MSE, L = (Y − H)², so dL/dH = −2(Y − H) and dL/dw_i = −2(Y − H)·act′(y)·x_i; ember's backward matches "
        "this to {} (relative) at every grid point, and BCE's −Y/H + (1 − Y)/(1 − H) to {} (where H(1 − H) "
        "is above the 1e-12 that ember, like PyTorch, clamps it to).",
        sci(n1.mse_error), sci(n1.bce_error_value));
    auto z = [&](const std::string& o, const std::string& a, Index b, double ZigzagResult::*m, auto f) {
      return zspread(o, a, b, m).text(f);
    };
    v["zigzag"] = fmt::format(
        "At batch {b}, {s} of the sigmoid-fed neurons' SGD updates move all their weights the same way, against {t} "
        "tanh-fed and {c} centered-sigmoid-fed; consecutive updates of a sigmoid-fed neuron have a mean cosine of {sc} "
        "({sr} of them reverse, cos < −0.5), a tanh-fed neuron's {tc}. With momentum the sigmoid-fed updates are "
        "sign-locked {m} of the time, with Adam {a} (its per-weight scaling breaks the common sign); at batch {bh} "
        "plain SGD gives {sh}.",
        fmt::arg("b", b_lo), fmt::arg("s", z("sgd", "sigmoid", b_lo, &ZigzagResult::same_sign_update, fmt_percent)),
        fmt::arg("t", z("sgd", "tanh", b_lo, &ZigzagResult::same_sign_update, fmt_percent)),
        fmt::arg("c", z("sgd", "centered_sigmoid", b_lo, &ZigzagResult::same_sign_update, fmt_percent)),
        fmt::arg("sc", z("sgd", "sigmoid", b_lo, &ZigzagResult::mean_cosine, fmt_2)),
        fmt::arg("sr", z("sgd", "sigmoid", b_lo, &ZigzagResult::reversals, fmt_percent)),
        fmt::arg("tc", z("sgd", "tanh", b_lo, &ZigzagResult::mean_cosine, fmt_2)),
        fmt::arg("m", z("momentum", "sigmoid", b_lo, &ZigzagResult::same_sign_update, fmt_percent)),
        fmt::arg("a", z("adam", "sigmoid", b_lo, &ZigzagResult::same_sign_update, fmt_percent)),
        fmt::arg("bh", b_hi), fmt::arg("sh", z("sgd", "sigmoid", b_hi, &ZigzagResult::same_sign_update, fmt_percent)));
    std::vector<std::string> by_opt;
    for (const auto& o : kOptimizers) {
      const double r = best(o, "sigmoid", main_k).second / best(o, "centered_sigmoid", main_k).second;
      by_opt.push_back(std::isfinite(r) ? fmt::format("{} {:.1f}×", opt_label(o), r)
                                        : fmt::format("{}: not comparable (a target missed)", opt_label(o)));
    }
    v["speed"] = fmt::format(
        "At each activation's best rate, sigmoid needs this many times the steps of centered sigmoid to reach loss "
        "{}: {}.",
        main_target, fmt::join(by_opt, ", "));
    {
      const double top = lrs["sgd"].back();
      const Steps& s = steps[{"sgd", "sigmoid", top}][main_k];
      const Steps& c = steps[{"sgd", "centered_sigmoid", top}][main_k];
      v["top_lr"] = fmt::format(
          "At SGD's largest rate, lr {}, sigmoid reaches loss {} on {} of {} seeds ({} steps) and centered sigmoid "
          "on {} of {} ({} steps).",
          top, main_target, s.reached(), s.all.size(), Spread::of(s.all).text(fmt_int), c.reached(), c.all.size(),
          Spread::of(c.all).text(fmt_int));
    }
    {
      std::vector<std::string> parts;
      for (std::size_t k = 0; k < targets.size(); ++k) {
        const double r = best("sgd", "sigmoid", k).second / best("sgd", "centered_sigmoid", k).second;
        parts.push_back(std::isfinite(r) ? fmt::format("{:.1f}× at loss {}", r, targets[k])
                                         : fmt::format("not comparable at loss {}", targets[k]));
      }
      v["targets"] = fmt::format("Under SGD the sigmoid/centered ratio of best-rate steps is {}.", fmt::join(parts, ", "));
    }
    summary["neuron_sentence"] = fmt::format(
        "sign(g1g2) = sign(x1x2) at {} of {} points where g1g2 is defined and nonzero.", agreements,
        agreements + disagreements);
    for (const auto& [k, text] : v.items()) fmt::print("{}: {}\n", k, text.get<std::string>());
    write_summary(options.out / "summary.json", summary);

    std::vector<double> scales;
    for (const SignTally& t : n1.tallies) scales.push_back(t.scale());
    render_plots(options, "zero_centered",
                 zero_centered_plot_script(scales, options.seed, main_target, curve_lrs, std::vector<std::int64_t>(batch_sizes.begin(), batch_sizes.end())));

    if (options.check) {
      heading("Checks");
      check.expect_csv_header(options.out / "single_neuron.csv", "loss,activation,x1,x2,g1g2");
      check.expect_csv_header(options.out / "zigzag.csv",
                              "optimizer,feeding_activation,batch_size,seed,same_sign_gradient,same_sign_update,"
                              "mean_cosine,reversals");
      check.expect(disagreements == 0 && agreements > 0,
                   fmt::format("sign(g1g2) = sign(x1 x2) at all {} defined nonzero points", agreements + disagreements));
      check.expect(n1.mse_error < 1e-12 && n1.bce_error_value < 1e-12,
                   fmt::format("ember's gradient = delta x_i with dL/dH = -2(Y - H) (MSE: {}) and BCE's ({})",
                               sci(n1.mse_error), sci(n1.bce_error_value)));
      check.expect(n1.axis_points > 0 && zeros_off_axes_nonrelu == 0,
                   fmt::format("g1g2 = 0 on the {} axis points and nowhere else for sigmoid/tanh", n1.axis_points));
      check.expect(n1.bce_error.find("outside [0, 1]") != std::string::npos,
                   "BCE on a negative tanh output raises a ValueError naming [0, 1]");
      const Spread sig1 = zspread("sgd", "sigmoid", b_lo, &ZigzagResult::same_sign_update);
      const Spread tanh1 = zspread("sgd", "tanh", b_lo, &ZigzagResult::same_sign_update);
      const Spread sig_hi = zspread("sgd", "sigmoid", b_hi, &ZigzagResult::same_sign_update);
      const Spread adam1 = zspread("adam", "sigmoid", b_lo, &ZigzagResult::same_sign_update);
      check.expect(sig1.min >= 0.9, fmt::format("SGD batch 1: sigmoid-fed same-sign updates {} >= 90%", sig1.text(fmt_percent)));
      check.expect(tanh1.max <= 0.1, fmt::format("SGD batch 1: tanh-fed same-sign updates {} <= 10%", tanh1.text(fmt_percent)));
      check.expect(sig_hi.max < sig1.min, fmt::format("batching dilutes it: batch {} {} < batch 1 {}", b_hi,
                                                      sig_hi.text(fmt_percent), sig1.text(fmt_percent)));
      check.expect(adam1.max < sig1.min, fmt::format("Adam breaks the sign lock: {} < SGD's {}", adam1.text(fmt_percent),
                                                     sig1.text(fmt_percent)));
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "zero_centered: {}\n", e.what());
    return 1;
  }
  return 0;
}
