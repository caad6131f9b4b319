// activation_race's report: every run aggregated per (activation, rate) with
// medians and min-max over seeds, each activation's best rate, the tables
// the Q4/Q5 page inlines, summary.json (every number the page uses) and the
// verdicts, computed here from the numbers so the page never types one.
#include "activation_race.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include <fmt/ranges.h>

namespace ember::examples::race {

using json = nlohmann::ordered_json;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
json number(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

// Median and range over seeds; NaN values (diverged runs) are left out,
// +inf ("never reached") counts as the largest value.
struct Range {
  double median = NAN, min = NAN, max = NAN;
  int n = 0;
};
Range range_of(std::vector<double> v) {
  std::erase_if(v, [](double x) { return std::isnan(x); });
  Range r;
  r.n = int(v.size());
  if (v.empty()) return r;
  std::sort(v.begin(), v.end());
  r.min = v.front(), r.max = v.back();
  r.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  return r;
}

std::string steps_text(double v) { return std::isnan(v) ? "–" : std::isinf(v) ? "never" : fmt::format("{:.0f}", v); }
std::string pct(double v) { return std::isnan(v) ? "–" : fmt::format("{:.1f}%", 100 * v); }
std::string steps_range(const Range& r) {
  if (r.n == 0) return "–";
  if (r.min == r.max) return steps_text(r.median);
  return fmt::format("{} ({}–{})", steps_text(r.median), steps_text(r.min), steps_text(r.max));
}
std::string pct_range(const Range& r) {
  if (r.n == 0) return "–";
  if (r.min == r.max) return pct(r.median);
  return fmt::format("{} ({}–{})", pct(r.median), pct(r.min), pct(r.max));
}
json range_json(const Range& r, bool steps) {
  auto v = [&](double x) { return steps && std::isinf(x) ? json("never") : number(x); };
  return {{"median", v(r.median)}, {"min", v(r.min)}, {"max", v(r.max)}, {"n", r.n},
          {"text", steps ? steps_range(r) : pct_range(r)}};
}
std::string lr_key(double lr) {
  std::string s = fmt::format("lr{}", lr);
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

// One (activation, rate): its seeds' runs summarized.
struct Cell {
  std::vector<const Run*> runs;
  int diverged = 0, reached_95 = 0;
  Range steps_90, steps_95, accuracy, dead, negative;
  std::vector<Range> dead_per_layer;
};

Cell cell_of(std::vector<const Run*> runs, std::size_t layers) {
  Cell c;
  c.runs = std::move(runs);
  std::vector<double> s90, s95, acc, dead, neg;
  std::vector<std::vector<double>> per_layer(layers);
  for (const Run* r : c.runs) {
    if (r->diverged) {
      ++c.diverged;
      continue;
    }
    const auto never = [](double s) { return std::isnan(s) ? kInf : s; };
    s90.push_back(never(r->steps_to_90));
    s95.push_back(never(r->steps_to_95));
    c.reached_95 += !std::isnan(r->steps_to_95);
    acc.push_back(r->final_accuracy);
    dead.push_back(r->dead);
    neg.push_back(r->negative);
    for (std::size_t l = 0; l < layers && l < r->dead_per_layer.size(); ++l)
      per_layer[l].push_back(r->dead_per_layer[l]);
  }
  c.steps_90 = range_of(s90), c.steps_95 = range_of(s95), c.accuracy = range_of(acc);
  c.dead = range_of(dead), c.negative = range_of(neg);
  for (auto& v : per_layer) c.dead_per_layer.push_back(range_of(v));
  return c;
}

json cell_json(const Cell& c, double lr) {
  json layers = json::array();
  for (const Range& r : c.dead_per_layer) layers.push_back(range_json(r, false));
  std::vector<std::uint64_t> diverged_seeds;
  for (const Run* r : c.runs)
    if (r->diverged) diverged_seeds.push_back(r->seed);
  return {{"lr", lr}, {"runs", c.runs.size()}, {"diverged", c.diverged},
          {"diverged_seeds",
           diverged_seeds.empty() ? std::string("none") : fmt::format("{}", fmt::join(diverged_seeds, ", "))},
          {"reached_95", c.reached_95},
          {"steps_to_90", range_json(c.steps_90, true)}, {"steps_to_95", range_json(c.steps_95, true)},
          {"final_accuracy", range_json(c.accuracy, false)}, {"dead", range_json(c.dead, false)},
          {"negative", range_json(c.negative, false)}, {"dead_per_layer", layers}};
}

// The best rate of an activation: fewest median steps to 95% test accuracy
// among the rates where no seed diverged, then the higher median final
// accuracy; if every rate has a diverged seed, the rates with the fewest.
std::size_t best_rate(const std::vector<Cell>& cells) {
  int fewest = std::numeric_limits<int>::max();
  for (const Cell& c : cells) fewest = std::min(fewest, c.diverged);
  std::size_t best = cells.size();
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const Cell& c = cells[i];
    if (c.diverged != fewest || c.steps_95.n == 0) continue;
    if (best == cells.size()) {
      best = i;
      continue;
    }
    const Cell& b = cells[best];
    if (c.steps_95.median < b.steps_95.median ||
        (c.steps_95.median == b.steps_95.median && c.accuracy.median > b.accuracy.median))
      best = i;
  }
  return best == cells.size() ? 0 : best;
}

std::string times(double a, double b) { return fmt::format("{:.1f}×", a / b); }

}  // namespace

int report(const Options& options, const Config& config, const std::vector<RunRecord>& records) {
  const std::size_t n_lr = config.lrs.size(), n_seed = std::size_t(config.seeds), layers = config.hidden.size();
  auto rec_at = [&](std::size_t a, std::size_t l, std::size_t s) -> const RunRecord& {
    return records[(a * n_lr + l) * n_seed + s];
  };

  // The CSVs, in grid order.
  {
    CsvWriter runs(options.out / "runs.csv",
                   {"activation", "lr", "seed", "steps_to_90", "steps_to_95", "final_test_accuracy", "final_train_loss",
                    "diverged", "diverged_step", "dead_fraction", "negative_fraction", "ms_per_step"});
    std::vector<std::string> header{"activation", "lr", "seed", "step", "train_loss", "test_accuracy"};
    for (std::size_t l = 0; l < layers; ++l) header.push_back(fmt::format("dead_layer{}", l + 1));
    CsvWriter curves(options.out / "curves.csv", header);
    for (const RunRecord& rec : records) {
      const Run& r = rec.run;
      runs.row(r.activation, r.lr, r.seed, r.steps_to_90, r.steps_to_95, r.final_accuracy, r.final_loss,
               int(r.diverged), r.diverged_step, r.dead, r.negative, r.ms_per_step);
      for (const CurvePoint& p : rec.curve) {
        std::string line = CsvWriter::line(r.activation, r.lr, r.seed, p.step, p.loss, p.accuracy);
        // append, not "," + cell: GCC 12 warns -Wrestrict (a false positive) on the latter
        for (double d : p.dead_per_layer) line.append(1, ',').append(CsvWriter::cell(d));
        curves.write_line(line);
      }
    }
  }

  // Per (activation, rate), and each activation's best rate.
  std::vector<std::vector<Cell>> cells(config.activations.size());
  std::vector<std::size_t> best(config.activations.size());
  std::map<std::string, std::size_t> act_index;
  for (std::size_t a = 0; a < config.activations.size(); ++a) {
    act_index[config.activations[a]] = a;
    for (std::size_t l = 0; l < n_lr; ++l) {
      std::vector<const Run*> runs;
      for (std::size_t s = 0; s < n_seed; ++s) runs.push_back(&rec_at(a, l, s).run);
      cells[a].push_back(cell_of(runs, layers));
    }
    best[a] = best_rate(cells[a]);
  }
  auto cell = [&](const std::string& act, std::size_t l) -> const Cell& { return cells[act_index.at(act)][l]; };
  auto best_cell = [&](const std::string& act) -> const Cell& { return cell(act, best[act_index.at(act)]); };
  auto best_lr = [&](const std::string& act) { return config.lrs[best[act_index.at(act)]]; };
  auto has = [&](const std::string& act) { return act_index.count(act) > 0; };

  {
    CsvWriter by_rate(options.out / "by_rate.csv",
                      {"activation", "lr", "runs", "diverged", "steps_to_95_median", "steps_to_95_min",
                       "steps_to_95_max", "accuracy_median", "accuracy_min", "accuracy_max", "dead_median", "dead_min",
                       "dead_max", "negative_median", "negative_min", "negative_max"});
    auto finite = [](double v) { return std::isinf(v) ? NAN : v; };
    for (std::size_t a = 0; a < cells.size(); ++a)
      for (std::size_t l = 0; l < n_lr; ++l) {
        const Cell& c = cells[a][l];
        by_rate.row(config.activations[a], config.lrs[l], int(c.runs.size()), c.diverged, finite(c.steps_95.median),
                    finite(c.steps_95.min), finite(c.steps_95.max), c.accuracy.median, c.accuracy.min, c.accuracy.max,
                    c.dead.median, c.dead.min, c.dead.max, c.negative.median, c.negative.min, c.negative.max);
      }
    // The bands of the race plot: at each activation's best rate, per step,
    // median and min-max over the seeds.
    CsvWriter bands(options.out / "best_curves.csv", {"activation", "lr", "step", "accuracy_median", "accuracy_min",
                                                      "accuracy_max", "loss_median", "loss_min", "loss_max"});
    for (std::size_t a = 0; a < cells.size(); ++a) {
      std::map<int, std::pair<std::vector<double>, std::vector<double>>> at_step;
      for (std::size_t s = 0; s < n_seed; ++s)
        for (const CurvePoint& p : rec_at(a, best[a], s).curve) {
          at_step[p.step].first.push_back(p.accuracy);
          at_step[p.step].second.push_back(p.loss);
        }
      for (const auto& [step, v] : at_step) {
        const Range acc = range_of(v.first), loss = range_of(v.second);
        bands.row(config.activations[a], config.lrs[best[a]], step, acc.median, acc.min, acc.max, loss.median,
                  loss.min, loss.max);
      }
    }
  }

  json summary;
  int total_steps = 0;  // of a run that went the distance
  for (const RunRecord& rec : records)
    if (!rec.curve.empty()) total_steps = std::max(total_steps, rec.curve.back().step);
  summary["config"] = {{"activations", config.activations}, {"lrs", config.lrs}, {"seeds", config.seeds},
                       {"first_seed", options.seed}, {"epochs", config.epochs},
                       {"steps", total_steps}, {"batch", config.batch_size},
                       {"momentum", config.momentum}, {"hidden", config.hidden}, {"eval_every", config.eval_every},
                       {"shared_lr", config.shared_lr}, {"blow_up", config.blow_up}, {"runs", records.size()},
                       {"activations_text", fmt::format("{}", fmt::join(config.activations, ", "))},
                       {"lrs_text", fmt::format("{}", fmt::join(config.lrs, ", "))}};

  // Tables: at the best rates; the whole grid; relu vs leaky_relu along the rates.
  std::string best_md = "| activation | best lr | steps to 90% | steps to 95% | seeds reaching 95% | final test accuracy "
                        "| dead units at the end |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& act : config.activations) {
    const Cell& c = best_cell(act);
    best_md += fmt::format("| {} | {} | {} | {} | {} of {} | {} | {} |\n", act, best_lr(act), steps_range(c.steps_90),
                           steps_range(c.steps_95), c.reached_95, c.runs.size(), pct_range(c.accuracy),
                           pct_range(c.dead));
    summary["best"][act] = cell_json(c, best_lr(act));
    for (std::size_t l = 0; l < n_lr; ++l)
      summary["by_rate"][act][lr_key(config.lrs[l])] = cell_json(cell(act, l), config.lrs[l]);
  }
  std::string grid_md = "| lr |";
  for (const auto& act : config.activations) grid_md += " " + act + " |";
  grid_md += "\n|---:|";
  for (std::size_t a = 0; a < config.activations.size(); ++a) grid_md += "---:|";
  grid_md += "\n";
  for (std::size_t l = 0; l < n_lr; ++l) {
    grid_md += fmt::format("| {} |", config.lrs[l]);
    for (std::size_t a = 0; a < config.activations.size(); ++a) {
      const Cell& c = cells[a][l];
      std::string text;
      if (c.diverged == int(c.runs.size())) text = "diverged (all)";
      else {
        text = fmt::format("{} · {}", steps_text(c.steps_95.median), pct(c.accuracy.median));
        if (c.diverged) text += fmt::format(" · {} of {} diverged", c.diverged, c.runs.size());
      }
      grid_md += " " + (l == best[a] ? "**" + text + "**" : text) + " |";
    }
    grid_md += "\n";
  }
  std::string dead_md;
  if (has("relu") && has("leaky_relu")) {
    dead_md = "| lr | relu: dead units | relu: layer 2 dead | relu: test accuracy | relu: diverged | leaky_relu: "
              "diverged | leaky_relu: negative on every sample | leaky_relu: test accuracy |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (std::size_t l = 0; l < n_lr; ++l) {
      const Cell &r = cell("relu", l), &k = cell("leaky_relu", l);
      dead_md += fmt::format("| {} | {} | {} | {} | {} of {} | {} of {} | {} | {} |\n", config.lrs[l],
                             pct_range(r.dead), layers >= 2 ? pct_range(r.dead_per_layer[1]) : "–",
                             pct_range(r.accuracy), r.diverged, r.runs.size(), k.diverged, k.runs.size(),
                             pct_range(k.negative), pct_range(k.accuracy));
    }
  }

  // Verdicts.
  json q4 = json::object(), q5 = json::object();  // into summary at the end (ordered_json moves its items)
  std::vector<std::string> order = config.activations;
  std::stable_sort(order.begin(), order.end(), [&](const std::string& x, const std::string& y) {
    return best_cell(x).steps_95.median < best_cell(y).steps_95.median;
  });
  std::vector<std::string> ranking;
  for (const auto& act : order)
    ranking.push_back(fmt::format("{} {} (lr {})", act, steps_text(best_cell(act).steps_95.median), best_lr(act)));
  q4["ranking"] = fmt::format("{}", fmt::join(ranking, ", "));
  q4["fastest"] = order.front();
  {
    // Do the seeds separate the activations? Their best-rate ranges of steps
    // to 95% share a common interval when the largest minimum is below the
    // smallest maximum. And how far apart the final accuracies are.
    double lo = -kInf, hi = kInf, acc_lo = kInf, acc_hi = -kInf;
    for (const auto& act : config.activations) {
      const Cell& c = best_cell(act);
      lo = std::max(lo, c.steps_95.min), hi = std::min(hi, c.steps_95.max);
      acc_lo = std::min(acc_lo, c.accuracy.median), acc_hi = std::max(acc_hi, c.accuracy.median);
    }
    q4["overlap"] = lo <= hi ? fmt::format("the min–max ranges of steps to 95% all overlap (each covers {}–{} "
                                           "steps): no activation's slowest seed is faster than another's fastest",
                                           steps_text(lo), steps_text(hi))
                             : std::string("the seeds' ranges of steps to 95% do not all overlap");
    q4["final_spread"] = fmt::format("median final test accuracies at the best rates span {}–{}", pct(acc_lo), pct(acc_hi));
    const auto relu_pos = std::find(order.begin(), order.end(), "relu");
    if (relu_pos != order.end())
      q4["relu_place"] = fmt::format("relu is {} of {} by median steps to 95%", relu_pos - order.begin() + 1, order.size());
  }
  // Per seed at the two best rates: how many seeds put a before b.
  auto seeds_faster = [&](const std::string& x, const std::string& y) {
    int n = 0;
    for (std::size_t s = 0; s < n_seed; ++s) {
      const Run &rx = rec_at(act_index.at(x), best[act_index.at(x)], s).run,
                &ry = rec_at(act_index.at(y), best[act_index.at(y)], s).run;
      const double sx = rx.diverged || std::isnan(rx.steps_to_95) ? kInf : rx.steps_to_95;
      const double sy = ry.diverged || std::isnan(ry.steps_to_95) ? kInf : ry.steps_to_95;
      n += sx < sy;
    }
    return n;
  };
  auto compare = [&](const std::string& x, const std::string& y) {
    const double sx = best_cell(x).steps_95.median, sy = best_cell(y).steps_95.median;
    std::string head;
    if (std::isinf(sx) || std::isinf(sy) || std::isnan(sx) || std::isnan(sy))
      head = fmt::format("{} {} steps, {} {}", x, steps_text(sx), y, steps_text(sy));
    else if (sx < sy) head = fmt::format("{} is {} faster than {} ({} vs {} median steps)", x, times(sy, sx), y, sx, sy);
    else if (sx > sy) head = fmt::format("{} is {} slower than {} ({} vs {} median steps)", x, times(sx, sy), y, sx, sy);
    else head = fmt::format("{} and {} tie ({} median steps)", x, y, sx);
    const int xf = seeds_faster(x, y), yf = seeds_faster(y, x);
    return fmt::format("{}; seed by seed {} is faster in {} of {}, {} in {}, {} tie{}", head, x, xf, n_seed, y, yf,
                       int(n_seed) - xf - yf, xf && yf ? " — the seeds disagree" : "");
  };
  if (has("relu") && has("tanh")) q4["relu_vs_tanh"] = compare("relu", "tanh");
  if (has("relu") && has("sigmoid")) q4["relu_vs_sigmoid"] = compare("relu", "sigmoid");
  if (has("relu") && has("leaky_relu")) q4["relu_vs_leaky_relu"] = compare("relu", "leaky_relu");
  // The earlier race's single rate against each activation's own best.
  const auto shared = std::find_if(config.lrs.begin(), config.lrs.end(),
                                   [&](double lr) { return std::abs(lr - config.shared_lr) < 1e-12; });
  std::string shared_md;
  if (shared != config.lrs.end()) {
    const std::size_t l = std::size_t(shared - config.lrs.begin());
    shared_md = fmt::format("| activation | steps to 95% at lr {} | at its best rate | best lr |\n|---|---:|---:|---:|\n",
                            config.shared_lr);
    for (const auto& act : config.activations)
      shared_md += fmt::format("| {} | {} | {} | {} |\n", act, steps_range(cell(act, l).steps_95),
                               steps_range(best_cell(act).steps_95), best_lr(act));
    if (has("sigmoid") && has("tanh")) {
      const double at_shared = cell("sigmoid", l).steps_95.median / cell("tanh", l).steps_95.median;
      const double at_best = best_cell("sigmoid").steps_95.median / best_cell("tanh").steps_95.median;
      q4["sigmoid_over_tanh_shared"] = std::isfinite(at_shared) ? number(at_shared) : json("never");
      q4["sigmoid_over_tanh_best"] = std::isfinite(at_best) ? number(at_best) : json("never");
      const std::string shared_text =
          std::isfinite(at_shared)
              ? fmt::format("at the one shared rate {} sigmoid needs {:.1f}× tanh's median steps to 95%",
                            config.shared_lr, at_shared)
              : fmt::format("at the one shared rate {} the median sigmoid run never reaches 95% (tanh: {} steps)",
                            config.shared_lr, steps_text(cell("tanh", l).steps_95.median));
      q4["sigmoid_vs_tanh"] = fmt::format(
          "{}; at each one's best rate (sigmoid {}, tanh {}) it needs {:.1f}×{}", shared_text, best_lr("sigmoid"),
          best_lr("tanh"), at_best,
          !std::isfinite(at_shared) || at_best < 0.75 * at_shared
              ? ": much of the shared-rate gap was the rate, not the activation"
              : "");
    }
  }

  if (has("relu") && has("leaky_relu")) {
    // Where relu dies: the lowest rate whose median relu run ends with >= 10%
    // dead units. Where leaky_relu diverges: the lowest rate with a diverged seed.
    std::size_t dies = n_lr, leaky_div = n_lr, relu_div = n_lr;
    for (std::size_t l = 0; l < n_lr; ++l) {
      if (dies == n_lr && cell("relu", l).dead.median >= 0.10) dies = l;
      if (leaky_div == n_lr && cell("leaky_relu", l).diverged > 0) leaky_div = l;
      if (relu_div == n_lr && cell("relu", l).diverged > 0) relu_div = l;
    }
    auto lr_json = [&](std::size_t l) { return l == n_lr ? json(nullptr) : json(config.lrs[l]); };
    q5["relu_dies_lr"] = lr_json(dies);
    q5["leaky_relu_diverges_lr"] = lr_json(leaky_div);
    q5["relu_diverges_lr"] = lr_json(relu_div);
    std::string dies_text = dies == n_lr
        ? fmt::format("no tested rate leaves a median relu run with 10% dead units")
        : fmt::format("relu starts dying at lr {}: {} of its hidden units end dead (median, range over seeds), layer 2 "
                      "{}, test accuracy {}", config.lrs[dies], pct_range(cell("relu", dies).dead),
                      layers >= 2 ? pct_range(cell("relu", dies).dead_per_layer[1]) : "–",
                      pct_range(cell("relu", dies).accuracy));
    std::string div_text = leaky_div == n_lr
        ? std::string("leaky_relu diverges at no tested rate")
        : fmt::format("leaky_relu diverges from lr {} ({} of {} seeds there)", config.lrs[leaky_div],
                      cell("leaky_relu", leaky_div).diverged, n_seed);
    // Where relu collapses (median test accuracy below 20%), where every
    // leaky_relu seed diverges, and how often relu diverges at all.
    std::size_t collapse = n_lr, leaky_all = n_lr;
    int relu_diverged = 0, relu_runs = 0;
    for (std::size_t l = 0; l < n_lr; ++l) {
      const Cell &r = cell("relu", l), &k = cell("leaky_relu", l);
      if (collapse == n_lr && r.accuracy.n && r.accuracy.median < 0.2) collapse = l;
      if (leaky_all == n_lr && k.diverged == int(k.runs.size())) leaky_all = l;
      relu_diverged += r.diverged;
      relu_runs += int(r.runs.size());
    }
    q5["relu_collapses_lr"] = lr_json(collapse);
    q5["leaky_relu_all_diverge_lr"] = lr_json(leaky_all);
    q5["relu_diverged_runs"] = relu_diverged;
    q5["relu_runs"] = relu_runs;
    if (collapse != n_lr && collapse != dies)
      dies_text += fmt::format("; from lr {} the median relu net has collapsed ({} test accuracy, chance is 10%; "
                               "layer 2 {} dead)",
                               config.lrs[collapse], pct_range(cell("relu", collapse).accuracy),
                               layers >= 2 ? pct_range(cell("relu", collapse).dead_per_layer[1]) : "–");
    if (leaky_div != n_lr && leaky_all != n_lr && leaky_all != leaky_div)
      div_text += fmt::format(", and in every seed from lr {}", config.lrs[leaky_all]);
    if (leaky_div != n_lr && leaky_div < leaky_all) {
      std::vector<std::string> kept;
      for (std::size_t l = leaky_div; l < leaky_all && l < n_lr; ++l)
        kept.push_back(fmt::format("{} at lr {}", pct_range(cell("leaky_relu", l).accuracy), config.lrs[l]));
      div_text += fmt::format("; below that its seeds that did not diverge still learn ({})", fmt::join(kept, ", "));
    }
    const std::string quiet = relu_diverged == 0
        ? fmt::format("relu diverges in none of its {} runs: it fails quietly, by dying, where leaky_relu keeps learning "
                      "until it blows up", relu_runs)
        : fmt::format("relu diverges in {} of its {} runs", relu_diverged, relu_runs);
    q5["verdict"] = dies_text + "; " + div_text + ". " + quiet + ".";
    q5["relu_quiet"] = quiet;
    if (layers >= 2) {
      // Which layer dies: where relu collapses, else at the highest rate with a dead count.
      std::size_t l = collapse;
      if (l == n_lr) while (l-- > 0 && cell("relu", l).dead.n == 0) {}
      if (l < n_lr) {
        const Cell& c = cell("relu", l);
        q5["layers"] = fmt::format("at lr {} relu's layer 1 ends with {} dead units, layer 2 with {}", config.lrs[l],
                                   pct_range(c.dead_per_layer[0]), pct_range(c.dead_per_layer[1]));
      }
    }
    std::size_t leaky_dead_runs = 0;
    for (std::size_t l = 0; l < n_lr; ++l)
      for (const Run* r : cell("leaky_relu", l).runs) leaky_dead_runs += !r->diverged && r->dead > 0;
    q5["leaky_relu_runs_with_dead_units"] = leaky_dead_runs;
    double relu_dead_max = 0;
    for (std::size_t l = 0; l < n_lr; ++l)
      if (cell("relu", l).dead.n) relu_dead_max = std::max(relu_dead_max, cell("relu", l).dead.max);
    q5["relu_dead_max"] = relu_dead_max;
  }

  for (const auto& [file, text] : std::vector<std::pair<std::string, std::string>>{
           {"best.md", best_md}, {"by_rate.md", grid_md}, {"dead.md", dead_md}, {"shared_rate.md", shared_md}})
    std::ofstream(options.out / file) << text;
  summary["q4"] = q4;
  summary["q5"] = q5;
  std::ofstream(options.out / "summary.json") << summary.dump(2) << "\n";

  heading("Each activation at its best rate (median, min-max over seeds)");
  fmt::print("{}", best_md);
  heading("Median steps to 95% · median final test accuracy, per rate (best rate in bold)");
  fmt::print("{}", grid_md);
  if (!dead_md.empty()) {
    heading("Dead units: relu against leaky_relu along the rates");
    fmt::print("{}", dead_md);
  }
  heading("Verdicts");
  for (const json* q : {&q4, &q5})
    for (const auto& [key, v] : q->items())
      if (v.is_string()) fmt::print("{}: {}\n", key, v.get<std::string>());

  // The plots: race at the best rates; the sweep; relu's dead units.
  std::vector<std::string> labels;
  for (const auto& act : config.activations) labels.push_back(fmt::format("{} (lr {})", act, best_lr(act)));
  // relu's dead-unit curves: the shared rate, where relu starts dying, where it collapses.
  std::vector<double> dead_lrs{config.shared_lr};
  for (const char* key : {"relu_dies_lr", "relu_collapses_lr"})
    if (q5.contains(key) && !q5[key].is_null() && q5[key].get<double>() != dead_lrs.back())
      dead_lrs.push_back(q5[key].get<double>());
  render_plots(options, "activation_race", plot_script(config, labels, dead_lrs, options.seed));

  if (!options.check) return 0;
  heading("Checks");
  Checker check;
  check.expect_csv_header(options.out / "runs.csv", "activation,lr,seed,steps_to_90,steps_to_95,final_test_accuracy,"
                                                    "final_train_loss,diverged,diverged_step,dead_fraction,"
                                                    "negative_fraction,ms_per_step");
  check.expect_csv_header(options.out / "curves.csv",
                          "activation,lr,seed,step,train_loss,test_accuracy,dead_layer1,dead_layer2");
  if (has("relu") && has("sigmoid") && has("leaky_relu")) {
    const Cell &relu = best_cell("relu"), &sig = best_cell("sigmoid");
    check.expect(relu.accuracy.median >= 0.9,
                 fmt::format("relu at its best rate reaches {} >= 90% test accuracy", pct(relu.accuracy.median)));
    check.expect(relu.steps_90.median <= sig.steps_90.median,
                 fmt::format("relu at its best rate reaches 90% no later than sigmoid at its own ({} vs {} steps)",
                             steps_text(relu.steps_90.median), steps_text(sig.steps_90.median)));
    const Cell &lo = cell("relu", 0), &hi = cell("relu", n_lr - 1);
    check.expect(hi.diverged > 0 || hi.dead.median > lo.dead.median,
                 fmt::format("relu at lr {} ends with more dead units than at lr {} ({} vs {}), or diverges",
                             config.lrs.back(), config.lrs.front(), pct(hi.dead.median), pct(lo.dead.median)));
    check.expect(q5["leaky_relu_runs_with_dead_units"].get<std::size_t>() == 0,
                 "no leaky_relu run that did not diverge has a dead unit");
    bool diverged_clean = true;
    for (const RunRecord& rec : records)
      if (rec.run.diverged && !(std::isnan(rec.run.dead) && std::isnan(rec.run.final_accuracy))) diverged_clean = false;
    check.expect(diverged_clean, "diverged runs report no dead fraction and no accuracy");
  }
  return check.exit_code();
}

}  // namespace ember::examples::race
