#include "vanishing_gradients_run.hpp"

#include <data/metrics.hpp>
#include <nn/optim.hpp>
#include <ops/loss.hpp>
#include <ops/math.hpp>
#include <ops/reduction.hpp>

#include <cmath>
#include <utility>

namespace ember::examples {

DeepNet::DeepNet(Index inputs, const NetSpec& spec, Generator& gen)
    : spec_(spec), activation_(ember::activation<float>(spec.activation)) {
  std::vector<Index> widths{inputs};
  for (int l = 0; l < spec.depth; ++l) widths.push_back(spec.width);
  widths.push_back(1);
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    Tensor w = Tensor::empty({widths[l + 1], widths[l]});
    Tensor b = Tensor::empty({widths[l + 1]});
    init::layer_(w, b, spec.init, gen, spec.gain);
    weights_.push_back(w.requires_grad_());
    biases_.push_back(b.requires_grad_());
    if (spec.layer_norm && l + 2 < widths.size()) {
      gammas_.push_back(Tensor::full({widths[l + 1]}, 1.0f).requires_grad_());
      betas_.push_back(Tensor::full({widths[l + 1]}, 0.0f).requires_grad_());
    }
  }
}

Tensor DeepNet::forward(const Tensor& x, std::vector<HiddenLayer>* hidden, std::vector<Tensor>* outputs) const {
  if (hidden) hidden->clear();
  if (outputs) outputs->clear();
  Tensor h = x;
  const std::size_t last = weights_.size() - 1;
  for (std::size_t l = 0; l < last; ++l) {
    Tensor y = linear(h, weights_[l], biases_[l]);
    if (spec_.layer_norm) {  // over the units of each sample: y:[N, width], mean and var:[N, 1]
      Tensor centered = y - mean(y, 1, true);
      y = centered * rsqrt(var(centered, 1, 0.0, true) + 1e-5f) * gammas_[l] + betas_[l];
    }
    Tensor f = activation_(y);
    if (hidden) hidden->push_back({y, f});
    h = spec_.residual && l > 0 ? h + f : f;
    if (outputs) outputs->push_back(h);
  }
  return linear(h, weights_[last], biases_[last]);
}

std::vector<Tensor> DeepNet::parameters() {
  std::vector<Tensor> params;
  for (std::size_t l = 0; l < weights_.size(); ++l) {
    params.push_back(weights_[l]);
    params.push_back(biases_[l]);
  }
  for (std::size_t l = 0; l < gammas_.size(); ++l) {
    params.push_back(gammas_[l]);
    params.push_back(betas_[l]);
  }
  return params;
}

namespace {

struct Data {
  Dataset train, test;
  Tensor train_targets;
  double majority = 0;
};

Data load(const Options& options, const RunSpec& spec, double test_fraction) {
  Dataset all = load_csv(data_file(options, "breast_cancer.csv").string());
  Generator split_gen(spec.seed);
  Split split = train_test_split(all, test_fraction, split_gen);
  if (!spec.raw_inputs) {
    Standardizer scaler;
    split.train.features = scaler.fit_transform(split.train.features);
    split.test.features = scaler.transform(split.test.features);
  }
  Data d{split.train, split.test, labels_to_tensor(split.train.labels), 0};
  Index ones = 0;
  for (Index y : d.train.labels) ones += y;
  const Index majority_class = 2 * ones >= d.train.size() ? 1 : 0;
  Index hits = 0;
  for (Index y : d.test.labels) hits += y == majority_class;
  d.majority = double(hits) / double(d.test.size());
  return d;
}

Tensor head_loss(const Tensor& logits, const Tensor& targets, bool mse) {
  return mse ? mse_loss(sigmoid(logits), targets) : binary_cross_entropy_with_logits(logits, targets);
}

// Std over samples of each column of m:[N, units], averaged over the units.
double sample_spread(ConstMatrixMap<float> m) {
  Eigen::MatrixXd x = m.cast<double>();
  Eigen::RowVectorXd mu = x.colwise().mean();
  return ((x.rowwise() - mu).array().square().colwise().mean().sqrt()).mean();
}

// The logit's gradient N·dL/dz on the training split under one head, and
// the parameters' gradients left in .grad().
Eigen::ArrayXd head_gradient(const DeepNet& net, const Data& d, bool mse) {
  Tensor z = net.forward(d.train.features);
  z.retain_grad();
  head_loss(z, d.train_targets, mse).backward();
  return z.grad().matrix().cast<double>().array() * double(d.train.size());
}

}  // namespace

RunResult train_run(const RunSpec& spec, const TrainConfig& config, const Options& options) {
  Data data = load(options, spec, config.test_fraction);
  Generator init_gen(spec.seed + 1), batch_gen(spec.seed + 2);
  DeepNet net(data.train.num_features(), spec.net, init_gen);
  SGDT<float> sgd(net.parameters(), {.lr = config.lr});
  RunResult r;
  r.spec = spec;
  r.majority = data.majority;

  // At init: the head's gradient under both losses, on the whole training split.
  {
    Tensor z;
    {
      NoGradGuard no_grad;
      z = net.forward(data.train.features);
    }
    Eigen::ArrayXd p = 1.0 / (1.0 + (-std::as_const(z).matrix().cast<double>().array()).exp());
    Eigen::ArrayXd y = data.train_targets.matrix().cast<double>().array();
    Eigen::Array<bool, Eigen::Dynamic, 1> wrong = (p > 0.5) != (y > 0.5);
    Eigen::ArrayXd g_mse = head_gradient(net, data, true);
    sgd.zero_grad();
    Eigen::ArrayXd g_bce = head_gradient(net, data, false);
    r.head_identity_error = (g_bce - (p - y)).abs().maxCoeff();
    r.head_bce = g_bce.abs().mean();
    r.head_mse = g_mse.abs().mean();
    const double n_wrong = double(wrong.count());
    r.head_bce_wrong = n_wrong ? wrong.select(g_bce.abs(), 0.0).sum() / n_wrong : std::nan("");
    r.head_mse_wrong = n_wrong ? wrong.select(g_mse.abs(), 0.0).sum() / n_wrong : std::nan("");
    // The weight gradients at init under the run's own loss, and the
    // gradient's norm before and after each layer's weights and activation.
    sgd.zero_grad();
    std::vector<HiddenLayer> layers;
    Tensor logits = net.forward(data.train.features, &layers);
    logits.retain_grad();
    for (auto& h : layers) {
      h.pre.retain_grad();
      h.post.retain_grad();
    }
    head_loss(logits, data.train_targets, spec.mse_head).backward();
    for (int l = 0; l < net.num_layers(); ++l) r.grad_init.push_back(net.weight(l).grad_matrix().norm());
    double after = logits.grad().matrix().norm();  // ||dL/dy|| of the layer above
    for (std::size_t l = layers.size(); l-- > 0;) {
      const double dh = layers[l].post.grad().matrix().norm(), dy = layers[l].pre.grad().matrix().norm();
      const bool plain = !spec.net.residual;
      r.weight_factor.insert(r.weight_factor.begin(), plain ? dh / after : std::nan(""));
      r.activation_factor.insert(r.activation_factor.begin(), plain ? dy / dh : std::nan(""));
      after = dy;
    }
    sgd.zero_grad();
  }

  BatchIterator batches(data.train, config.batch_size, batch_gen);
  const int total_steps = config.epochs * int(batches.num_batches());
  r.steps = total_steps;
  Batch batch;
  std::vector<HiddenLayer> hidden;
  std::vector<Tensor> outputs;
  const std::string& key = spec.key;
  for (int step = 0;; ++step) {
    if (!batches.next(batch)) batches.next(batch);
    sgd.zero_grad();
    Tensor loss = head_loss(net.forward(batch.features), labels_to_tensor(batch.labels), spec.mse_head);
    loss.backward();
    const bool logged = step % config.log_every == 0 || step == total_steps;
    if (logged) {
      if (spec.log_curves)
        for (int l = 0; l < net.num_layers(); ++l)
          r.grad_rows.push_back(CsvWriter::line(key, step, l + 1, double(net.weight(l).grad_matrix().norm())));
      NoGradGuard no_grad;
      Tensor logits = net.forward(data.train.features, &hidden, &outputs);
      const double train_loss = head_loss(logits, data.train_targets, spec.mse_head).item();
      const double test_accuracy = accuracy(net.forward(data.test.features), data.test.labels);
      if (spec.log_curves) r.training_rows.push_back(CsvWriter::line(key, step, train_loss, test_accuracy));
      double saturated = 0, dead = 0, derivative = 0;
      const double n = double(hidden.size());
      for (std::size_t l = 0; l < hidden.size(); ++l) {
        LayerActivity a = layer_activity(spec.net.activation, hidden[l]);
        const double spread = sample_spread(std::as_const(outputs[l]).matrix());
        if (spec.log_curves)
          r.activity_rows.push_back(
              CsvWriter::line(key, step, int(l) + 1, a.saturated, a.dead, a.mean_derivative, spread));
        if (step == 0) {
          r.dhdy_init.push_back(a.mean_derivative);
          r.saturated_init.push_back(a.saturated);
          r.spread_init.push_back(spread);
        }
        saturated += a.saturated / n;
        dead += a.dead / n;
        derivative += a.mean_derivative / n;
      }
      if (step == 0) r.logit_spread_init = sample_spread(std::as_const(logits).matrix());
      r.saturated_max = std::max(r.saturated_max, saturated);
      r.final_loss = train_loss;
      r.test_accuracy = test_accuracy;
      r.train_accuracy = accuracy(logits, data.train.labels);
      r.saturated_end = saturated;
      r.dead_end = dead;
      r.dhdy_end = derivative;
      if (!std::isfinite(train_loss)) {
        r.diverged = true;
        break;
      }
    }
    if (step == total_steps) break;
    sgd.step();
  }
  return r;
}

}  // namespace ember::examples
