#include "gradcheck.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <utility>
#include <ostream>

#include "../ops/arithmetic.hpp"
#include "../ops/shape.hpp"
#include "autograd.hpp"

namespace ember {

std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) {
  if (r.ok) return os << "gradcheck passed (" << r.compared << " compared, " << r.skipped << " skipped)";
  return os << r.message;
}

namespace {

// Name of the first surrogate-gradient op in the graph behind `t`, or null.
const char* find_surrogate(const Tensor64& t) {
  std::vector<const Node<double>*> stack{&t.node()}, seen;
  while (!stack.empty()) {
    const Node<double>* n = stack.back();
    stack.pop_back();
    if (n->surrogate_gradient) return n->op;
    for (const auto& p : n->inputs)
      if (std::find(seen.begin(), seen.end(), p.get()) == seen.end()) {
        seen.push_back(p.get());
        stack.push_back(p.get());
      }
  }
  return nullptr;
}

std::string element_name(const Shape& s, Index flat) {
  if (s.rank() <= 1) return std::to_string(flat);
  std::string idx;
  for (int a = s.rank() - 1; a >= 0; --a) {
    idx = std::to_string(flat % s[a]) + (idx.empty() ? "" : ",") + idx;
    flat /= s[a];
  }
  return "(" + idx + ")";
}

// Runs f and backward with `upstream`, returning each input's gradient
// (zeros where none arrived).
std::vector<std::vector<double>> analytic(const GradcheckFn& f, std::vector<Tensor64>& xs, const Tensor64& upstream) {
  for (auto& x : xs) x.zero_grad();
  Tensor64 out = f(xs);
  if (out.requires_grad()) out.backward(upstream);
  std::vector<std::vector<double>> grads;
  for (auto& x : xs) {
    if (x.has_grad()) grads.emplace_back(x.grad_values().data(), x.grad_values().data() + x.numel());
    else grads.emplace_back(static_cast<std::size_t>(x.numel()), 0.0);
  }
  return grads;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor64>& inputs, GradcheckOptions opt) {
  GradcheckResult r;
  auto failed = [&](std::string msg) {
    r.ok = false;
    r.message = "gradcheck: " + std::move(msg);
    return r;
  };

  std::vector<Tensor64> xs;
  for (const auto& in : inputs) xs.push_back(in.detach().requires_grad_());
  Tensor64 out0 = f(xs);
  if (const char* op = find_surrogate(out0))
    return failed(fmt::format("op '{}' declares a surrogate gradient (its backward is not the derivative of its "
                              "forward), so finite differences do not apply",
                              op));
  const Shape out_shape = out0.shape();
  const Index n_out = out0.numel();
  const std::vector<double> base = out0.to_vector();

  // Numeric Jacobian, one input element at a time: J[i][k][j] = d out_j / d x_i[k].
  std::vector<std::vector<std::vector<double>>> numeric(xs.size());
  {
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      for (Index k = 0; k < xs[i].numel(); ++k) {
        double& v = xs[i].data()[k];
        const double saved = v;
        v = saved + opt.eps;
        const std::vector<double> plus = f(xs).to_vector();
        v = saved - opt.eps;
        const std::vector<double> minus = f(xs).to_vector();
        v = saved;
        if (static_cast<Index>(plus.size()) != n_out) return failed("the function's output shape changed when its input moved");
        std::vector<double> column(static_cast<std::size_t>(n_out));
        for (Index j = 0; j < n_out; ++j) column[j] = (plus[j] - minus[j]) / (2 * opt.eps);
        numeric[i].push_back(std::move(column));
      }
    }
  }

  // Analytic Jacobian, one output element at a time (backward with a one-hot
  // upstream gradient), compared as it comes.
  for (Index j = 0; j < n_out; ++j) {
    Tensor64 onehot = Tensor64::zeros(out_shape);
    onehot.data()[j] = 1;
    const auto grads = analytic(f, xs, onehot);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      for (Index k = 0; k < xs[i].numel(); ++k) {
        const double a = grads[i][k], n = numeric[i][k][j];
        if (opt.skip_nonfinite && (!std::isfinite(base[j]) || !std::isfinite(xs[i].data()[k]))) {
          ++r.skipped;
          continue;
        }
        ++r.compared;
        const bool close = std::fabs(a - n) <= opt.atol + opt.rtol * std::fabs(n);
        if (!close || std::isnan(a) != std::isnan(n))
          return failed(fmt::format("output element {}, input {} element {} (value {:.9g}): analytic {:.9g} vs numeric "
                                    "{:.9g} (tolerance {:.3g})",
                                    element_name(out_shape, j), i, element_name(xs[i].shape(), k), xs[i].data()[k], a,
                                    n, opt.atol + opt.rtol * std::fabs(n)));
      }
    }
  }

  // A zero upstream gradient must give exactly zero (not NaN, not -0 noise).
  const auto zero = analytic(f, xs, Tensor64::zeros(out_shape));
  for (std::size_t i = 0; i < xs.size(); ++i)
    for (Index k = 0; k < xs[i].numel(); ++k)
      if (zero[i][k] != 0.0 && !(opt.skip_nonfinite && !std::isfinite(xs[i].data()[k])))
        return failed(fmt::format("a zero upstream gradient gave {:.9g} for input {} element {}", zero[i][k], i,
                                  element_name(xs[i].shape(), k)));

  // Backward must be deterministic: the same upstream twice, bit-identical.
  Generator gen(12345);
  const Tensor64 upstream = Tensor64::rand(out_shape, gen, -1, 1);
  const auto first = analytic(f, xs, upstream), second = analytic(f, xs, upstream);
  for (std::size_t i = 0; i < xs.size(); ++i)
    if (!first[i].empty() && std::memcmp(first[i].data(), second[i].data(), first[i].size() * sizeof(double)) != 0)
      return failed(fmt::format("two backward passes with the same upstream gradient differ for input {}", i));
  return r;
}

GradcheckResult gradgradcheck(const GradcheckFn& f, const std::vector<Tensor64>& inputs, GradcheckOptions opt) {
  std::vector<Tensor64> probe;
  for (const auto& in : inputs) probe.push_back(in.detach().requires_grad_());
  Shape out_shape;
  {
    EnableGradGuard grad_on;
    out_shape = f(probe).shape();
  }
  Generator gen(2024);
  std::vector<Tensor64> args(inputs.begin(), inputs.end());
  args.push_back(Tensor64::rand(out_shape, gen, -1, 1));
  const std::size_t n = inputs.size();
  // The recorded first-order gradient must equal the first-order backward's:
  // gradcheck tests only the latter, and the check below differentiates the former.
  {
    EnableGradGuard grad_on;
    const Tensor64 y = f(probe);
    if (y.requires_grad()) {
      const auto recorded = grad<double>({y}, probe, {args.back()}, {.create_graph = true, .allow_unused = true});
      y.backward(args.back());
      for (std::size_t i = 0; i < n; ++i)
        for (Index k = 0; k < probe[i].numel(); ++k) {
          const double fast = probe[i].has_grad() ? std::as_const(probe[i]).node().grad.data()[k] : 0.0;
          const double rec = recorded[i].defined() ? recorded[i].data()[k] : 0.0;
          if (std::fabs(fast - rec) > opt.atol + opt.rtol * std::fabs(fast) || std::isnan(fast) != std::isnan(rec)) {
            GradcheckResult r;
            r.ok = false;
            r.message = fmt::format("gradgradcheck: input {} element {}: the recorded (create_graph) gradient is {:.9g}, "
                                    "the first-order backward gives {:.9g}",
                                    i, element_name(probe[i].shape(), k), rec, fast);
            return r;
          }
        }
    }
  }
  auto first_order = [&f, n](const std::vector<Tensor64>& xs_and_v) {
    EnableGradGuard grad_on;
    const std::vector<Tensor64> xs(xs_and_v.begin(), xs_and_v.begin() + static_cast<std::ptrdiff_t>(n));
    const Tensor64 y = f(xs);
    std::vector<Tensor64> parts;
    std::vector<Tensor64> grads(n);
    if (y.requires_grad()) grads = grad<double>({y}, xs, {xs_and_v[n]}, {.create_graph = true, .allow_unused = true});
    for (std::size_t i = 0; i < n; ++i)
      parts.push_back(grads[i].defined() ? reshape(grads[i], {Index(-1)}) : Tensor64::zeros(Shape{xs[i].numel()}));
    return concat(parts, 0);
  };
  GradcheckResult r = gradcheck(first_order, args, opt);
  if (!r.ok) r.message = "grad" + r.message;  // "gradgradcheck: ..."
  return r;
}

}  // namespace ember
