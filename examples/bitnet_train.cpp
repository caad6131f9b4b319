#include "bitnet_train.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ember::examples::bitnet {

const std::vector<std::string> kActivations = {"relu", "relu_squared", "swiglu", "silu", "gelu", "tanh", "sigmoid"};

namespace {

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

}  // namespace

Data load(const Options& options, const std::string& name, const std::string& file, int epochs) {
  Dataset all = load_csv(data_file(options, file).string());
  Generator split_gen(options.seed);
  Split split = train_test_split(all, 0.2, split_gen);
  Standardizer scaler;
  split.train.features = scaler.fit_transform(split.train.features);
  split.test.features = scaler.transform(split.test.features);
  return {name, split.train, split.test, epochs};
}

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


}  // namespace ember::examples::bitnet
