// TensorT<T>: a dense, contiguous, row-major tensor of float (Tensor) or
// double (Tensor64), and a node of the dynamic graph.
//
// A tensor is a cheap value handle over a shared node: copying a tensor
// copies a pointer, and both copies see the same values and gradient. Use
// `detach()` for an independent copy of the values.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "node.hpp"
#include "random.hpp"

namespace ember {

struct BackwardOptions {
  bool retain_graph = false;
  // Record the backward itself, so the gradients are graph nodes that can be
  // differentiated again (implies retain_graph). Leaves' grad() then returns
  // that graph; see "Higher-order gradients" in docs/api.md.
  bool create_graph = false;
};

template <class T>
class TensorT {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "ember tensors hold float or double");

 public:
  using Scalar = T;
  using Hook = typename Node<T>::Hook;

  TensorT() = default;  // an undefined tensor; most calls on it throw

  // --- creation -----------------------------------------------------------
  static TensorT empty(const Shape& shape);  // values uninitialized
  static TensorT zeros(const Shape& shape);
  static TensorT ones(const Shape& shape);
  static TensorT full(const Shape& shape, T value);
  static TensorT scalar(T value);
  static TensorT from(std::initializer_list<T> values);
  static TensorT from(std::initializer_list<std::initializer_list<T>> rows);
  static TensorT from(std::initializer_list<std::initializer_list<std::initializer_list<T>>> planes);
  static TensorT from_data(std::span<const T> data, const Shape& shape);
  template <class Derived>
  static TensorT from_eigen(const Eigen::DenseBase<Derived>& m) {  // 2-D, any storage order
    TensorT t = empty({m.rows(), m.cols()});
    t.matrix() = m;
    return t;
  }
  // Seeded random values: the same seed gives the same numbers everywhere.
  static TensorT randn(const Shape& shape, Generator& gen, T mean = 0, T stddev = 1);
  static TensorT rand(const Shape& shape, Generator& gen, T low = 0, T high = 1);

  // --- values -------------------------------------------------------------
  bool defined() const { return node_ != nullptr; }
  const Shape& shape() const { return node().shape; }
  int rank() const { return shape().rank(); }
  Index numel() const { return shape().numel(); }
  Index size(int axis) const;  // negative axes count from the back

  // Eigen maps over the values, no copy: flat, or as a matrix whose columns
  // are the last dimension and whose rows fold all leading dimensions.
  // The non-const forms hand out the values for writing (Note [versions],
  // node.hpp): a backward through an op that saved the old values throws if
  // they changed, instead of computing a wrong gradient. Reading through a
  // const tensor (std::as_const(t).values(), item(), at()) costs nothing.
  // version() counts the non-const accesses.
  ArrayMap<T> values() { return writable().array(); }
  ConstArrayMap<T> values() const { return std::as_const(node().value).array(); }
  MatrixMap<T> matrix() { return {writable().data(), shape().rows(), shape().cols()}; }
  ConstMatrixMap<T> matrix() const { return {node().value.data(), shape().rows(), shape().cols()}; }
  T* data() { return writable().data(); }
  const T* data() const { return node().value.data(); }
  std::uint32_t version() const { return node().version; }  // see Note [versions]
  std::vector<T> to_vector() const;
  T item() const;                                  // the value of a one-element tensor
  T at(std::initializer_list<Index> index) const;  // one element, bounds-checked
  std::string str() const;                         // values, shape, dtype as PyTorch prints them (engine/print.hpp)

  // --- autograd -----------------------------------------------------------
  // Marks a leaf as a parameter whose gradient backward computes. Returns
  // *this so it chains on creation: Tensor::randn(...).requires_grad_().
  TensorT& requires_grad_(bool on = true);
  bool requires_grad() const { return node().requires_grad; }
  bool is_leaf() const { return node().is_leaf(); }
  const char* op() const { return node().op ? node().op : "leaf"; }  // the op that produced it

  // Reverse-mode backprop from this tensor. Without `upstream` the tensor
  // must have one element (dL/dL = 1). Gradients add into the leaves'
  // `grad()` until `zero_grad()`. The graph's saved values are freed unless
  // retain_graph is true; a second backward through a freed graph throws.
  void backward(bool retain_graph = false) const;
  void backward(const TensorT& upstream, bool retain_graph = false) const;
  void backward(BackwardOptions options) const;  // x.backward({.create_graph = true})
  void backward(const TensorT& upstream, BackwardOptions options) const;

  bool has_grad() const { return !node().grad.empty(); }
  // The gradient: a copy of it, or after backward with create_graph the
  // gradient's graph node itself. Throws GraphError if there is none.
  TensorT grad() const;
  ArrayMap<T> grad_values();        // the gradient in place, no copy (drops its graph); throws if none
  MatrixMap<T> grad_matrix();
  void zero_grad();                 // sets an existing gradient to zero
  void retain_grad();               // keep this non-leaf's gradient after backward
  // Calls `hook(grad)` when the gradient flowing into this tensor during
  // backward is complete; a defined return value replaces that gradient
  // (same shape), an undefined one (`return {};`) keeps it.
  // The tensor's node owns the hook: a hook that captures a copy of the
  // tensor itself (or of anything holding it) is a reference cycle, and the
  // tensor is never freed. Use the gradient argument, capture values, or
  // capture by reference a tensor that outlives the hook ([&w], a module's
  // member).
  void register_hook(Hook hook);

  TensorT detach() const;  // a copy of the values that is not part of any graph

  // --- for ops and the engine ---------------------------------------------
  Node<T>& node() const;
  const std::shared_ptr<Node<T>>& node_ptr() const { return node_; }
  explicit TensorT(std::shared_ptr<Node<T>> node) : node_(std::move(node)) {}

 private:
  Buffer<T>& writable() {
    Node<T>& n = node();
    n.will_write();
    return n.value;
  }

  std::shared_ptr<Node<T>> node_;
};

using Tensor = TensorT<float>;
using Tensor64 = TensorT<double>;

extern template class TensorT<float>;
extern template class TensorT<double>;

// Thread-local switch for graph recording. While a NoGradGuard lives, ops
// record nothing (inference, optimizer updates, evaluation).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};
// The opposite: records even inside a NoGradGuard (for a function that
// builds a graph of its own, such as one that takes a gradient).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace ember
