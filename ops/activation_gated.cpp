// The feed-forward activations of BitNet b1.58 (declared in activation.hpp):
// relu_squared, the 2B4T model's (relu(x)^2, sparse like relu, smooth at the
// kink to first order), and swiglu, the LLaMA-style gated unit of the
// original b1.58 (silu of one half times the other half).
#include "../engine/record.hpp"
#include "activation.hpp"
#include "derivative.hpp"
#include "shape.hpp"

namespace ember {

template <class T>
TensorT<T> relu_squared(const TensorT<T>& x) {
  auto out = TensorT<T>::empty(x.shape());
  const auto v = x.values();
  // NaN <= 0 is false, so a NaN input gives NaN * NaN = NaN
  assign_elementwise(out.node().value.array(), (v <= T(0)).select(T(0), v * v));
  // d/dx relu(x)^2 = 2 relu(x): continuous, 0 at the kink; its own derivative
  // (2 for x > 0, 0 below) comes from recording the same formula in ops
  return record(out, "relu_squared", {x}, [](auto& b) {
    const auto x = b.input(0);
    b.accumulate(0, d::where(x <= T(0), T(0), b.grad() * x * T(2)));
  });
}

// swiglu(x) = silu(a) * b, a and b the halves of the last axis: composed of
// slice, silu and mul, so every order of derivative comes from those ops and
// diagnostics see its silu node.
template <class T>
TensorT<T> swiglu(const TensorT<T>& x) {
  if (x.rank() < 1) fail<ShapeError>("swiglu: input {} must have at least one dimension", x.shape().str());
  const int last = x.rank() - 1;
  const Index n = x.shape()[last];
  if (n % 2 != 0)
    fail<ShapeError>("swiglu: last axis of input {} has odd size {}; it must split in two halves [gate, value]",
                     x.shape().str(), n);
  return silu(slice(x, last, 0, n / 2)) * slice(x, last, n / 2, n);
}

#define EMBER_INSTANTIATE(T)                           \
  template TensorT<T> relu_squared(const TensorT<T>&); \
  template TensorT<T> swiglu(const TensorT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
