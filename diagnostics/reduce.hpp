// Vectorized reductions for the diagnostics: sums in blocks of T, blocks
// added in double. (A cast to double before summing does not vectorize, and
// a float running sum over a large tensor loses digits.)
#pragma once

#include <algorithm>
#include <cmath>

#include "../engine/buffer.hpp"

namespace ember::diag::detail {

template <class Derived>
double blocked_sum(const Eigen::ArrayBase<Derived>& a) {
  constexpr Index kBlock = 1024;
  double total = 0;
  for (Index b = 0; b < a.size(); b += kBlock)
    total += static_cast<double>(a.segment(b, std::min(kBlock, a.size() - b)).sum());
  return total;
}

// ||v||^2. A float block whose squares overflow (|v| > 1e19) is redone in
// double, so exploding gradients get their true norm.
template <class T>
double squared_norm(ConstArrayMap<T> v) {
  const double fast = blocked_sum(v.square());
  if (std::isfinite(fast) || !v.allFinite()) return fast;
  return v.template cast<double>().square().sum();
}

}  // namespace ember::diag::detail
