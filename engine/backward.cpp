// The reverse-mode engine: one iterative pass over the graph, deepest node
// first (Note [depth order], node.hpp), so a node runs once all its
// consumers have run and its gradient is complete; unless retain_graph, each
// node's inputs and closure are freed once its backward has run.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "autograd.hpp"

#include "record.hpp"
#include "traversal.hpp"

namespace ember {

namespace detail {

std::atomic<std::uint64_t> g_last_mark{0};
std::atomic<bool> g_graph_grads_stored{false};
std::atomic<int> g_running{0};
std::mutex g_active_mutex;
std::vector<std::uint64_t> g_active;  // marks of the passes now running

ActivePass::ActivePass() : mark_(g_last_mark.fetch_add(1) + 1) {
  std::lock_guard lock(g_active_mutex);
  g_active.push_back(mark_);
  g_running.fetch_add(1);
}
ActivePass::~ActivePass() {
  std::lock_guard lock(g_active_mutex);
  g_active.erase(std::find(g_active.begin(), g_active.end(), mark_));
  g_running.fetch_sub(1);
}

bool mark_is_active(std::uint64_t mark) {
  if (mark == 0 || g_running.load() < 2) return false;
  std::lock_guard lock(g_active_mutex);
  return std::find(g_active.begin(), g_active.end(), mark) != g_active.end();
}

}  // namespace detail

namespace {

using detail::ActivePass;
using detail::claim;
using detail::g_graph_grads_stored;

template <class T>
void run_hooks(Node<T>& node) {
  if (!node.hooks || node.grad.empty()) return;
  TensorT<T> g = TensorT<T>::empty(node.shape);
  g.values() = node.grad.array();
  for (auto& hook : *node.hooks) {
    TensorT<T> replaced = hook(g);
    if (!replaced.defined()) continue;
    if (!(replaced.shape() == node.shape))
      fail<ShapeError>("register_hook: hook on a tensor of shape {} returned a gradient of shape {}",
                       node.shape.str(), replaced.shape().str());
    g = replaced.detach();
  }
  node.grad.array() = g.values();
}

template <class T>
void run_backward(const std::shared_ptr<Node<T>>& root, const TensorT<T>* upstream, bool retain_graph) {
  if (!root->requires_grad)
    fail<GraphError>("backward: tensor of shape {} does not require grad (no input was marked requires_grad_(), or "
                     "it was computed under NoGradGuard)",
                     root->shape.str());
  if (upstream) {
    if (!(upstream->shape() == root->shape))
      fail<ShapeError>("backward: upstream gradient of shape {} for a tensor of shape {}", upstream->shape().str(),
                       root->shape.str());
  } else if (root->shape.numel() != 1) {
    fail<GraphError>("backward: tensor of shape {} is not a scalar; pass an upstream gradient of the same shape",
                     root->shape.str());
  }

  const ActivePass pass;
  const std::uint64_t mark = pass.mark();

  // Non-leaf gradients start empty in every pass (a retained one from an
  // earlier pass is dropped). A leaf with hooks must show its hooks only this
  // pass's gradient, so its accumulated gradient is set aside meanwhile.
  using Stash = std::vector<std::pair<std::shared_ptr<Node<T>>, Buffer<T>>>;
  Stash stashed;
  struct Restore {  // puts stashed leaf gradients back, also when an op throws
    Stash& stashed;
    ~Restore() {
      for (auto& [leaf, old] : stashed) {
        if (leaf->grad.empty()) leaf->grad = std::move(old);
        else leaf->grad.array() += old.array();
      }
    }
  } restore{stashed};
  const bool graph_grads = g_graph_grads_stored.load(std::memory_order_relaxed);
  // A node enters this pass when it is claimed; a freed graph is refused
  // before any gradient reaches it.
  auto enter = [&](const std::shared_ptr<Node<T>>& p) {
    if (p->graph_freed)
      fail<GraphError>("backward: the graph through '{}' was already freed by an earlier backward; call the first "
                       "backward with retain_graph = true to run backward twice",
                       p->op);
    if (graph_grads && p->grad_graph) p->grad_graph.reset();  // this pass's gradient is not a graph
    if (!p->is_leaf()) p->grad.reset();
    else if (p->hooks && !p->grad.empty()) stashed.emplace_back(p, std::move(p->grad));
  };
  claim(*root, mark);
  enter(root);

  // Seed dL/d(root): the upstream gradient, or 1 (added to a gradient the
  // root kept from an earlier pass with retain_grad).
  const Index size = root->shape.numel();
  const bool fresh = root->grad.empty();
  if (fresh) root->grad = Buffer<T>(size);
  if (upstream)
    store_elementwise(root->grad.data(), size, upstream->values(), fresh ? Store::assign : Store::add);
  else if (fresh)
    root->grad.array().setConstant(T(1));
  else
    root->grad.array() += T(1);

  // One pass in reverse topological order (Note [depth order], node.hpp):
  // `ready` is a max-heap on depth holding the nodes reached so far. Every
  // consumer of a node is deeper than the node, so when the deepest waiting
  // node is taken, all its consumers in this graph have run and its gradient
  // is complete. A node claims its inputs before its backward sends them
  // gradients, and hands them to `ready` after it. Leaves without hooks
  // only collect gradients and never wait in `ready`.
  // Unless retain_graph, a node gives its input references to `ready`, then
  // drops its other inputs and its closure; a node nothing else refers to is
  // destroyed right after its backward, while its memory is still in cache.
  // The list is borrowed from a per-thread spare (kept for the next pass, so
  // a training step allocates nothing here); a hook that runs backward on
  // another graph borrows another one.
  struct Waiting {
    std::shared_ptr<Node<T>> node;
    std::uint32_t depth;
  };
  struct Borrowed {
    using List = std::vector<Waiting>;
    static std::vector<List>& spares() {
      static thread_local std::vector<List> lists;
      return lists;
    }
    List list;
    Borrowed() {
      if (!spares().empty()) {
        list = std::move(spares().back());
        spares().pop_back();
      }
    }
    ~Borrowed() {
      list.clear();  // also after a throw: the nodes not reached are released here
      spares().push_back(std::move(list));
    }
  } borrowed;
  std::vector<Waiting>& ready = borrowed.list;
  const auto shallower = [](const Waiting& a, const Waiting& b) { return a.depth < b.depth; };
  const auto wait = [&](std::shared_ptr<Node<T>> p) {
    const std::uint32_t depth = p->depth;
    ready.push_back({std::move(p), depth});
    std::push_heap(ready.begin(), ready.end(), shallower);
  };
  wait(root);
  const bool observed = !observers<T>().empty();
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), shallower);
    const std::shared_ptr<Node<T>> n = std::move(ready.back().node);
    ready.pop_back();
    if (n->hooks) run_hooks(*n);
    if (n->is_leaf()) continue;
    // Inputs this pass reaches first through n (a bit per input; an input
    // past the 64th waits at once, by a copied reference).
    std::uint64_t entered = 0;
    std::size_t i = 0;
    for (auto& p : n->inputs) {
      if (p->requires_grad && claim(*p, mark)) {
        enter(p);
        if (!p->is_leaf() || p->hooks) {
          if (i < 64) entered |= std::uint64_t(1) << i;
          else wait(p);
        }
      }
      ++i;
    }
    if (!n->grad.empty()) {
      if (observed)
        for (auto* o : observers<T>()) o->on_backward(*n);
      Backward<T> b(*n);
      n->backward(b);
      b.finish();
    }
    if (!n->retain_grad) n->grad.reset();
    for (i = 0; entered != 0; ++i, entered >>= 1) {
      if (!(entered & 1)) continue;
      auto& p = n->inputs[i];
      if (retain_graph) {
        wait(p);
      } else {
        p->drop_consumer();  // n lets go of it here: release_inputs() skips the moved-from slot
        wait(std::move(p));
      }
    }
    if (!retain_graph) {
      n->release_inputs();
      n->backward = nullptr;
      n->graph_freed = true;
    }
  }
}

}  // namespace

template <class T>
void TensorT<T>::backward(BackwardOptions options) const {
  (void)node();
  if (!options.create_graph) return run_backward<T>(node_ptr(), nullptr, options.retain_graph);
  detail::run_graph_backward<T>({*this}, {}, nullptr, true, true);
}

template <class T>
void TensorT<T>::backward(const TensorT& upstream, BackwardOptions options) const {
  (void)node();
  (void)upstream.node();
  if (!options.create_graph) return run_backward<T>(node_ptr(), &upstream, options.retain_graph);
  detail::run_graph_backward<T>({*this}, {upstream}, nullptr, true, true);
}

template <class T>
void TensorT<T>::backward(bool retain_graph) const {
  (void)node();  // throws for an undefined tensor
  run_backward<T>(node_ptr(), nullptr, retain_graph);
}

template <class T>
void TensorT<T>::backward(const TensorT& upstream, bool retain_graph) const {
  (void)node();
  (void)upstream.node();
  run_backward<T>(node_ptr(), &upstream, retain_graph);
}

template void TensorT<float>::backward(bool) const;
template void TensorT<double>::backward(bool) const;
template void TensorT<float>::backward(const TensorT<float>&, bool) const;
template void TensorT<double>::backward(const TensorT<double>&, bool) const;
template void TensorT<float>::backward(BackwardOptions) const;
template void TensorT<double>::backward(BackwardOptions) const;
template void TensorT<float>::backward(const TensorT<float>&, BackwardOptions) const;
template void TensorT<double>::backward(const TensorT<double>&, BackwardOptions) const;

}  // namespace ember
