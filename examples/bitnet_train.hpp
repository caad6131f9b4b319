// The runs of examples/bitnet_activations: the data, the model (fp32 or
// BitLinear hidden layers), one training run with its measurements, the
// runs spread over threads, and the gnuplot script.
#pragma once

#include <ember/ember.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"

namespace ember::examples::bitnet {

extern const std::vector<std::string> kActivations;

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

Data load(const Options& options, const std::string& name, const std::string& file, int epochs);

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
          bool with_curves);

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
std::vector<Run> run_all(const std::vector<Job>& jobs, const Config& config, int threads);

// PNGs: accuracy-<data>.png, zero-weights.png, grad-norms.png, sparsity.png, lr.png (with a sweep).
std::string plot_script(const std::vector<std::string>& datasets, const std::vector<double>& lrs);

}  // namespace ember::examples::bitnet
