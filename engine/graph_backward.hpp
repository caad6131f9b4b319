// GraphBackward: what a backward closure sees when the gradient it computes
// must itself be differentiable (backward with create_graph, ember::grad).
//
// Note [one derivative]. An op states its derivative once, as a generic
// closure ([](auto& b) {...}) over one of two contexts with the same
// methods:
//  - Backward<T> (node.hpp), the first-order fast path: grad(), input(i) and
//    output() are Eigen maps, and what accumulate() receives is an Eigen
//    expression evaluated straight into the input's gradient buffer;
//  - GraphBackward<T>, the recorded path: the same calls return tensors, the
//    same formula is a composition of ember ops, and accumulate() collects
//    graph tensors, so the gradient can be differentiated again, to any order.
// A formula that needs a fused kernel (a packet loop, a GEMM into the
// gradient, a scatter) states it once through ops/derivative.hpp: the kernel
// computes the values on both paths, and on the recorded path it becomes a
// node of its own (say "relu_backward") whose backward is the next
// derivative, written once, in ops. docs/adding-an-op.md walks through both.
#pragma once

#include <memory>
#include <utility>

#include "tensor.hpp"

namespace ember {

// Where a recorded pass collects gradients (engine/backward.cpp).
template <class T>
class GradSink {
 public:
  virtual ~GradSink() = default;
  virtual void add(const std::shared_ptr<Node<T>>& input, TensorT<T> grad) = 0;
  virtual bool wanted(const Node<T>& input) const = 0;  // false: prune, nothing downstream needs it
};

template <class T>
class GraphBackward {
 public:
  // Recorded: gradients go to `sink` as graph tensors.
  GraphBackward(const std::shared_ptr<Node<T>>& node, TensorT<T> grad, GradSink<T>* sink)
      : node_(node), grad_(std::move(grad)), sink_(sink) {}
  // Eager, inside a first-order pass: a tensor formula with recording off,
  // whose results are added through `fast`.
  explicit GraphBackward(Backward<T>& fast);

  const char* op() const { return node_->op; }
  const Shape& output_shape() const { return node_->shape; }
  int num_inputs() const { return static_cast<int>(node_->inputs.size()); }
  const Shape& input_shape(int i) const { return in(i).shape; }
  bool needs(int i) const { return in(i).requires_grad && (!sink_ || sink_->wanted(in(i))); }
  bool recording() const { return sink_ != nullptr; }

  const TensorT<T>& grad() const { return grad_; }  // dL/d(out), a tensor of the output's shape
  TensorT<T> input(int i) const {
    (void)checked_input_of(*node_, i);
    return TensorT<T>(node_->inputs[static_cast<std::size_t>(i)]);
  }
  TensorT<T> output() const {
    (void)checked_output_of(*node_);
    return TensorT<T>(node_);
  }

  // Adds `g` to input i's gradient. As in Backward: `g` has the input's
  // number of elements, or the output's shape when the input was broadcast
  // (then it is summed back, by a recorded sum_to). Nothing when input i
  // needs no grad.
  void accumulate(int i, const TensorT<T>& g);

 private:
  Node<T>& in(int i) const { return *node_->inputs[static_cast<std::size_t>(i)]; }

  std::shared_ptr<Node<T>> node_;
  TensorT<T> grad_;
  GradSink<T>* sink_ = nullptr;
  Backward<T>* fast_ = nullptr;
};

namespace detail {

template <class T, class F>
void run_graph_eagerly(F& f, Backward<T>& b) {
  NoGradGuard no_grad;
  GraphBackward<T> g(b);
  f(g);
}

}  // namespace detail

extern template class GraphBackward<float>;
extern template class GraphBackward<double>;

}  // namespace ember
