// The reverse-mode engine. Iterative throughout:
//  1. collect the nodes that need a gradient with an explicit stack, counting
//     for each node how many consumers inside this graph will send it one;
//  2. run backward in topological order (Kahn): a node runs once all its
//     consumers have run, so its gradient is complete exactly once per use;
//  3. unless retain_graph, free every node's inputs and closure.
#include <vector>

#include "record.hpp"

namespace ember {

namespace {

template <class T>
void run_hooks(Node<T>& node) {
  if (node.hooks.empty() || node.grad.empty()) return;
  TensorT<T> g = TensorT<T>::empty(node.shape);
  g.values() = node.grad.array();
  for (auto& hook : node.hooks) {
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
  static thread_local std::uint64_t epoch = 0;
  const std::uint64_t mark = ++epoch;

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

  // 1. Collect.
  std::vector<std::shared_ptr<Node<T>>> nodes;  // keeps every node alive until the end
  std::vector<Node<T>*> stack{root.get()};
  nodes.push_back(root);
  root->visit = mark;
  root->pending = 0;
  while (!stack.empty()) {
    Node<T>* n = stack.back();
    stack.pop_back();
    if (n->graph_freed)
      fail<GraphError>("backward: the graph through '{}' was already freed by an earlier backward; call the first "
                       "backward with retain_graph = true to run backward twice",
                       n->op);
    for (auto& p : n->inputs) {
      if (!p->requires_grad) continue;
      if (p->visit != mark) {
        p->visit = mark;
        p->pending = 0;
        nodes.push_back(p);
        stack.push_back(p.get());
      }
      ++p->pending;
    }
  }

  // Non-leaf gradients start empty in every pass (a retained one from an
  // earlier pass is dropped). A leaf with hooks must show its hooks only this
  // pass's gradient, so its accumulated gradient is set aside until then.
  std::vector<std::pair<Node<T>*, Buffer<T>>> stashed;
  for (auto& n : nodes) {
    if (!n->is_leaf()) n->grad.reset();
    else if (!n->hooks.empty() && !n->grad.empty()) stashed.emplace_back(n.get(), std::move(n->grad));
  }

  // Seed dL/d(root).
  if (root->grad.empty()) {
    root->grad = Buffer<T>(root->shape.numel());
    root->grad.array().setZero();
  }
  if (upstream) root->grad.array() += upstream->values();
  else root->grad.array() += T(1);

  // 2. Topological order.
  std::vector<Node<T>*> ready{root.get()};
  const bool observed = !observers<T>().empty();
  while (!ready.empty()) {
    Node<T>* n = ready.back();
    ready.pop_back();
    if (!n->hooks.empty()) run_hooks(*n);
    if (!n->is_leaf()) {
      if (!n->grad.empty()) {
        if (observed)
          for (auto* o : observers<T>()) o->on_backward(*n);
        Backward<T> b(*n);
        n->backward(b);
        b.finish();
      }
      if (!n->retain_grad) n->grad.reset();
    }
    for (auto& p : n->inputs)
      if (p->requires_grad && --p->pending == 0) ready.push_back(p.get());
  }

  for (auto& [leaf, old] : stashed) {
    if (leaf->grad.empty()) leaf->grad = std::move(old);
    else leaf->grad.array() += old.array();
  }

  // 3. Free the graph: drop inputs and closures. `nodes` still owns every
  // node here, so this releases no node recursively.
  if (!retain_graph) {
    for (auto& n : nodes) {
      if (n->is_leaf()) continue;
      n->inputs.clear();
      n->backward = nullptr;
      n->graph_freed = true;
    }
  }
}

}  // namespace

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

}  // namespace ember
