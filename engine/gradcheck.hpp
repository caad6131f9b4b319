// gradcheck: compares an op's analytic gradient (ember's backward) with
// central finite differences, in float64, in one line:
//
//   CHECK(ember::gradcheck([](const auto& x) { return my_op(x[0], x[1]); }, {a, b}));
//
// It also checks that a zero upstream gradient gives exactly zero gradients
// and that running backward twice gives bit-identical gradients. The result
// converts to bool; on failure its message (printed by doctest) names the
// output element, the input and element, and the analytic and numeric values.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace ember {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step (PyTorch's default)
  double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  // Skip elements where the input or the unperturbed output is not finite:
  // there is no derivative to compare.
  bool skip_nonfinite = true;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // empty when ok
  Index compared = 0;   // (output element, input element) pairs compared
  Index skipped = 0;    // pairs skipped as non-finite
  explicit operator bool() const { return ok; }
};
std::ostream& operator<<(std::ostream& os, const GradcheckResult& r);

using GradcheckFn = std::function<Tensor64(const std::vector<Tensor64>&)>;

// Every input is checked (gradcheck works on its own copies, marked
// requires_grad). An op whose node is marked surrogate_gradient fails with a
// message saying so: its backward is not meant to match finite differences.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor64>& inputs, GradcheckOptions options = {});

// gradgradcheck: the second derivatives, in one line the same way:
//
//   CHECK(ember::gradgradcheck([](const auto& x) { return my_op(x[0]); }, {a}));
//
// With a fixed random upstream gradient v for f's output, it takes
// h(inputs, v) = the gradients of <f(inputs), v> (ember::grad with
// create_graph), flattened and concatenated, and runs gradcheck on h: the
// analytic side is ember's derivative of its own backward, the numeric side
// finite differences of ember's first-order gradient. Inputs are numbered
// as given, with v as the last; failures name the element of h (input i's
// gradient elements come i-th), the input and element, and both values.
GradcheckResult gradgradcheck(const GradcheckFn& f, const std::vector<Tensor64>& inputs,
                              GradcheckOptions options = {});

}  // namespace ember
