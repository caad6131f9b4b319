#include "zero_centered_parts.hpp"

#include "mlp.hpp"

#include <nn/optim.hpp>
#include <ops/linalg.hpp>
#include <ops/loss.hpp>

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>

namespace ember::examples {

// --- 1 -------------------------------------------------------------------------

double SignTally::scale() const {
  if (magnitudes.empty()) return 1;
  std::vector<double> m = magnitudes;
  auto k = m.begin() + std::ptrdiff_t(0.9 * double(m.size() - 1));
  std::nth_element(m.begin(), k, m.end());
  return *k;
}

namespace {

// "shifted_tanh" is (1+tanh)/2, tanh moved into [0, 1] so that BCE is defined for it.
Tensor64 neuron_activation(const std::string& name, const Tensor64& y) {
  if (name == "shifted_tanh") return (1.0 + ember::tanh(y)) * 0.5;
  return activation<double>(name)(y);
}

// dH/dy by hand, from H (or y for relu).
double local_derivative(const std::string& name, double y, double h) {
  if (name == "sigmoid") return h * (1 - h);
  if (name == "tanh") return 1 - h * h;
  if (name == "relu") return y > 0 ? 1 : 0;
  const double t = std::tanh(y);  // shifted_tanh
  return 0.5 * (1 - t * t);
}

}  // namespace

NeuronResult single_neuron(const Options& options, const NeuronSetup& setup) {
  CsvWriter csv(options.out / "single_neuron.csv", {"loss", "activation", "x1", "x2", "g1g2"});
  NeuronResult result;
  const int half = int(std::lround(2.0 / setup.step));  // x = k * step, k in [-half, half]: 0 is on the grid
  for (std::string loss : {"bce", "mse"})
    for (std::string act : {"relu", "sigmoid", "tanh", "shifted_tanh"}) {
      SignTally t;
      t.loss = loss;
      t.activation = act;
      for (int i = -half; i <= half; ++i)
        for (int j = -half; j <= half; ++j) {
          const double x1 = i * setup.step, x2 = j * setup.step;
          Tensor64 x = Tensor64::from({{x1, x2}});  // [1, 2]
          Tensor64 w = Tensor64::from_data(std::array{setup.w1, setup.w2}, {2, 1}).requires_grad_();
          Tensor64 b = Tensor64::full({1, 1}, setup.b).requires_grad_();
          Tensor64 target = Tensor64::full({1, 1}, setup.target);
          Tensor64 pre = matmul(x, w) + b;
          const double y = pre.item();  // ember's own y: relu's derivative at y = 1e-17 depends on its rounding
          Tensor64 h = neuron_activation(act, pre);
          const double hv = h.item();
          double g1g2 = std::nan("");
          try {
            Tensor64 l = loss == "bce" ? binary_cross_entropy(h, target) : mse_loss(h, target);
            l.backward();
            auto g = w.grad_values();
            g1g2 = g[0] * g[1];
            // dL/dw_i = dL/dH * dH/dy * x_i with dL/dH = -2(Y - H) for MSE, -Y/H + (1-Y)/(1-H) for BCE.
            const double dl_dh = loss == "mse" ? -2 * (setup.target - hv)
                                               : -setup.target / hv + (1 - setup.target) / (1 - hv);
            const double delta = dl_dh * local_derivative(act, y, hv);
            const double err = std::max(std::abs(g[0] - delta * x1), std::abs(g[1] - delta * x2));
            // BCE clamps H(1 - H) at 1e-12 as PyTorch does (a relu or tanh output at 1e-17 on the grid):
            // those points are left out of the comparison.
            double& worst = loss == "mse" ? result.mse_error : result.bce_error_value;
            if (loss == "mse" || hv * (1 - hv) > 1e-12) worst = std::max(worst, err / std::max(1.0, std::abs(delta)));
          } catch (const ValueError& e) {
            if (result.bce_error.empty()) result.bce_error = e.what();
          }
          csv.row(loss, act, x1, x2, g1g2);
          ++t.points;
          const double product = x1 * x2;
          if (!std::isnan(g1g2) && g1g2 != 0) t.magnitudes.push_back(std::abs(g1g2));
          if (std::isnan(g1g2)) ++t.undefined;
          else if (g1g2 == 0) {
            ++t.zero;
            t.zero_on_axes += product == 0;
          } else if ((g1g2 > 0) == (product > 0) && product != 0) ++t.agree;
          else ++t.disagree;
          if (loss == "bce" && act == "relu") result.axis_points += product == 0;
        }
      result.tallies.push_back(t);
    }
  return result;
}

// --- shared --------------------------------------------------------------------

const std::vector<Index> kWidths{30, 32, 16, 1};

QData load_standardized(const Options& options, std::uint64_t seed) {
  Dataset all = load_csv(data_file(options, "breast_cancer.csv").string());
  Generator split_gen(seed);
  Split split = train_test_split(all, 0.2, split_gen);
  Standardizer scaler;
  split.train.features = scaler.fit_transform(split.train.features);
  split.test.features = scaler.transform(split.test.features);
  return {split.train, split.test, labels_to_tensor(split.train.labels)};
}

namespace {

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params, double lr) {
  if (name == "sgd") return std::make_unique<SGDT<float>>(std::move(params), SGDOptions{.lr = lr});
  if (name == "momentum")
    return std::make_unique<SGDT<float>>(std::move(params), SGDOptions{.lr = lr, .momentum = 0.9});
  if (name == "adam") return std::make_unique<AdamT<float>>(std::move(params), AdamOptions{.lr = lr});
  throw ValueError("zero_centered: unknown optimizer '" + name + "' (sgd, momentum, adam)");
}

// Whether a row's entries with at least two nonzero values all share a sign;
// -1 when the row says nothing (fewer than two nonzero entries).
int all_same_sign(const Eigen::ArrayXf& row) {
  const long positive = (row > 0).count(), negative = (row < 0).count();
  if (positive + negative < 2) return -1;
  return positive == 0 || negative == 0;
}

}  // namespace

// --- 2 -------------------------------------------------------------------------

ZigzagResult zigzag_run(const ZigzagSpec& spec, const Options& options) {
  QData data = load_standardized(options, spec.seed);
  Generator init_gen(spec.seed + 1), batch_gen(spec.seed + 2);
  Mlp model(kWidths, spec.activation, Init::standard, 1.0, init_gen);
  std::unique_ptr<Optimizer> opt = make_optimizer(spec.optimizer, model.parameters(), spec.lr);
  BatchIterator batches(data.train, spec.batch_size, batch_gen);
  Batch batch;
  long grad_same = 0, grad_counted = 0, update_same = 0, update_counted = 0, pairs = 0, reversals = 0;
  double cosines = 0;
  const Index rows = kWidths[2];
  Eigen::MatrixXf previous;  // the last update of W2 [16, 32]
  for (int step = 0; step < spec.steps; ++step) {
    if (!batches.next(batch)) batches.next(batch);
    opt->zero_grad();
    binary_cross_entropy_with_logits(model.forward(batch.features), labels_to_tensor(batch.labels)).backward();
    Eigen::MatrixXf before = std::as_const(model.weight(1)).matrix();
    Eigen::MatrixXf grad = model.weight(1).grad_matrix();
    opt->step();
    Eigen::MatrixXf update = std::as_const(model.weight(1)).matrix() - before;
    for (Index r = 0; r < rows; ++r) {
      const int g = all_same_sign(grad.row(r).array().transpose());
      const int u = all_same_sign(update.row(r).array().transpose());
      if (g >= 0) grad_counted += 1, grad_same += g;
      if (u >= 0) update_counted += 1, update_same += u;
      if (previous.size()) {
        const double na = update.row(r).norm(), nb = previous.row(r).norm();
        if (na > 0 && nb > 0) {
          const double c = double(update.row(r).dot(previous.row(r))) / (na * nb);
          cosines += c;
          reversals += c < -0.5;
          ++pairs;
        }
      }
    }
    previous = update;
  }
  auto frac = [](long a, long b) { return b ? double(a) / double(b) : std::nan(""); };
  return {frac(grad_same, grad_counted), frac(update_same, update_counted), pairs ? cosines / double(pairs) : std::nan(""),
          frac(reversals, pairs)};
}

// --- 3 -------------------------------------------------------------------------

namespace {

// Eigenvalues of E[h h^T], h the second layer's inputs (the first layer's
// outputs) over the training split: for a linear unit it is the Hessian of the
// squared error in the unit's weights, up to a factor (LeCun et al. 1998).
Conditioning input_conditioning(const Mlp& model, const QData& data) {
  NoGradGuard no_grad;
  std::vector<HiddenLayer> hidden;
  model.forward(data.train.features, &hidden);
  Eigen::MatrixXd h = std::as_const(hidden[0].post).matrix().cast<double>();
  Eigen::MatrixXd second = h.transpose() * h / double(h.rows());
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(second, Eigen::EigenvaluesOnly);
  Conditioning c;
  c.largest = eig.eigenvalues().maxCoeff();
  c.smallest = std::max(eig.eigenvalues().minCoeff(), 0.0);
  c.condition = c.smallest > 0 ? c.largest / c.smallest : std::numeric_limits<double>::infinity();
  c.mean_input = h.mean();
  return c;
}

}  // namespace

SpeedResult speed_run(const SpeedSpec& spec, const Options& options) {
  QData data = load_standardized(options, spec.seed);
  Generator init_gen(spec.seed + 1), batch_gen(spec.seed + 2);
  Mlp model(kWidths, spec.activation, Init::standard, 1.0, init_gen);
  std::unique_ptr<Optimizer> opt = make_optimizer(spec.optimizer, model.parameters(), spec.lr);
  BatchIterator batches(data.train, spec.batch_size, batch_gen);
  SpeedResult run;
  run.steps_to.assign(spec.targets.size(), -1);
  run.at_init = input_conditioning(model, data);
  Batch batch;
  for (int step = 0; step <= spec.max_steps; ++step) {
    double loss;
    {
      NoGradGuard no_grad;
      loss = binary_cross_entropy_with_logits(model.forward(data.train.features), data.train_targets).item();
    }
    if (spec.full && (step < 300 || step % 5 == 0))
      run.loss_rows.push_back(CsvWriter::line(spec.activation, spec.lr, spec.seed, step, loss));
    if (spec.full && step % 100 == 0) {
      Conditioning c = input_conditioning(model, data);
      run.conditioning_rows.push_back(CsvWriter::line(spec.activation, spec.lr, spec.seed, step, c.condition,
                                                      c.largest, c.smallest, c.mean_input));
    }
    for (std::size_t k = 0; k < spec.targets.size(); ++k)
      if (run.steps_to[k] < 0 && loss <= spec.targets[k]) run.steps_to[k] = step;
    if (!std::isfinite(loss)) {
      run.diverged = true;
      break;
    }
    if (!spec.full && run.steps_to.back() >= 0) break;
    if (step == spec.max_steps) break;
    if (!batches.next(batch)) batches.next(batch);
    opt->zero_grad();
    binary_cross_entropy_with_logits(model.forward(batch.features), labels_to_tensor(batch.labels)).backward();
    opt->step();
  }
  run.at_end = input_conditioning(model, data);
  return run;
}

}  // namespace ember::examples
