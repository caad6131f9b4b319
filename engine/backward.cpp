// The reverse-mode engine. Iterative throughout:
//  1. collect the nodes that need a gradient with an explicit stack, counting
//     for each node how many consumers inside this graph will send it one;
//  2. run backward in topological order (Kahn): a node runs once all its
//     consumers have run, so its gradient is complete exactly once per use;
//  3. unless retain_graph, free each node's inputs and closure once its
//     backward has run.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../ops/arithmetic.hpp"
#include "autograd.hpp"

#include "record.hpp"

namespace ember {

namespace {

// Note [traversal marks]. Each backward pass takes a process-wide unique
// mark and claims every node it visits by compare-and-swap of the node's
// `visit` field from a mark that is not active to its own. Marks left behind
// by finished passes are inactive, so a graph built on one thread can be
// back-propagated on any other, as often as it is retained. A node holding
// the mark of a pass that is still running belongs to that pass: the second
// pass stops with a GraphError before it has changed anything the first one
// uses. Whether a mark is active is looked up (under a mutex) only while two
// or more passes run in the process; a single pass pays one CAS per node.
std::atomic<std::uint64_t> g_last_mark{0};
// Set once some recorded pass has stored a gradient graph in a node (Node::
// grad_graph): until then a first-order pass need not look for stale ones.
std::atomic<bool> g_graph_grads_stored{false};
std::atomic<int> g_running{0};
std::mutex g_active_mutex;
std::vector<std::uint64_t> g_active;  // marks of the passes now running

class ActivePass {
 public:
  ActivePass() : mark_(g_last_mark.fetch_add(1) + 1) {
    std::lock_guard lock(g_active_mutex);
    g_active.push_back(mark_);
    g_running.fetch_add(1);
  }
  ~ActivePass() {
    std::lock_guard lock(g_active_mutex);
    g_active.erase(std::find(g_active.begin(), g_active.end(), mark_));
    g_running.fetch_sub(1);
  }
  ActivePass(const ActivePass&) = delete;
  ActivePass& operator=(const ActivePass&) = delete;
  std::uint64_t mark() const { return mark_; }

 private:
  std::uint64_t mark_;
};

bool mark_is_active(std::uint64_t mark) {
  if (mark == 0 || g_running.load() < 2) return false;
  std::lock_guard lock(g_active_mutex);
  return std::find(g_active.begin(), g_active.end(), mark) != g_active.end();
}

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

  // 1. Collect. Non-leaf gradients start empty in every pass (a retained one
  // from an earlier pass is dropped). A leaf with hooks must show its hooks
  // only this pass's gradient, so its accumulated gradient is set aside.
  // Collection holds raw pointers: the graph owns every node until step 2.
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
  static thread_local std::vector<Node<T>*> stack;  // reused: no allocation per pass
  stack.clear();
  const bool graph_grads = g_graph_grads_stored.load(std::memory_order_relaxed);
  auto visit = [&](const std::shared_ptr<Node<T>>& p) {
    p->pending = 0;
    if (graph_grads && p->grad_graph) p->grad_graph.reset();  // this pass's gradient is not a graph
    if (!p->is_leaf()) p->grad.reset();
    else if (p->hooks && !p->grad.empty()) stashed.emplace_back(p, std::move(p->grad));
    stack.push_back(p.get());
  };
  claim(*root, mark);
  visit(root);
  while (!stack.empty()) {
    Node<T>* n = stack.back();
    stack.pop_back();
    if (n->graph_freed)
      fail<GraphError>("backward: the graph through '{}' was already freed by an earlier backward; call the first "
                       "backward with retain_graph = true to run backward twice",
                       n->op);
    for (auto& p : n->inputs) {
      if (!p->requires_grad) continue;
      if (claim(*p, mark)) visit(p);
      ++p->pending;
    }
  }

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

  // 2. Topological order. `ready` owns the nodes whose gradient is complete.
  // Unless retain_graph, a node hands each input to `ready` when it is that
  // input's last consumer, then drops its other inputs and its closure; a
  // node nothing else refers to is destroyed right after its backward, while
  // its memory is still in cache.
  std::vector<std::shared_ptr<Node<T>>> ready{root};
  const bool observed = !observers<T>().empty();
  while (!ready.empty()) {
    const std::shared_ptr<Node<T>> n = std::move(ready.back());
    ready.pop_back();
    if (n->hooks) run_hooks(*n);
    if (n->is_leaf()) continue;
    if (!n->grad.empty()) {
      if (observed)
        for (auto* o : observers<T>()) o->on_backward(*n);
      Backward<T> b(*n);
      n->backward(b);
      b.finish();
    }
    if (!n->retain_grad) n->grad.reset();
    for (auto& p : n->inputs) {
      if (!p->requires_grad || --p->pending != 0) continue;
      if (retain_graph) {
        ready.push_back(p);
      } else {
        p->drop_consumer();  // this node lets go of it here: release_inputs() skips the moved-from slot
        ready.push_back(std::move(p));
      }
    }
    if (!retain_graph) {
      n->release_inputs();
      n->backward = nullptr;
      n->graph_freed = true;
    }
  }
}

// --- the recorded pass (create_graph, ember::grad) ------------------------------
//
// The same traversal with gradients held as tensors, so that each op's
// backward (Note [one derivative], graph_backward.hpp) records the graph of
// its gradient. Used by backward(create_graph) and by ember::grad, which
// also prunes the nodes no requested input depends on and leaves every
// .grad() untouched.

template <class T>
class GraphPass final : public GradSink<T> {
 public:
  void add(const std::shared_ptr<Node<T>>& input, TensorT<T> g) override {
    TensorT<T>& slot = grads_[input.get()];
    slot = slot.defined() ? slot + g : std::move(g);
  }
  bool wanted(const Node<T>& n) const override { return !pruned_ || reaches_.count(&n) != 0; }
  TensorT<T> take(Node<T>* n) {
    auto it = grads_.find(n);
    if (it == grads_.end()) return {};
    TensorT<T> g = std::move(it->second);
    grads_.erase(it);
    return g;
  }
  // Marks the nodes from which some target can be reached (iterative DFS).
  void prune_to(const std::vector<Node<T>*>& roots, const std::vector<Node<T>*>& targets) {
    pruned_ = true;
    std::unordered_set<Node<T>*> target_set(targets.begin(), targets.end()), done;
    std::vector<std::pair<Node<T>*, std::size_t>> stack;
    for (Node<T>* r : roots) {
      if (done.count(r)) continue;
      stack.emplace_back(r, 0);
      done.insert(r);
      while (!stack.empty()) {
        auto& [n, next] = stack.back();
        if (next < n->inputs.size()) {
          Node<T>* child = n->inputs[next++].get();
          if (child->requires_grad && done.insert(child).second) stack.emplace_back(child, 0);
          continue;
        }
        bool reach = target_set.count(n) != 0;
        for (const auto& p : n->inputs) reach = reach || reaches_.count(p.get()) != 0;
        if (reach) reaches_.insert(n);
        stack.pop_back();
      }
    }
  }

 private:
  std::unordered_map<Node<T>*, TensorT<T>> grads_;
  std::unordered_set<const Node<T>*> reaches_;
  bool pruned_ = false;
};

// The gradient of a node whose backward cannot be recorded (a closure
// written for Backward<T> only, or a surrogate gradient): computed by the
// first-order closure, then wrapped in a node that refuses to be
// differentiated, so a higher derivative through it is an error, never a
// silent zero.
template <class T>
void first_order_fallback(const std::shared_ptr<Node<T>>& n, const TensorT<T>& g, GraphPass<T>& sink) {
  const std::size_t count = n->inputs.size();
  std::vector<Buffer<T>> kept(count);
  for (std::size_t i = 0; i < count; ++i) kept[i] = std::move(n->inputs[i]->grad);
  Buffer<T> own = std::move(n->grad);  // a retained gradient stays as it was
  struct Restore {
    const std::shared_ptr<Node<T>>& n;
    std::vector<Buffer<T>>& kept;
    Buffer<T>& own;
    ~Restore() {  // in reverse: an input used twice got its gradient stashed at its first slot
      for (std::size_t i = kept.size(); i-- > 0;) n->inputs[i]->grad = std::move(kept[i]);
      n->grad = std::move(own);
    }
  } restore{n, kept, own};
  n->grad = Buffer<T>(g.numel());
  n->grad.array() = g.values();
  Backward<T> b(*n);
  n->backward(b);
  b.finish();
  const char* op = n->op;
  const bool surrogate = n->surrogate_gradient;
  for (std::size_t i = 0; i < count; ++i) {
    Node<T>& input = *n->inputs[i];
    if (input.grad.empty()) continue;
    auto gi = TensorT<T>::from_data(std::span<const T>(input.grad.data(), std::size_t(input.grad.size())), input.shape);
    input.grad.reset();
    gi = record(gi, surrogate ? "surrogate_backward" : "first_order_backward", {g, TensorT<T>(n->inputs[i])},
                [op, surrogate](Backward<T>&) {
                  if (surrogate)
                    fail<GraphError>("{}: declares a surrogate gradient (its backward is not the derivative of its "
                                     "forward), so its gradient cannot be differentiated again",
                                     op);
                  fail<GraphError>("{}: its backward closure takes Backward<T>& and is first order only; write it as a "
                                   "generic closure ([](auto& b) ...) to differentiate its gradient again "
                                   "(docs/adding-an-op.md)",
                                   op);
                });
    sink.add(n->inputs[i], std::move(gi));
  }
}

template <class T>
std::vector<TensorT<T>> run_graph_backward(const std::vector<TensorT<T>>& roots, const std::vector<TensorT<T>>& upstreams,
                                           const std::vector<TensorT<T>>* targets, bool create_graph,
                                           bool retain_graph) {
  const char* who = targets ? "grad" : "backward";
  if (!upstreams.empty() && upstreams.size() != roots.size())
    fail<ValueError>("grad: {} outputs but {} grad_outputs", roots.size(), upstreams.size());
  for (std::size_t r = 0; r < roots.size(); ++r) {
    const Node<T>& root = roots[r].node();
    if (!root.requires_grad)
      fail<GraphError>("{}: output {} (shape {}) does not require grad (no input was marked requires_grad_(), or it "
                       "was computed under NoGradGuard)",
                       who, r, root.shape.str());
    if (!upstreams.empty() && upstreams[r].defined()) {
      if (!(upstreams[r].shape() == root.shape))
        fail<ShapeError>("{}: upstream gradient of shape {} for output {} of shape {}", who,
                         upstreams[r].shape().str(), r, root.shape.str());
    } else if (root.shape.numel() != 1) {
      fail<GraphError>("{}: output {} of shape {} is not a scalar; pass an upstream gradient of the same shape", who,
                       r, root.shape.str());
    }
  }
  if (create_graph) retain_graph = true;  // the new graph reads the forward's saved values
  std::optional<NoGradGuard> no_grad;
  if (!create_graph) no_grad.emplace();
  std::optional<EnableGradGuard> grad_on;
  if (create_graph) grad_on.emplace();

  const ActivePass pass;
  const std::uint64_t mark = pass.mark();
  std::vector<Node<T>*> stack, root_nodes;
  for (const auto& r : roots) {
    Node<T>* n = &r.node();
    root_nodes.push_back(n);
    if (claim(*n, mark)) {
      n->pending = 0;
      stack.push_back(n);
    }
  }
  while (!stack.empty()) {
    Node<T>* n = stack.back();
    stack.pop_back();
    if (n->graph_freed)
      fail<GraphError>("{}: the graph through '{}' was already freed by an earlier backward; call the first backward "
                       "with retain_graph = true to run backward twice",
                       who, n->op);
    if (!targets && !n->is_leaf()) {  // a leaf keeps its gradient (and its graph) to add to
      n->grad.reset();
      n->grad_graph.reset();
    }
    for (auto& p : n->inputs) {
      if (!p->requires_grad) continue;
      if (claim(*p, mark)) {
        p->pending = 0;
        stack.push_back(p.get());
      }
      ++p->pending;
    }
  }

  GraphPass<T> sink;
  std::vector<Node<T>*> target_nodes;
  if (targets) {
    for (std::size_t i = 0; i < targets->size(); ++i) {
      const Node<T>& t = (*targets)[i].node();
      if (!t.requires_grad)
        fail<GraphError>("grad: input {} (shape {}) does not require grad", i, t.shape.str());
      target_nodes.push_back(const_cast<Node<T>*>(&t));
    }
    sink.prune_to(root_nodes, target_nodes);
  }
  for (std::size_t r = 0; r < roots.size(); ++r)
    sink.add(roots[r].node_ptr(), !upstreams.empty() && upstreams[r].defined() ? upstreams[r]
                                                                              : TensorT<T>::ones(roots[r].shape()));

  std::vector<TensorT<T>> captured(target_nodes.size());
  std::vector<std::shared_ptr<Node<T>>> ready;
  for (const auto& r : roots)
    if (r.node().pending == 0 && std::find(ready.begin(), ready.end(), r.node_ptr()) == ready.end())
      ready.push_back(r.node_ptr());
  while (!ready.empty()) {
    const std::shared_ptr<Node<T>> n = std::move(ready.back());
    ready.pop_back();
    TensorT<T> g = sink.take(n.get());
    if (g.defined() && n->hooks)
      for (auto& hook : *n->hooks) {
        TensorT<T> replaced = hook(g);
        if (!replaced.defined()) continue;
        if (!(replaced.shape() == n->shape))
          fail<ShapeError>("register_hook: hook on a tensor of shape {} returned a gradient of shape {}",
                           n->shape.str(), replaced.shape().str());
        g = replaced;
      }
    // A gradient handed out must not be a tensor the caller holds (an
    // upstream gradient, a hook's result): a leaf is copied, or passed
    // through a recorded identity when it requires grad.
    if (g.defined() && g.is_leaf() && (n->is_leaf() || n->retain_grad || !target_nodes.empty()))
      g = g.requires_grad() ? g * T(1) : g.detach();
    for (std::size_t t = 0; t < target_nodes.size(); ++t)
      if (target_nodes[t] == n.get() && g.defined()) captured[t] = g;
    if (g.defined() && !targets && (n->is_leaf() || n->retain_grad)) {
      // backward(create_graph): the gradient is kept as values and as a graph.
      g_graph_grads_stored.store(true, std::memory_order_relaxed);
      if (n->grad.empty()) {
        n->grad = Buffer<T>(n->shape.numel());
        n->grad.array() = g.values();
        n->grad_graph = g.node_ptr();
      } else if (n->grad_graph) {  // a second create_graph backward adds to the first's graph
        n->grad.array() += g.values();
        n->grad_graph = (TensorT<T>(n->grad_graph) + g).node_ptr();
      } else {
        const auto old = TensorT<T>::from_data(std::span<const T>(n->grad.data(), std::size_t(n->grad.size())),
                                               n->shape);
        n->grad.array() += g.values();
        n->grad_graph = (old + g).node_ptr();
      }
    }
    if (g.defined() && !n->is_leaf() && sink.wanted(*n)) {
      if (n->backward.differentiable() && !n->surrogate_gradient) {
        GraphBackward<T> b(n, std::move(g), &sink);
        n->backward(b);
      } else {
        first_order_fallback(n, g, sink);
      }
    }
    for (auto& p : n->inputs) {
      if (!p->requires_grad || --p->pending != 0) continue;
      if (retain_graph) {
        ready.push_back(p);
      } else {
        p->drop_consumer();
        ready.push_back(std::move(p));
      }
    }
    if (!retain_graph && !n->is_leaf()) {
      n->release_inputs();
      n->backward = nullptr;
      n->graph_freed = true;
    }
  }
  return captured;
}

}  // namespace

template <class T>
std::vector<TensorT<T>> grad(const std::vector<TensorT<T>>& outputs, const std::vector<TensorT<T>>& inputs,
                             const std::vector<TensorT<T>>& grad_outputs, GradOptions options) {
  if (outputs.empty()) fail<ValueError>("grad: no outputs");
  for (const auto& o : outputs) (void)o.node();
  for (const auto& i : inputs) (void)i.node();
  const bool retain = options.retain_graph.value_or(options.create_graph);
  auto result = run_graph_backward<T>(outputs, grad_outputs, &inputs, options.create_graph, retain);
  for (std::size_t i = 0; i < result.size(); ++i)
    if (!result[i].defined() && !options.allow_unused)
      fail<GraphError>("grad: input {} (shape {}) is not reachable from the outputs; pass allow_unused = true to get "
                       "an undefined tensor for it",
                       i, inputs[i].shape().str());
  return result;
}

template <class T>
std::vector<TensorT<T>> grad(const TensorT<T>& output, const std::vector<TensorT<T>>& inputs, GradOptions options) {
  return grad<T>(std::vector<TensorT<T>>{output}, inputs, {}, options);
}

template <class T>
void TensorT<T>::backward(BackwardOptions options) const {
  (void)node();
  if (!options.create_graph) return run_backward<T>(node_ptr(), nullptr, options.retain_graph);
  run_graph_backward<T>({*this}, {}, nullptr, true, true);
}

template <class T>
void TensorT<T>::backward(const TensorT& upstream, BackwardOptions options) const {
  (void)node();
  (void)upstream.node();
  if (!options.create_graph) return run_backward<T>(node_ptr(), &upstream, options.retain_graph);
  run_graph_backward<T>({*this}, {upstream}, nullptr, true, true);
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
template std::vector<Tensor> grad(const std::vector<Tensor>&, const std::vector<Tensor>&, const std::vector<Tensor>&,
                                  GradOptions);
template std::vector<Tensor64> grad(const std::vector<Tensor64>&, const std::vector<Tensor64>&,
                                    const std::vector<Tensor64>&, GradOptions);
template std::vector<Tensor> grad(const Tensor&, const std::vector<Tensor>&, GradOptions);
template std::vector<Tensor64> grad(const Tensor64&, const std::vector<Tensor64>&, GradOptions);

}  // namespace ember
