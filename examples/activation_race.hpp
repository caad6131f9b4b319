// activation_race's pieces (Q3's training-time side, Q4, Q5): the grid of
// runs, one run's measurements, and the report built from all of them.
// activation_race.cpp trains, activation_race_report.cpp aggregates and
// writes the tables, summary.json and the verdicts, activation_race_plots.cpp
// holds the gnuplot script.
#pragma once

#include "common.hpp"

#include <ember/ember.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ember::examples::race {

struct Config {
  std::vector<std::string> activations{"sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"};
  std::vector<double> lrs{0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5};
  std::vector<Index> hidden{128, 64};
  Index batch_size = 32;
  double momentum = 0.9;
  int epochs = 20;
  int seeds = 5;
  int eval_every = 10;
  double shared_lr = 0.05;  // the single rate the earlier race used for every activation
  // A run has diverged when a training loss is not finite, or when the loss
  // on the whole training split rises above blow_up times its value at init
  // (checked at every evaluation; the run stops there), or ends above it.
  double blow_up = 10;
};

// One (activation, rate, seed) run. Steps are NaN when never reached;
// dead/negative fractions are NaN for a diverged run (its units hold NaN,
// which says nothing about dead units).
struct Run {
  std::string activation;
  double lr = 0;
  std::uint64_t seed = 0;
  double steps_to_90 = NAN, steps_to_95 = NAN;
  double final_accuracy = NAN, final_loss = NAN, initial_loss = NAN;
  bool diverged = false;
  double diverged_step = NAN;
  double dead = NAN, negative = NAN;  // over both hidden layers, at the end
  std::vector<double> dead_per_layer;  // at the end
  double ms_per_step = NAN;            // CPU time of the training steps (race.csv only: it varies run to run)
};

// Curve rows of one run: step, train loss, test accuracy, dead fraction per layer.
struct CurvePoint {
  int step = 0;
  double loss = NAN, accuracy = NAN;
  std::vector<double> dead_per_layer;
};

struct RunRecord {
  Run run;
  std::vector<CurvePoint> curve;
};

// Text form of a record (a sweep point's result) and back.
std::string serialize(const RunRecord& r);
RunRecord deserialize(const std::string& text);

// Writes runs.csv, curves.csv, by_rate.csv, best_curves.csv, the markdown
// tables (best.md, by_rate.md, dead.md, shared_rate.md), summary.json, and
// prints the terminal summary with the verdicts. Returns the number of
// failed --check expectations (0 without --check).
int report(const Options& options, const Config& config, const std::vector<RunRecord>& records);

// The gnuplot script for race.png, lr_sweep.png and dead_units.png.
// best_labels: "relu (lr 0.1)" per activation; dead_lrs: the rates whose
// relu dead-unit curves are shown; first_seed: the seed they show.
std::string plot_script(const Config& config, const std::vector<std::string>& best_labels,
                        const std::vector<double>& dead_lrs, std::uint64_t first_seed);

}  // namespace ember::examples::race
