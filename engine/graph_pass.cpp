// The recorded backward pass (create_graph, ember::grad).
//
// The same traversal as the first-order pass (backward.cpp) with gradients
// held as tensors, so that each op's backward (Note [one derivative],
// graph_backward.hpp) records the graph of its gradient. ember::grad also
// prunes the nodes no requested input depends on and leaves every .grad()
// untouched.
#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../ops/arithmetic.hpp"
#include "autograd.hpp"
#include "record.hpp"
#include "traversal.hpp"

namespace ember {

namespace detail {

namespace {

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

}  // namespace

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


template std::vector<Tensor> run_graph_backward(const std::vector<Tensor>&, const std::vector<Tensor>&,
                                                const std::vector<Tensor>*, bool, bool);
template std::vector<Tensor64> run_graph_backward(const std::vector<Tensor64>&, const std::vector<Tensor64>&,
                                                  const std::vector<Tensor64>*, bool, bool);

}  // namespace detail

template <class T>
std::vector<TensorT<T>> grad(const std::vector<TensorT<T>>& outputs, const std::vector<TensorT<T>>& inputs,
                             const std::vector<TensorT<T>>& grad_outputs, GradOptions options) {
  if (outputs.empty()) fail<ValueError>("grad: no outputs");
  for (const auto& o : outputs) (void)o.node();
  for (const auto& i : inputs) (void)i.node();
  const bool retain = options.retain_graph.value_or(options.create_graph);
  auto result = detail::run_graph_backward<T>(outputs, grad_outputs, &inputs, options.create_graph, retain);
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

template std::vector<Tensor> grad(const std::vector<Tensor>&, const std::vector<Tensor>&, const std::vector<Tensor>&,
                                  GradOptions);
template std::vector<Tensor64> grad(const std::vector<Tensor64>&, const std::vector<Tensor64>&,
                                    const std::vector<Tensor64>&, GradOptions);
template std::vector<Tensor> grad(const Tensor&, const std::vector<Tensor>&, GradOptions);
template std::vector<Tensor64> grad(const Tensor64&, const std::vector<Tensor64>&, GradOptions);

}  // namespace ember
