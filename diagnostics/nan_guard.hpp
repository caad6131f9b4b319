// NanGuard: an opt-in anomaly detector. While one lives, every op's forward
// output and every gradient in backward is checked, and the first NaN or Inf
// throws a ValueError naming the op, its forward sequence number, forward or
// backward, and min/max/NaN/Inf counts of its inputs (and of the upstream
// gradient in backward):
//
//   diag::NanGuard<float> guard;        // on for this scope, this thread
//   auto loss = model(x) ...;           // throws at the first non-finite value
//
// After a throw from backward the graph is intact but gradients are partly
// accumulated: zero_grad() before the next step.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "../engine/observer.hpp"
#include "../engine/tensor.hpp"

namespace ember::diag {

struct NanGuardOptions {
  bool forward = true;     // check every op's output
  bool backward = true;    // check the gradient arriving at every node and every gradient sent to an input
  bool allow_inf = false;  // flag NaN only (for deliberate -inf, e.g. masks)
};

template <class T>
class NanGuard : public GraphObserver<T> {
 public:
  explicit NanGuard(NanGuardOptions options = {});  // installs itself on this thread until destroyed
  NanGuard(const NanGuard&) = delete;
  NanGuard& operator=(const NanGuard&) = delete;

  // Forward ops seen since construction; the next op gets this number.
  std::uint64_t ops_seen() const { return next_seq_; }

  void on_forward(const char* op, std::span<const TensorT<T>> inputs, const TensorT<T>& out) override;
  void on_backward(const Node<T>& node) override;
  void on_input_grad(const Node<T>& node, int input, ConstArrayMap<T> grad) override;

 private:
  struct Seen {
    std::weak_ptr<Node<T>> node;  // tells a live node from a reused address
    std::uint64_t seq;
  };
  bool bad(ConstArrayMap<T> v) const;
  std::string where(const Node<T>& n) const;  // "op #12" or "leaf"
  [[noreturn]] void throw_backward(const Node<T>& node, const std::string& what, ConstArrayMap<T> values,
                                   const Shape& shape) const;

  NanGuardOptions options_;
  std::unordered_map<const Node<T>*, Seen> seen_;
  std::size_t prune_at_ = 4096;
  std::uint64_t next_seq_ = 0;
  ObserverScope<T> scope_;  // declared last: installed once the rest is ready, removed first
};

}  // namespace ember::diag
