// The measurements of the zero_centered trainer (Q2), one function per part:
//  1. one neuron: dL/dw1 * dL/dw2 over a grid of inputs, from ember's
//     backward, and its gradient against the hand derivative
//     delta * x_i with dL/dH = -2(Y - H) (MSE) or -1/H (BCE, target 1);
//  2. the zig-zag in a real net: how often a second-layer neuron's update
//     moves all its weights the same way, and the cosine between its
//     consecutive updates, under SGD, momentum and Adam;
//  3. speed: steps to a target training loss, sigmoid against centered
//     sigmoid (and tanh, relu), per optimizer and learning rate.
#pragma once

#include "common.hpp"

#include <data/dataset.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ember::examples {

// --- 1 ---
struct NeuronSetup {
  double w1 = 0.25, w2 = -0.2, b = 0.05;  // relu's output stays in [0, 1] on the grid, so BCE is defined for it
  double target = 1;
  double step = 0.1;  // grid spacing over [-2, 2]^2; the axes x1 = 0 and x2 = 0 are grid lines
};

struct SignTally {
  std::string loss, activation;
  int points = 0, undefined = 0, zero = 0, zero_on_axes = 0, agree = 0, disagree = 0;
  std::vector<double> magnitudes;  // nonzero |g1g2|, to scale its panel
  double scale() const;            // the 90th percentile of |g1g2|
};

struct NeuronResult {
  std::vector<SignTally> tallies;
  std::string bce_error;        // what ember says for BCE on a negative tanh output
  double mse_error = 0;         // max |ember's dL/dw_i - (-2(Y - H)) act'(y) x_i| over the grid
  double bce_error_value = 0;   // max |ember's dL/dw_i - (-1/H) act'(y) x_i| (target 1) where defined
  int axis_points = 0;          // grid points with x1 = 0 or x2 = 0
};

NeuronResult single_neuron(const Options& options, const NeuronSetup& setup);

// --- shared: breast cancer, standardized on a seeded split ---
struct QData {
  Dataset train, test;
  Tensor train_targets;
};
QData load_standardized(const Options& options, std::uint64_t seed);

// The net of parts 2 and 3: 30 -> 32 (act) -> 16 (act) -> 1, standard init;
// "layer 2" is the 16-unit layer, fed by the first layer's outputs.
extern const std::vector<Index> kWidths;

// --- 2 ---
struct ZigzagSpec {
  std::string activation, optimizer;  // optimizer: sgd, momentum (0.9) or adam
  double lr = 0.05;
  Index batch_size = 1;
  int steps = 400;
  std::uint64_t seed = 42;
};
struct ZigzagResult {
  double same_sign_gradient = 0;  // fraction of (neuron, step) whose incoming gradients all share a sign
  double same_sign_update = 0;    // ... whose weight updates all share a sign
  double mean_cosine = 0;         // mean cosine between a neuron's consecutive weight updates
  double reversals = 0;           // fraction of consecutive updates with cosine < -0.5
};
ZigzagResult zigzag_run(const ZigzagSpec& spec, const Options& options);

// --- 3 ---
struct SpeedSpec {
  std::string activation, optimizer;
  double lr = 0.1;
  std::uint64_t seed = 42;
  std::vector<double> targets{0.3, 0.1, 0.03};  // descending
  int max_steps = 3000;
  Index batch_size = 32;
  bool full = false;  // run all max_steps, logging the loss curve and the conditioning
};
struct Conditioning {
  double condition = 0, largest = 0, smallest = 0, mean_input = 0;
};
struct SpeedResult {
  std::vector<int> steps_to;  // per target; -1: not reached
  bool diverged = false;
  Conditioning at_init, at_end;
  std::vector<std::string> loss_rows, conditioning_rows;  // CSV lines when full
};
SpeedResult speed_run(const SpeedSpec& spec, const Options& options);

}  // namespace ember::examples
