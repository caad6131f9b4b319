#include "autograd.hpp"

#include "../ops/arithmetic.hpp"
#include "../ops/reduction.hpp"
#include "../ops/shape.hpp"

namespace ember {

namespace {

// f at a fresh leaf copy of x, recorded even under a NoGradGuard.
template <class T>
TensorT<T> leaf_copy(const TensorT<T>& x) {
  return x.detach().requires_grad_();
}

template <class T>
TensorT<T> scalar_output(const char* who, const ScalarFn<T>& f, const TensorT<T>& x) {
  TensorT<T> y = f(x);
  if (y.numel() != 1)
    fail<ShapeError>("{}: f must return one element, got shape {} (for input {})", who, y.shape().str(),
                     x.shape().str());
  return y;
}

}  // namespace

template <class T>
TensorT<T> hvp(const ScalarFn<T>& f, const TensorT<T>& x, const TensorT<T>& v) {
  if (!(v.shape() == x.shape()))
    fail<ShapeError>("hvp: vector of shape {} for an input of shape {}", v.shape().str(), x.shape().str());
  EnableGradGuard grad_on;
  const TensorT<T> xx = leaf_copy(x);
  const TensorT<T> y = scalar_output("hvp", f, xx);
  if (!y.requires_grad()) return TensorT<T>::zeros(x.shape());
  const TensorT<T> g = grad<T>(y, {xx}, {.create_graph = true, .allow_unused = true})[0];
  if (!g.defined()) return TensorT<T>::zeros(x.shape());
  const TensorT<T> gv = sum(g * v.detach());
  if (!gv.requires_grad()) return TensorT<T>::zeros(x.shape());  // f is linear in x
  const TensorT<T> h = grad<T>(gv, {xx}, {.allow_unused = true})[0];
  return h.defined() ? h.detach() : TensorT<T>::zeros(x.shape());
}

template <class T>
TensorT<T> jacobian(const ScalarFn<T>& f, const TensorT<T>& x) {
  EnableGradGuard grad_on;
  const TensorT<T> xx = leaf_copy(x);
  const TensorT<T> y = f(xx);
  const Index m = y.numel(), n = x.numel();
  auto jac = TensorT<T>::zeros(Shape{m, n});
  if (!y.requires_grad()) return jac;
  for (Index i = 0; i < m; ++i) {
    auto onehot = TensorT<T>::zeros(y.shape());
    onehot.data()[i] = T(1);
    const TensorT<T> row = grad<T>({y}, {xx}, {onehot}, {.retain_graph = true, .allow_unused = true})[0];
    if (row.defined()) std::copy(row.data(), row.data() + n, jac.data() + i * n);
  }
  return jac;
}

template <class T>
TensorT<T> hessian(const ScalarFn<T>& f, const TensorT<T>& x) {
  EnableGradGuard grad_on;
  const TensorT<T> xx = leaf_copy(x);
  const TensorT<T> y = scalar_output("hessian", f, xx);
  const Index n = x.numel();
  auto hess = TensorT<T>::zeros(Shape{n, n});
  if (!y.requires_grad()) return hess;
  const TensorT<T> g = grad<T>(y, {xx}, {.create_graph = true, .allow_unused = true})[0];
  if (!g.defined() || !g.requires_grad()) return hess;
  for (Index j = 0; j < n; ++j) {
    auto onehot = TensorT<T>::zeros(g.shape());
    onehot.data()[j] = T(1);
    const TensorT<T> row = grad<T>({g}, {xx}, {onehot}, {.retain_graph = true, .allow_unused = true})[0];
    if (row.defined()) std::copy(row.data(), row.data() + n, hess.data() + j * n);
  }
  return hess;
}

#define EMBER_INSTANTIATE(T)                                                         \
  template TensorT<T> hvp(const ScalarFn<T>&, const TensorT<T>&, const TensorT<T>&); \
  template TensorT<T> jacobian(const ScalarFn<T>&, const TensorT<T>&);               \
  template TensorT<T> hessian(const ScalarFn<T>&, const TensorT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
