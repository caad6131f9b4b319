#include "comparison.hpp"

#include "../engine/broadcast.hpp"

namespace ember {

namespace {

// f(a, b) on the inputs broadcast to their common shape, as 0/1 values.
template <class T, class F>
TensorT<T> compare(const char* op, const TensorT<T>& a, const TensorT<T>& b, F f) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  auto out = TensorT<T>::empty(shape);
  Buffer<T> x, y;
  const T* pa = a.data();
  const T* pb = b.data();
  if (a.numel() != shape.numel()) {
    x = Buffer<T>(shape.numel());
    expand(pa, a.shape(), x.data(), shape);
    pa = x.data();
  }
  if (b.numel() != shape.numel()) {
    y = Buffer<T>(shape.numel());
    expand(pb, b.shape(), y.data(), shape);
    pb = y.data();
  }
  T* o = out.node().value.data();
  for (Index i = 0; i < shape.numel(); ++i) o[i] = f(pa[i], pb[i]) ? T(1) : T(0);
  return out;
}

}  // namespace

#define EMBER_DEFINE_COMPARISON(op, name)                                                                     \
  template <class T>                                                                                          \
  TensorT<T> operator op(const TensorT<T>& a, const TensorT<T>& b) {                                          \
    return compare(name, a, b, [](T x, T y) { return x op y; });                                              \
  }                                                                                                           \
  template <class T>                                                                                          \
  TensorT<T> operator op(const TensorT<T>& a, ScalarOf<T> s) {                                                \
    return compare(name, a, TensorT<T>::scalar(s), [](T x, T y) { return x op y; });                          \
  }                                                                                                           \
  template <class T>                                                                                          \
  TensorT<T> operator op(ScalarOf<T> s, const TensorT<T>& a) {                                                \
    return compare(name, TensorT<T>::scalar(s), a, [](T x, T y) { return x op y; });                          \
  }                                                                                                           \
  template TensorT<float> operator op(const TensorT<float>&, const TensorT<float>&);                          \
  template TensorT<float> operator op(const TensorT<float>&, float);                                          \
  template TensorT<float> operator op(float, const TensorT<float>&);                                          \
  template TensorT<double> operator op(const TensorT<double>&, const TensorT<double>&);                       \
  template TensorT<double> operator op(const TensorT<double>&, double);                                       \
  template TensorT<double> operator op(double, const TensorT<double>&);
EMBER_DEFINE_COMPARISON(>, "gt")
EMBER_DEFINE_COMPARISON(>=, "ge")
EMBER_DEFINE_COMPARISON(<, "lt")
EMBER_DEFINE_COMPARISON(<=, "le")
EMBER_DEFINE_COMPARISON(==, "eq")
EMBER_DEFINE_COMPARISON(!=, "ne")
#undef EMBER_DEFINE_COMPARISON

template <class T>
TensorT<T> sign(const TensorT<T>& x) {
  auto out = TensorT<T>::empty(x.shape());
  out.node().value.array() = x.values().sign();
  return out;
}
template TensorT<float> sign(const TensorT<float>&);
template TensorT<double> sign(const TensorT<double>&);

}  // namespace ember
