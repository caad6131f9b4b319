#include "nan_guard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "../engine/error.hpp"

namespace ember::diag {

namespace {

// "[2x3] min -1 max inf, 0 NaN, 1 Inf"; min and max skip NaN.
template <class T>
std::string summary(ConstArrayMap<T> v, const Shape& shape) {
  Index nan = 0, inf = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (Index i = 0; i < v.size(); ++i) {
    const double x = v[i];
    if (std::isnan(x)) {
      ++nan;
      continue;
    }
    inf += std::isinf(x) ? 1 : 0;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (nan == v.size()) return fmt::format("{} all {} NaN", shape.str(), nan);
  return fmt::format("{} min {:.4g} max {:.4g}, {} NaN, {} Inf", shape.str(), lo, hi, nan, inf);
}

}  // namespace

template <class T>
NanGuard<T>::NanGuard(NanGuardOptions options) : options_(options), scope_(*this) {}

template <class T>
bool NanGuard<T>::bad(ConstArrayMap<T> v) const {
  if (options_.allow_inf) return v.hasNaN();
  // x*0 is NaN exactly for NaN and +-Inf, and the sum of zeros is exact: one
  // vectorized pass (allFinite() stops early, so it does not vectorize).
  return std::isnan((v * T(0)).sum());
}

template <class T>
std::string NanGuard<T>::where(const Node<T>& n) const {
  const auto it = seen_.find(&n);
  if (it != seen_.end() && !it->second.node.expired()) return fmt::format("'{}' op #{}", n.op ? n.op : "?", it->second.seq);
  return n.op ? fmt::format("'{}' (made before the guard)", n.op) : std::string("leaf");
}

template <class T>
void NanGuard<T>::on_forward(const char* op, std::span<const TensorT<T>> inputs, const TensorT<T>& out) {
  const std::uint64_t seq = next_seq_++;
  if (seen_.size() >= prune_at_) {  // forget freed nodes; amortized O(1) per op
    std::erase_if(seen_, [](const auto& kv) { return kv.second.node.expired(); });
    prune_at_ = std::max<std::size_t>(4096, 2 * seen_.size());
  }
  seen_[out.node_ptr().get()] = Seen{out.node_ptr(), seq};
  if (!options_.forward || !bad(out.values())) return;
  std::string msg = fmt::format("{}: non-finite output in forward at op #{} (output {})", op, seq,
                                summary<T>(out.values(), out.shape()));
  bool inputs_bad = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    msg += fmt::format("; input {} from {}: {}", i, where(inputs[i].node()), summary<T>(inputs[i].values(), inputs[i].shape()));
    inputs_bad = inputs_bad || bad(inputs[i].values());
  }
  if (inputs_bad) msg += " (an input was already non-finite)";
  throw ValueError(msg);
}

template <class T>
void NanGuard<T>::throw_backward(const Node<T>& node, const std::string& what, ConstArrayMap<T> values,
                                 const Shape& shape) const {
  std::string msg = fmt::format("{}: non-finite gradient in backward {} ({}); node {}, output {}",
                                node.op ? node.op : "leaf", what, summary<T>(values, shape), where(node),
                                node.shape.str());
  if (!node.grad.empty()) msg += fmt::format("; upstream gradient {}", summary<T>(node.grad.array(), node.shape));
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const Node<T>& in = *node.inputs[i];
    msg += fmt::format("; input {} from {}: {}", i, where(in), summary<T>(in.value.array(), in.shape));
  }
  throw ValueError(msg);
}

template <class T>
void NanGuard<T>::on_backward(const Node<T>& node) {
  if (options_.backward && bad(node.grad.array()))
    throw_backward(node, "arriving at its output (from a consumer or a hook)", node.grad.array(), node.shape);
}

template <class T>
void NanGuard<T>::on_input_grad(const Node<T>& node, int input, ConstArrayMap<T> grad) {
  if (!options_.backward || !bad(grad)) return;
  const Shape& in = node.inputs[static_cast<std::size_t>(input)]->shape;
  // Before broadcast reduction the gradient may still have the output's size.
  throw_backward(node, fmt::format("sent to input {}", input), grad, grad.size() == in.numel() ? in : node.shape);
}

template class NanGuard<float>;
template class NanGuard<double>;

}  // namespace ember::diag
