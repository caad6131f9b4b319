#include "tensor.hpp"

#include "print.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "record.hpp"

namespace ember {

// --- nodes ----------------------------------------------------------------

template <class T>
Node<T>::~Node() {
  // Destroying the last handle of a long chain would recurse once per node.
  // Instead, steal the inputs of every node we are the last owner of and
  // release them from a flat worklist.
  if (inputs.empty()) return;
  std::vector<Ptr> worklist;
  auto steal_inputs = [&worklist](Node& from) {
    for (auto& p : from.inputs) {
      if (!p) continue;
      p->drop_consumer();
      worklist.push_back(std::move(p));
    }
    from.inputs.clear();
  };
  steal_inputs(*this);
  while (!worklist.empty()) {
    Ptr n = std::move(worklist.back());
    worklist.pop_back();
    if (n && n.use_count() == 1) steal_inputs(*n);
  }
}

namespace {
thread_local bool g_grad_enabled = true;
}
bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { g_grad_enabled = previous_; }

// --- creation -------------------------------------------------------------

template <class T>
TensorT<T> TensorT<T>::empty(const Shape& shape) {
  return TensorT(std::allocate_shared<Node<T>>(detail::PoolAllocator<Node<T>>(), shape));
}

template <class T>
TensorT<T> TensorT<T>::full(const Shape& shape, T value) {
  TensorT t = empty(shape);
  t.node().value.array().setConstant(value);
  return t;
}
template <class T>
TensorT<T> TensorT<T>::zeros(const Shape& shape) {
  return full(shape, T(0));
}
template <class T>
TensorT<T> TensorT<T>::ones(const Shape& shape) {
  return full(shape, T(1));
}
template <class T>
TensorT<T> TensorT<T>::scalar(T value) {
  return full(Shape{}, value);
}

template <class T>
TensorT<T> TensorT<T>::from_data(std::span<const T> data, const Shape& shape) {
  if (static_cast<Index>(data.size()) != shape.numel())
    fail<ShapeError>("from_data: {} values do not fill shape {} ({} elements)", data.size(), shape.str(),
                     shape.numel());
  TensorT t = empty(shape);
  std::copy(data.begin(), data.end(), t.node().value.data());
  return t;
}

template <class T>
TensorT<T> TensorT<T>::from(std::initializer_list<T> values) {
  return from_data(std::span<const T>(values.begin(), values.size()), {static_cast<Index>(values.size())});
}

template <class T>
TensorT<T> TensorT<T>::from(std::initializer_list<std::initializer_list<T>> rows) {
  const Index r = static_cast<Index>(rows.size()), c = r ? static_cast<Index>(rows.begin()->size()) : 0;
  std::vector<T> flat;
  flat.reserve(static_cast<std::size_t>(r * c));
  Index i = 0;
  for (const auto& row : rows) {
    if (static_cast<Index>(row.size()) != c)
      fail<ShapeError>("from: ragged nested values: row {} has {} values, row 0 has {}", i, row.size(), c);
    flat.insert(flat.end(), row.begin(), row.end());
    ++i;
  }
  return from_data(flat, {r, c});
}

template <class T>
TensorT<T> TensorT<T>::from(std::initializer_list<std::initializer_list<std::initializer_list<T>>> planes) {
  const Index p = static_cast<Index>(planes.size());
  std::vector<T> flat;
  Shape plane_shape;
  for (const auto& plane : planes) {
    TensorT t = from(plane);
    if (&plane == planes.begin()) plane_shape = t.shape();  // not flat.empty(): a first plane may hold no values
    else if (!(t.shape() == plane_shape))
      fail<ShapeError>("from: ragged nested values: a plane of shape {} after one of shape {}", t.shape().str(),
                       plane_shape.str());
    flat.insert(flat.end(), t.data(), t.data() + t.numel());
  }
  return from_data(flat, {p, plane_shape.rank() ? plane_shape[0] : 0, plane_shape.rank() ? plane_shape[1] : 0});
}

template <class T>
TensorT<T> TensorT<T>::randn(const Shape& shape, Generator& gen, T mean, T stddev) {
  TensorT t = empty(shape);
  T* out = t.node().value.data();
  for (Index i = 0; i < t.numel(); ++i) out[i] = static_cast<T>(gen.normal(mean, stddev));
  return t;
}

template <class T>
TensorT<T> TensorT<T>::rand(const Shape& shape, Generator& gen, T low, T high) {
  TensorT t = empty(shape);
  T* out = t.node().value.data();
  for (Index i = 0; i < t.numel(); ++i) {
    // Rounding a double just below `high` to float can land on `high`.
    const T v = static_cast<T>(gen.uniform(low, high));
    out[i] = v >= high && high > low ? std::nextafter(high, low) : v;
  }
  return t;
}

// --- values ---------------------------------------------------------------

template <class T>
Node<T>& TensorT<T>::node() const {
  if (!node_) fail<GraphError>("tensor: use of an undefined (default-constructed) tensor");
  return *node_;
}

template <class T>
Index TensorT<T>::size(int axis) const {
  return shape()[shape().normalize_axis(axis, "size")];
}

template <class T>
std::vector<T> TensorT<T>::to_vector() const {
  return std::vector<T>(data(), data() + numel());
}

template <class T>
T TensorT<T>::item() const {
  if (numel() != 1) fail<ShapeError>("item: tensor of shape {} has {} elements, not 1", shape().str(), numel());
  return data()[0];
}

template <class T>
T TensorT<T>::at(std::initializer_list<Index> index) const {
  if (static_cast<int>(index.size()) != rank())
    fail<ShapeError>("at: {} indices for a tensor of shape {}", index.size(), shape().str());
  Index offset = 0;
  int axis = 0;
  for (Index i : index) {
    if (i < 0 || i >= shape()[axis])
      fail<ShapeError>("at: index {} is out of range for axis {} of shape {}", i, axis, shape().str());
    offset = offset * shape()[axis++] + i;
  }
  return data()[offset];
}

template <class T>
std::string TensorT<T>::str() const {
  return format_tensor(*this, print_options());
}

// --- autograd -------------------------------------------------------------

template <class T>
TensorT<T>& TensorT<T>::requires_grad_(bool on) {
  if (!is_leaf())
    fail<GraphError>("requires_grad_: tensor is the output of '{}', not a leaf; use detach() to make a new leaf", op());
  node().requires_grad = on;
  return *this;
}

template <class T>
TensorT<T> TensorT<T>::grad() const {
  if (!has_grad())
    fail<GraphError>("grad: tensor ({} of shape {}) has no gradient: it does not require grad, backward has not "
                     "reached it, or it is a non-leaf without retain_grad()",
                     op(), shape().str());
  if (node().grad_graph) return TensorT(node().grad_graph);
  TensorT g = empty(shape());
  g.node().value.array() = node().grad.array();
  return g;
}

template <class T>
ArrayMap<T> TensorT<T>::grad_values() {
  if (!has_grad()) (void)grad();  // throws the message above
  node().grad_graph.reset();
  return node().grad.array();
}

template <class T>
MatrixMap<T> TensorT<T>::grad_matrix() {
  return {grad_values().data(), shape().rows(), shape().cols()};
}

template <class T>
void TensorT<T>::zero_grad() {
  if (has_grad()) node().grad.array().setZero();
  node().grad_graph.reset();
}

template <class T>
void TensorT<T>::retain_grad() {
  node().retain_grad = true;
}

template <class T>
void TensorT<T>::register_hook(Hook hook) {
  if (!requires_grad())
    fail<GraphError>("register_hook: tensor of shape {} does not require grad, so no gradient will flow to it",
                     shape().str());
  Node<T>& n = node();
  if (!n.hooks) n.hooks = std::make_unique<std::vector<Hook>>();
  n.hooks->push_back(std::move(hook));
}

template <class T>
TensorT<T> TensorT<T>::detach() const {
  TensorT t = empty(shape());
  t.node().value.array() = values();
  return t;
}

template struct Node<float>;
template struct Node<double>;
template class TensorT<float>;
template class TensorT<double>;

}  // namespace ember
