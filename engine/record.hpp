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
//     return record(out, "cube", {x}, [](Backward<float>& b) {
//       b.accumulate(0, b.grad() * 3 * b.input(0).square());
//     });
//   }
#pragma once

#include <initializer_list>
#include <span>
#include <utility>

#include "observer.hpp"
#include "tensor.hpp"

namespace ember {

struct RecordOptions {
  // The backward is deliberately not the derivative of the forward (e.g. a
  // straight-through estimator); gradcheck reports it instead of failing.
  bool surrogate_gradient = false;
};

template <class T, class F>
TensorT<T> record(TensorT<T> out, const char* op, std::span<const TensorT<T>> inputs, F&& backward,
                  RecordOptions options = {}) {
  if (!observers<T>().empty())
    for (auto* o : observers<T>()) o->on_forward(op, inputs, out);
  if (!grad_enabled()) return out;
  bool any = false;
  for (const auto& in : inputs) any = any || in.requires_grad();
  if (!any) return out;
  Node<T>& node = out.node();
  node.op = op;
  node.requires_grad = true;
  node.surrogate_gradient = options.surrogate_gradient;
  node.inputs.reserve(inputs.size());
  for (const auto& in : inputs) node.inputs.push_back(in.node_ptr());
  node.backward = std::forward<F>(backward);
  return out;
}

template <class T, class F>
TensorT<T> record(TensorT<T> out, const char* op, std::initializer_list<TensorT<T>> inputs, F&& backward,
                  RecordOptions options = {}) {
  return record(std::move(out), op, std::span<const TensorT<T>>(inputs.begin(), inputs.size()),
                std::forward<F>(backward), options);
}

}  // namespace ember
