// record(): how every op, built-in or yours, enters the graph.
//
// An op computes its output values eagerly, then calls record() with its
// name, its inputs and a backward closure. When recording is on and some
// input requires grad, the output becomes a graph node; otherwise nothing is
// kept and the closure is dropped. A custom op is written exactly like a
// built-in one:
//
//   Tensor cube(const Tensor& x) {
//     auto out = Tensor::empty(x.shape());
//     out.values() = x.values().cube();
//     // d/dx x^3 = 3x^2
//     return record(out, "cube", {x}, [](auto& b) {
//       b.accumulate(0, b.grad() * 3.0f * b.input(0) * b.input(0));
//     });
//   }
//
// The closure is generic (auto&), so the same formula runs on Eigen maps in
// a first-order backward and on tensors when the gradient must itself be
// differentiable (Note [one derivative], graph_backward.hpp). A closure
// taking Backward<float>& works too, for first-order gradients only.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "graph_backward.hpp"
#include "observer.hpp"
#include "tensor.hpp"

namespace ember {

struct RecordOptions {
  // The backward is deliberately not the derivative of the forward (e.g. a
  // straight-through estimator); gradcheck reports it instead of failing.
  bool surrogate_gradient = false;
};

namespace detail {

// What the initializer-list form of record() holds for each input: a
// reference, so recording costs no reference-count traffic beyond the one
// owning pointer the node keeps per input.
template <class T>
class InputRef {
 public:
  InputRef(const TensorT<T>& t) : tensor_(&t) {}  // implicit: record(out, "op", {a, b}, ...)
  const TensorT<T>& get() const { return *tensor_; }

 private:
  const TensorT<T>* tensor_;
};

template <class T>
const TensorT<T>& get(const TensorT<T>& t) {
  return t;
}
template <class T>
const TensorT<T>& get(const InputRef<T>& r) {
  return r.get();
}

template <class T, class Inputs, class F>
TensorT<T> record_node(TensorT<T>&& out, const char* op, const Inputs& inputs, F&& backward, RecordOptions options) {
  if (!grad_enabled()) return std::move(out);
  bool any = false;
  for (const auto& in : inputs) any = any || detail::get(in).requires_grad();
  if (!any) return std::move(out);
  Node<T>& node = out.node();
  node.backward.emplace(std::forward<F>(backward));  // first: if storing it throws, the node stays a plain leaf
  node.op = op;
  node.requires_grad = true;
  node.surrogate_gradient = options.surrogate_gradient;
  node.inputs.reserve(inputs.size());
  std::uint32_t depth = 0;
  for (const auto& in : inputs) {
    const auto& input = detail::get(in).node_ptr();
    depth = std::max(depth, input->depth);
    node.inputs.push_back(input, input->version);
    input->last_saved.store(input->version, std::memory_order_relaxed);
    input->add_consumer();
  }
  node.depth = depth + 1;  // Note [depth order], node.hpp
  // The output is new: writes before this point were the op's own.
  node.version = node.saved_version = 0;
  node.last_saved.store(0, std::memory_order_relaxed);
  return std::move(out);
}

}  // namespace detail

template <class T, class F>
TensorT<T> record(TensorT<T> out, const char* op, std::span<const TensorT<T>> inputs, F&& backward,
                  RecordOptions options = {}) {
  if (!observers<T>().empty())
    for (auto* o : observers<T>()) o->on_forward(op, inputs, out);
  return detail::record_node(std::move(out), op, inputs, std::forward<F>(backward), options);
}

template <class T, class F>
TensorT<T> record(TensorT<T> out, const char* op, std::initializer_list<std::type_identity_t<detail::InputRef<T>>> inputs,
                  F&& backward, RecordOptions options = {}) {
  if (!observers<T>().empty()) {
    std::vector<TensorT<T>> copies;
    for (const auto& in : inputs) copies.push_back(in.get());
    for (auto* o : observers<T>()) o->on_forward(op, copies, out);
  }
  return detail::record_node(std::move(out), op, inputs, std::forward<F>(backward), options);
}

}  // namespace ember
