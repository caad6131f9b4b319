// Gradient norms of a model's parameters, grouped into layers, with flags for
// vanishing and exploding gradients.
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../engine/tensor.hpp"

namespace ember::diag {

// (name, tensor) pairs: the type ModuleT<T>::named_parameters() returns.
template <class T>
using NamedParameters = std::vector<std::pair<std::string, TensorT<T>>>;

// When gradient_report() raises its flags. "Layer" is the part of a parameter
// name before its last '.', so "layers.0.weight" and "layers.0.bias" form
// layer "layers.0"; a name without a '.' is a layer of its own. A layer's
// norm is the L2 norm of all its parameters' gradients together; "first" and
// "last" layer are the first and last in the order the parameters are given.
//
// The defaults: a healthy net keeps first/last within a few orders of
// magnitude (a 10-layer relu net at He init is near 1); each sigmoid layer
// scales the backward signal by at most 0.25 times its weights' gain, so a
// 10-layer sigmoid stack at uniform +-1/sqrt(fan_in) init lands near 1e-8.
struct GradientThresholds {
  double vanishing_ratio = 1e-4;  // vanishing: first/last layer norm below this...
  double vanishing_norm = 1e-7;   // ...or some layer's norm below this (incl. exactly 0)
  double exploding_norm = 1e3;    // exploding: some layer's norm above this or not finite...
  double exploding_ratio = 1e4;   // ...or first/last layer norm above this
};

struct ParameterGradient {
  std::string name;   // "layers.0.weight"
  std::string layer;  // "layers.0"
  std::string param;  // "weight"; equals name when it has no '.'
  double norm = 0;    // L2 norm of its gradient
};

struct LayerGradient {
  std::string name;
  double norm = 0;
};

struct GradientReport {
  std::vector<ParameterGradient> parameters;  // those that have a gradient, in the given order
  std::vector<LayerGradient> layers;          // in order of first appearance
  double total_norm = 0;                      // all parameters together (what clip_grad_norm sees)
  double first_last_ratio = std::numeric_limits<double>::quiet_NaN();  // NaN with fewer than 2 layers
  bool vanishing = false;
  bool exploding = false;
  std::string reason;  // why a flag is raised, e.g. "first/last layer ratio 3.1e-08 < 1e-04"; "" if none
};

// Reads the gradients of `params` (after backward). Parameters without a
// gradient (frozen, or not reached by backward) are skipped.
template <class T>
GradientReport gradient_report(const NamedParameters<T>& params, const GradientThresholds& thresholds = {});

}  // namespace ember::diag
