// What the two backward passes share (engine/backward.cpp, the first-order
// pass; engine/graph_pass.cpp, the recorded one): claiming nodes per pass.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "tensor.hpp"

namespace ember::detail {

// Note [traversal marks]. Each backward pass takes a process-wide unique
// mark and claims every node it visits by compare-and-swap of the node's
// `visit` field from a mark that is not active to its own. Marks left behind
// by finished passes are inactive, so a graph built on one thread can be
// back-propagated on any other, as often as it is retained. A node holding
// the mark of a pass that is still running belongs to that pass: the second
// pass stops with a GraphError before it has changed anything the first one
// uses. Whether a mark is active is looked up (under a mutex) only while two
// or more passes run in the process; a single pass pays one CAS per node.

// Set once some recorded pass has stored a gradient graph in a node (Node::
// grad_graph): until then a first-order pass need not look for stale ones.
extern std::atomic<bool> g_graph_grads_stored;

class ActivePass {
 public:
  ActivePass();
  ~ActivePass();
  ActivePass(const ActivePass&) = delete;
  ActivePass& operator=(const ActivePass&) = delete;
  std::uint64_t mark() const { return mark_; }

 private:
  std::uint64_t mark_;
};

bool mark_is_active(std::uint64_t mark);

// Claims `node` for the pass `mark`. False when this pass had claimed it
// already; throws when another running pass holds it.
template <class T>
bool claim(Node<T>& node, std::uint64_t mark) {
  std::uint64_t seen = node.visit.load(std::memory_order_acquire);
  for (;;) {
    if (seen == mark) return false;
    if (mark_is_active(seen))
      fail<GraphError>("backward: another backward pass is running through '{}' (a tensor of shape {}), on another "
                       "thread or from inside a hook; passes over graphs that share nodes (parameters included) must "
                       "not overlap in time",
                       node.op ? node.op : "leaf", node.shape.str());
    if (node.visit.compare_exchange_weak(seen, mark, std::memory_order_acq_rel)) return true;
  }
}

// The recorded pass (graph_pass.cpp): gradients as tensors from `roots`
// (seeded by `upstreams`, or 1); with `targets`, returns their gradients and
// changes no .grad(), else accumulates into the leaves' (and retain_grad
// nodes') .grad().
template <class T>
std::vector<TensorT<T>> run_graph_backward(const std::vector<TensorT<T>>& roots, const std::vector<TensorT<T>>& upstreams,
                                           const std::vector<TensorT<T>>* targets, bool create_graph, bool retain_graph);

}  // namespace ember::detail
