#include "grad_norms.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "reduce.hpp"

namespace ember::diag {

template <class T>
GradientReport gradient_report(const NamedParameters<T>& params, const GradientThresholds& th) {
  GradientReport r;
  std::vector<double> layer_sq;  // squared norms, parallel to r.layers
  double total_sq = 0;
  for (const auto& [name, tensor] : params) {
    if (!tensor.defined() || !tensor.has_grad()) continue;
    auto& node = tensor.node();
    const double sq = detail::squared_norm<T>(std::as_const(node.grad).array());
    const auto dot = name.rfind('.');
    ParameterGradient p{name, dot == std::string::npos ? name : name.substr(0, dot),
                        dot == std::string::npos ? name : name.substr(dot + 1), std::sqrt(sq)};
    auto it = std::find_if(r.layers.begin(), r.layers.end(), [&](const LayerGradient& l) { return l.name == p.layer; });
    if (it == r.layers.end()) {
      r.layers.push_back({p.layer, 0});
      layer_sq.push_back(0);
      it = r.layers.end() - 1;
    }
    layer_sq[static_cast<std::size_t>(it - r.layers.begin())] += sq;
    total_sq += sq;
    r.parameters.push_back(std::move(p));
  }
  for (std::size_t i = 0; i < r.layers.size(); ++i) r.layers[i].norm = std::sqrt(layer_sq[i]);
  r.total_norm = std::sqrt(total_sq);
  if (r.layers.size() >= 2) r.first_last_ratio = r.layers.front().norm / r.layers.back().norm;

  std::vector<std::string> why;
  if (r.first_last_ratio < th.vanishing_ratio)
    why.push_back(fmt::format("vanishing: first/last layer ratio {:.2g} < {:.2g}", r.first_last_ratio,
                              th.vanishing_ratio));
  if (r.first_last_ratio > th.exploding_ratio)
    why.push_back(fmt::format("exploding: first/last layer ratio {:.2g} > {:.2g}", r.first_last_ratio,
                              th.exploding_ratio));
  for (const auto& l : r.layers) {
    if (l.norm < th.vanishing_norm)
      why.push_back(fmt::format("vanishing: layer {} norm {:.2g} < {:.2g}", l.name, l.norm, th.vanishing_norm));
    if (!(l.norm <= th.exploding_norm))  // also NaN and Inf
      why.push_back(fmt::format("exploding: layer {} norm {:.2g} > {:.2g}", l.name, l.norm, th.exploding_norm));
  }
  for (const auto& w : why) {
    r.vanishing = r.vanishing || w.starts_with("vanishing");
    r.exploding = r.exploding || w.starts_with("exploding");
  }
  r.reason = fmt::format("{}", fmt::join(why, "; "));
  return r;
}

template GradientReport gradient_report<float>(const NamedParameters<float>&, const GradientThresholds&);
template GradientReport gradient_report<double>(const NamedParameters<double>&, const GradientThresholds&);

}  // namespace ember::diag
