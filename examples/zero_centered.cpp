// Q2: does "not zero-centered" matter? Three measurements (docs/SCIENCE.md):
//  1. one neuron: dL/dw1 * dL/dw2 over a grid of inputs, by ember's backward,
//     for BCE and MSE x relu, sigmoid, tanh (and (1+tanh)/2);
//  2. a two-layer-plus-head net on breast cancer: how often a second-layer
//     neuron's incoming weight gradients all share a sign, by the first
//     layer's activation and the batch size;
//  3. sigmoid against centered sigmoid (same derivative, zero mean): steps to
//     a target loss and the conditioning of the second layer's inputs.
#include "common.hpp"
#include "mlp.hpp"
#include "zero_centered_plots.hpp"

#include <data/dataset.hpp>
#include <nn/linear.hpp>
#include <nn/optim.hpp>
#include <ops/linalg.hpp>
#include <ops/loss.hpp>

#include <Eigen/Eigenvalues>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>

using namespace ember;
using namespace ember::examples;

namespace {

// --- 1. the single neuron ------------------------------------------------------

struct NeuronSetup {
  double w1 = 0.25, w2 = -0.2, b = 0.05;  // relu's output stays in [0, 1] on the grid, so BCE is defined for it
  double target = 1;
  double step = 0.1;                      // grid spacing over [-2, 2]^2
};

// The activations of part 1: "shifted_tanh" is (1+tanh)/2, tanh moved into
// [0, 1] so that BCE is defined for it.
Tensor64 neuron_activation(const std::string& name, const Tensor64& y) {
  if (name == "shifted_tanh") return (1.0 + ember::tanh(y)) * 0.5;
  return activation<double>(name)(y);
}

struct SignTally {
  std::string loss, activation;
  int points = 0, undefined = 0, zero = 0, agree = 0, disagree = 0;
  std::vector<double> magnitudes;  // nonzero |g1g2|, to scale its panel
  // The panel's colour scale: the 90th percentile of |g1g2|, so that the
  // spikes where a BCE input nears 0 (dL/dH = -1/H) do not wash it out.
  double scale() const {
    if (magnitudes.empty()) return 1;
    std::vector<double> m = magnitudes;
    auto k = m.begin() + std::ptrdiff_t(0.9 * double(m.size() - 1));
    std::nth_element(m.begin(), k, m.end());
    return *k;
  }
};

std::vector<SignTally> single_neuron(const Options& options, const NeuronSetup& setup, std::string& bce_error) {
  CsvWriter csv(options.out / "single_neuron.csv", {"loss", "activation", "x1", "x2", "g1g2"});
  std::vector<SignTally> tallies;
  const int n = int(std::lround(4.0 / setup.step));
  for (std::string loss : {"bce", "mse"})
    for (std::string act : {"relu", "sigmoid", "tanh", "shifted_tanh"}) {
      SignTally t;
      t.loss = loss;
      t.activation = act;
      for (int i = 0; i <= n; ++i)
        for (int j = 0; j <= n; ++j) {
          const double x1 = -2.0 + i * setup.step, x2 = -2.0 + j * setup.step;
          Tensor64 x = Tensor64::from({{x1, x2}});                      // [1, 2]
          Tensor64 w = Tensor64::from_data(std::array{setup.w1, setup.w2}, {2, 1}).requires_grad_();
          Tensor64 b = Tensor64::full({1, 1}, setup.b).requires_grad_();
          Tensor64 target = Tensor64::full({1, 1}, setup.target);
          Tensor64 h = neuron_activation(act, matmul(x, w) + b);
          double g1g2 = std::nan("");
          try {
            Tensor64 l = loss == "bce" ? binary_cross_entropy(h, target) : mse_loss(h, target);
            l.backward();
            auto g = w.grad_values();
            g1g2 = g[0] * g[1];
          } catch (const ValueError& e) {
            if (bce_error.empty()) bce_error = e.what();
          }
          csv.row(loss, act, x1, x2, g1g2);
          ++t.points;
          const double product = x1 * x2;
          if (!std::isnan(g1g2) && g1g2 != 0) t.magnitudes.push_back(std::abs(g1g2));
          if (std::isnan(g1g2)) ++t.undefined;
          else if (g1g2 == 0) ++t.zero;
          else if ((g1g2 > 0) == (product > 0) && product != 0) ++t.agree;
          else ++t.disagree;
        }
      tallies.push_back(t);
    }
  return tallies;
}

// --- shared: breast cancer, standardized --------------------------------------

struct Data {
  Dataset train, test;
  Tensor train_targets;
};

Data load(const Options& options) {
  Dataset all = load_csv(data_file(options, "breast_cancer.csv").string());
  Generator split_gen(options.seed);
  Split split = train_test_split(all, 0.2, split_gen);
  Standardizer scaler;
  split.train.features = scaler.fit_transform(split.train.features);
  split.test.features = scaler.transform(split.test.features);
  return {split.train, split.test, labels_to_tensor(split.train.labels)};
}

const std::vector<std::string> kFeeding{"sigmoid", "tanh", "relu", "centered_sigmoid"};
const std::vector<Index> kWidths{30, 32, 16, 1};  // two hidden layers plus a head; "layer 2" is the 16-unit one

// --- 2. sign agreement ---------------------------------------------------------

// Whether a second-layer neuron's nonzero incoming weight gradients (a row of
// dL/dW2, [16, 32]) all share a sign; rows with fewer than two nonzero
// entries say nothing and are skipped.
struct Agreement {
  long same = 0, counted = 0;
  double fraction() const { return counted ? double(same) / double(counted) : std::nan(""); }
};

void tally_rows(MatrixMap<float> g, Agreement& a) {
  for (Index r = 0; r < g.rows(); ++r) {
    auto row = g.row(r).array();
    const long positive = (row > 0).count(), negative = (row < 0).count();
    if (positive + negative < 2) continue;
    ++a.counted;
    if (positive == 0 || negative == 0) ++a.same;
  }
}

double sign_agreement(const std::string& act, Index batch_size, int steps, double lr, const Data& data,
                      std::uint64_t seed) {
  Generator init_gen(seed + 1), batch_gen(seed + 2);
  Mlp model(kWidths, act, Init::standard, 1.0, init_gen);
  SGDT<float> sgd(model.parameters(), {.lr = lr});
  BatchIterator batches(data.train, batch_size, batch_gen);
  Batch batch;
  Agreement a;
  for (int step = 0; step < steps; ++step) {
    if (!batches.next(batch)) batches.next(batch);
    sgd.zero_grad();
    binary_cross_entropy_with_logits(model.forward(batch.features), labels_to_tensor(batch.labels)).backward();
    tally_rows(model.weight(1).grad_matrix(), a);
    sgd.step();
  }
  return a.fraction();
}

// --- 3. does it cost speed? ----------------------------------------------------

struct Conditioning {
  double condition = 0, largest = 0, smallest = 0, mean_input = 0;
};

// Eigenvalues of E[h h^T], h the second layer's inputs (the first layer's
// outputs) over the training split: for a linear unit it is the Hessian of the
// squared error in the unit's weights, up to a factor (LeCun et al. 1998).
Conditioning input_conditioning(Mlp& model, const Data& data) {
  NoGradGuard no_grad;
  std::vector<HiddenLayer> hidden;
  model.forward(data.train.features, &hidden);
  Eigen::MatrixXd h = hidden[0].post.matrix().cast<double>();
  Eigen::MatrixXd second = h.transpose() * h / double(h.rows());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(second, Eigen::EigenvaluesOnly);
  Conditioning c;
  c.largest = eig.eigenvalues().maxCoeff();
  c.smallest = std::max(eig.eigenvalues().minCoeff(), 0.0);
  c.condition = c.smallest > 0 ? c.largest / c.smallest : std::numeric_limits<double>::infinity();
  c.mean_input = h.mean();
  return c;
}

struct SpeedConfig {
  std::vector<std::string> activations{"sigmoid", "centered_sigmoid", "tanh", "relu"};
  std::vector<double> lrs{0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0};  // each activation is judged at its best
  int seeds = 5;
  int max_steps = 3000;
  int eval_every = 1;
  Index batch_size = 32;
  double target_loss = 0.1;
};

struct SpeedRun {
  int steps_to_target = -1;  // -1: not reached (or diverged)
  Conditioning at_init, at_end;
};

// Trains until the training loss reaches the target (or, with `full`, for
// max_steps, logging the loss curve and the conditioning along the way).
SpeedRun speed_run(const std::string& act, double lr, std::uint64_t seed, const SpeedConfig& config,
                   const Data& data, bool full, CsvWriter& losses, CsvWriter& conditioning) {
  Generator init_gen(seed + 1), batch_gen(seed + 2);
  Mlp model(kWidths, act, Init::standard, 1.0, init_gen);
  SGDT<float> sgd(model.parameters(), {.lr = lr});
  BatchIterator batches(data.train, config.batch_size, batch_gen);
  SpeedRun run;
  run.at_init = input_conditioning(model, data);
  Batch batch;
  for (int step = 0; step <= config.max_steps; ++step) {
    if (step % config.eval_every == 0) {
      double loss;
      {
        NoGradGuard no_grad;
        loss = binary_cross_entropy_with_logits(model.forward(data.train.features), data.train_targets).item();
      }
      if (full && (step < 300 || step % 5 == 0)) losses.row(act, lr, seed, step, loss);
      if (full && step % 100 == 0) {
        Conditioning c = input_conditioning(model, data);
        conditioning.row(act, lr, seed, step, c.condition, c.largest, c.smallest, c.mean_input);
      }
      if (run.steps_to_target < 0 && loss <= config.target_loss) run.steps_to_target = step;
      if (!std::isfinite(loss) || (!full && run.steps_to_target >= 0)) break;
    }
    if (step == config.max_steps) break;
    if (!batches.next(batch)) batches.next(batch);
    sgd.zero_grad();
    binary_cross_entropy_with_logits(model.forward(batch.features), labels_to_tensor(batch.labels)).backward();
    sgd.step();
  }
  run.at_end = input_conditioning(model, data);
  return run;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string plot_script(const std::vector<SignTally>& tallies, std::uint64_t seed, double target_loss,
                        const std::vector<double>& curve_lrs) {
  std::vector<double> scales;
  for (const SignTally& t : tallies) scales.push_back(t.scale());
  return zero_centered_plot_script(scales, seed, target_loss, curve_lrs);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Does \"not zero-centered\" matter (Q2)? One neuron's gradient signs, sign agreement in a real net, "
               "and sigmoid vs centered sigmoid"};
  Options options;
  add_common_options(app, options, "zero_centered", 42);
  NeuronSetup neuron;
  SpeedConfig speed;
  // The learning rates whose loss curves and conditioning are logged in full:
  // a moderate one, and a large one where the two sigmoids part ways.
  std::vector<double> curve_lrs{0.3, 10.0};
  int sign_steps = 400;
  double sign_lr = 0.05;
  app.add_option("--target-loss", speed.target_loss, "Part 3: the training loss to reach")->capture_default_str();
  app.add_option("--curve-lrs", curve_lrs, "Part 3: the learning rates whose full loss curves are logged")
      ->capture_default_str();
  app.add_option("--speed-seeds", speed.seeds, "Part 3: seeds (inits and batch orders) per activation")
      ->capture_default_str();
  app.add_option("--sign-steps", sign_steps, "Part 2: SGD steps per activation and batch size")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {
    neuron.step = 0.5;
    if (!app.count("--sign-steps")) sign_steps = 60;
    if (!app.count("--speed-seeds")) speed.seeds = 2;
    speed.max_steps = 600;
    speed.lrs = {0.1, 0.3, 1.0};
    if (!app.count("--curve-lrs")) curve_lrs = {0.3, 1.0};
  }

  try {
    prepare_run(options);
    Checker check;

    // 1.
    heading("1. One neuron: sign of dL/dw1 * dL/dw2 against sign of x1 * x2");
    fmt::print("H = act(w.x + b), w = ({}, {}), b = {}, target {}; gradients from ember's backward (float64), grid "
               "[-2, 2]^2 step {}\n",
               neuron.w1, neuron.w2, neuron.b, neuron.target, neuron.step);
    std::string bce_error;
    std::vector<SignTally> tallies = single_neuron(options, neuron, bce_error);
    Table t1({"loss", "activation", "points", "undefined", "g1g2 = 0", "same sign as x1x2", "opposite"});
    int disagreements = 0, agreements = 0;
    for (const auto& t : tallies) {
      t1.add({t.loss, t.activation, std::to_string(t.points), std::to_string(t.undefined), std::to_string(t.zero),
              std::to_string(t.agree), std::to_string(t.disagree)});
      disagreements += t.disagree;
      agreements += t.agree;
    }
    t1.print();
    fmt::print("(shifted_tanh is (1+tanh)/2; g1g2 = 0 where relu is off or x1 or x2 is 0)\n");
    fmt::print("BCE on a tanh output below 0 is undefined; ember says:\n  {}\n", bce_error.empty() ? "(no error!)" : bce_error);
    fmt::print("=> sign(g1g2) = sign(x1 x2) at {} of {} points where it is defined and nonzero: dL/dw_i = delta * x_i, "
               "whatever the activation and the loss.\n",
               agreements, agreements + disagreements);

    // 2.
    Data data = load(options);
    heading("2. A real net: do a second-layer neuron's incoming weight gradients share a sign?");
    fmt::print("breast cancer, MLP 30 -> 32 (act) -> 16 (act) -> 1, standard init, BCE with logits, SGD lr {}, {} "
               "steps per cell; a (neuron, step) counts when its >= 2 nonzero incoming gradients all share a sign\n",
               sign_lr, sign_steps);
    CsvWriter sign_csv(options.out / "sign_agreement.csv", {"feeding_activation", "batch_size", "same_sign_fraction"});
    const std::vector<Index> batch_sizes{1, 8, 64};
    std::map<std::pair<std::string, Index>, double> agreement;
    Table t2({"feeding activation", "batch 1", "batch 8", "batch 64"});
    for (const auto& act : kFeeding) {
      std::vector<std::string> row{act};
      for (Index bs : batch_sizes) {
        double f = sign_agreement(act, bs, sign_steps, sign_lr, data, options.seed);
        agreement[{act, bs}] = f;
        sign_csv.row(act, bs, f);
        row.push_back(percent(f));
      }
      t2.add(row);
    }
    t2.print();
    sign_csv.close();

    // 3.
    heading("3. Does it cost speed? sigmoid against centered sigmoid (same derivative, zero mean)");
    fmt::print("same net, SGD, batch {}; steps until the training loss <= {} (evaluated every {} steps, at most {}), "
               "median over {} seeds, at each learning rate; condition number of E[h h^T], h = the second layer's "
               "inputs on the training split (at init, and after {} steps at lr {})\n",
               speed.batch_size, speed.target_loss, speed.eval_every, speed.max_steps, speed.seeds, speed.max_steps,
               curve_lrs.front());
    CsvWriter loss_csv(options.out / "speed.csv", {"activation", "lr", "seed", "step", "train_loss"});
    CsvWriter cond_csv(options.out / "conditioning.csv",
                       {"activation", "lr", "seed", "step", "condition_number", "largest_eigenvalue", "smallest_eigenvalue",
                        "mean_input"});
    std::map<std::string, double> best_steps, best_lr, median_cond, median_cond_end;
    std::map<std::string, double> largest_ok_lr;  // the largest lr at which the median run reaches the target
    std::map<std::pair<std::string, double>, double> steps_at;
    std::vector<std::string> header{"activation"};
    for (double lr : speed.lrs) header.push_back(fmt::format("lr {}", lr));
    for (std::string h : {"best", "cond at init", "cond at end", "mean input"}) header.push_back(h);
    Table t3(header);
    auto steps_text = [](double v) { return std::isinf(v) ? std::string(">max") : fixed(v, 0); };
    for (const auto& act : speed.activations) {
      std::vector<std::string> row{act};
      best_steps[act] = std::numeric_limits<double>::infinity();
      std::vector<double> cond_init, cond_end, mean_in;
      for (double lr : speed.lrs) {
        std::vector<double> steps;
        for (int s = 0; s < speed.seeds; ++s) {
          const bool full = std::find(curve_lrs.begin(), curve_lrs.end(), lr) != curve_lrs.end();
          SpeedRun r = speed_run(act, lr, options.seed + 100 * std::uint64_t(s), speed, data, full, loss_csv, cond_csv);
          steps.push_back(r.steps_to_target < 0 ? std::numeric_limits<double>::infinity() : r.steps_to_target);
          if (lr == curve_lrs.front()) {
            cond_init.push_back(r.at_init.condition);
            cond_end.push_back(r.at_end.condition);
            mean_in.push_back(r.at_init.mean_input);
          }
        }
        const double m = median(steps);
        row.push_back(steps_text(m));
        if (!std::isinf(m)) largest_ok_lr[act] = std::max(largest_ok_lr[act], lr);
        steps_at[{act, lr}] = m;
        if (m < best_steps[act]) {
          best_steps[act] = m;
          best_lr[act] = lr;
        }
      }
      median_cond[act] = median(cond_init);
      median_cond_end[act] = median(cond_end);
      row.push_back(std::isinf(best_steps[act]) ? ">max" : fmt::format("{} (lr {})", steps_text(best_steps[act]), best_lr[act]));
      row.push_back(sci(median_cond[act]));
      row.push_back(sci(median_cond_end[act]));
      row.push_back(fixed(median(mean_in), 3));
      t3.add(row);
    }
    t3.print();
    loss_csv.close();
    cond_csv.close();
    fmt::print("(steps: median over seeds, >max = not reached or diverged; cond and mean input: medians over seeds; "
               "mean input = the average of the second layer's inputs at init)\n");

    heading("Verdict");
    const double sig1 = agreement[{"sigmoid", 1}], tanh1 = agreement[{"tanh", 1}];
    const double sig64 = agreement[{"sigmoid", 64}];
    fmt::print("Q2: the reader's algebra holds: for one neuron sign(dL/dw1 dL/dw2) = sign(x1 x2) with every loss "
               "and activation, so the sign-locking is a property of a neuron's INPUTS. A sigmoid (or relu) layer "
               "makes the next layer's inputs all positive: at batch 1, {} of sigmoid-fed and {} of relu-fed "
               "neurons' gradients share one sign, against {} tanh-fed and {} centered-sigmoid-fed; batching "
               "dilutes it (sigmoid-fed at batch 64: {}).\n",
               percent(sig1), percent(agreement[{"relu", 1}]), percent(tanh1),
               percent(agreement[{"centered_sigmoid", 1}]), percent(sig64));
    const double s_sig = best_steps["sigmoid"], s_cen = best_steps["centered_sigmoid"];
    std::string speed_verdict =
        std::isinf(s_sig) && !std::isinf(s_cen) ? "Zero-centering decides whether the target is reached at all."
        : s_cen < 0.8 * s_sig                    ? fmt::format("Zero-centering buys {:.1f}x fewer steps.", s_sig / s_cen)
        : s_cen <= 1.25 * s_sig                  ? "Zero-centering alone buys little speed here."
                                                 : "Here the sigmoid is faster.";
    const double ok_sig = largest_ok_lr["sigmoid"], ok_cen = largest_ok_lr["centered_sigmoid"];
    const double low = speed.lrs.front();
    const double low_ratio = steps_at[{"sigmoid", low}] / steps_at[{"centered_sigmoid", low}];
    fmt::print("    Cost: at lr {} sigmoid needs {:.2f}x the steps of centered sigmoid; at its best rate centered sigmoid reaches loss {} in {} steps (lr {}), sigmoid in {} (lr {}); tanh, "
               "whose derivative is 4x larger, in {}. The second layer's input second-moment matrix is {:.0f}x worse "
               "conditioned with sigmoid at init ({} vs {}): the mean input adds one large eigenvalue{}. {}\n",
               low, low_ratio, speed.target_loss, steps_text(s_cen), best_lr["centered_sigmoid"], steps_text(s_sig),
               best_lr["sigmoid"], steps_text(best_steps["tanh"]), median_cond["sigmoid"] / median_cond["centered_sigmoid"],
               sci(median_cond["sigmoid"]), sci(median_cond["centered_sigmoid"]),
               ok_sig < ok_cen ? fmt::format(", and sigmoid stops reaching the target above lr {} while centered sigmoid "
                                             "still does at lr {}",
                                             ok_sig, ok_cen)
                               : "",
               speed_verdict);

    render_plots(options, "zero_centered", plot_script(tallies, options.seed, speed.target_loss, curve_lrs));

    if (options.check) {
      heading("Checks");
      check.expect_csv_header(options.out / "single_neuron.csv", "loss,activation,x1,x2,g1g2");
      check.expect_csv_header(options.out / "sign_agreement.csv", "feeding_activation,batch_size,same_sign_fraction");
      check.expect(disagreements == 0 && agreements > 0,
                   fmt::format("sign(g1g2) = sign(x1 x2) at all {} defined nonzero points", agreements + disagreements));
      check.expect(bce_error.find("outside [0, 1]") != std::string::npos,
                   "BCE on a negative tanh output raises a ValueError naming [0, 1]");
      check.expect(sig1 >= 0.9, fmt::format("sigmoid-fed same-sign fraction at batch 1 is {} >= 90%", percent(sig1)));
      check.expect(tanh1 <= 0.1, fmt::format("tanh-fed same-sign fraction at batch 1 is {} <= 10%", percent(tanh1)));
      check.expect(sig64 < sig1, fmt::format("batching dilutes it: sigmoid-fed at batch 64 {} < batch 1 {}",
                                             percent(sig64), percent(sig1)));
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "zero_centered: {}\n", e.what());
    return 1;
  }
  return 0;
}
