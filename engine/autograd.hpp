// Gradients as values: ember::grad, and the helpers built on it for small
// problems (Hessian-vector products, Jacobians, Hessians).
//
//   Tensor64 du = ember::grad(sum(u), {x}, {.create_graph = true})[0];  // du/dx, itself differentiable
//   Tensor64 d2u = ember::grad(sum(du), {x})[0];                        // d2u/dx2 (u elementwise in x)
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "tensor.hpp"

namespace ember {

struct GradOptions {
  bool create_graph = false;              // the gradients are graph nodes, differentiable again
  std::optional<bool> retain_graph = {};  // keep the graph for another pass; default: create_graph
  bool allow_unused = false;              // an input the outputs do not depend on gives an undefined tensor
};

// d(sum_k <outputs_k, grad_outputs_k>)/d(inputs_i), one tensor per input, in
// the inputs' shapes. grad_outputs may be empty when every output has one
// element (then 1 each). No tensor's grad() is read or changed. Inputs may be
// leaves or intermediate tensors; only the part of the graph between the
// outputs and the inputs is run.
template <class T>
std::vector<TensorT<T>> grad(const std::vector<TensorT<T>>& outputs, const std::vector<TensorT<T>>& inputs,
                             const std::vector<TensorT<T>>& grad_outputs = {}, GradOptions options = {});
template <class T>
std::vector<TensorT<T>> grad(const TensorT<T>& output, const std::vector<TensorT<T>>& inputs,
                             GradOptions options = {});

// For f from one tensor to a one-element tensor, at x (any shape):
// hvp = H v, the Hessian times v (v has x's shape), by differentiating
// <grad f, v>; hessian = the [n, n] matrix of second derivatives (n = x's
// number of elements); jacobian of f: x -> y (any shapes) = the
// [y.numel(), x.numel()] matrix d y_i / d x_j. Results are plain tensors.
template <class T>
using ScalarFn = std::function<TensorT<T>(const TensorT<T>&)>;
template <class T>
TensorT<T> hvp(const ScalarFn<T>& f, const TensorT<T>& x, const TensorT<T>& v);
template <class T>
TensorT<T> jacobian(const ScalarFn<T>& f, const TensorT<T>& x);
template <class T>
TensorT<T> hessian(const ScalarFn<T>& f, const TensorT<T>& x);

}  // namespace ember
