#include "selection.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "layout.hpp"

namespace ember {

namespace {

// The values at `index` (shape of x but `axis`), with the axis dropped
// unless keepdim.
template <class T>
TensorT<T> values_at(const TensorT<T>& x, int axis, const Indices& index, bool keepdim) {
  TensorT<T> v = gather(x, axis, index);
  return keepdim ? v : squeeze(v, axis);
}

}  // namespace

template <class T>
ValuesIndices<T> topk(const TensorT<T>& x, Index k, bool largest, bool sorted) {
  const Shape& s = x.shape();
  if (s.rank() == 0) fail<ShapeError>("topk: needs a tensor of rank >= 1, got a scalar");
  const int axis = s.rank() - 1;
  const Index n = s[axis];
  if (k < 0 || k > n)
    fail<ShapeError>("topk: k = {} is out of range for the last axis (size {}) of {}", k, n, s.str());
  const Index rows = n == 0 ? 0 : s.numel() / n;
  Shape out_shape = s;
  out_shape[axis] = k;
  std::vector<Index> chosen(static_cast<std::size_t>(rows * k));
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index r = 0; r < rows; ++r) {
    const T* p = x.data() + r * n;
    // "a before b": the better value first, NaN the largest of all, the
    // lower index first among equals.
    auto before = [&](Index a, Index b) {
      const T va = p[a], vb = p[b];
      const bool na = std::isnan(va), nb = std::isnan(vb);
      if (na != nb) return largest ? na : nb;
      if (na) return a < b;
      if (va != vb) return largest ? va > vb : va < vb;
      return a < b;
    };
    std::iota(order.begin(), order.end(), Index(0));
    std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
    if (!sorted) std::sort(order.begin(), order.begin() + k);
    std::copy(order.begin(), order.begin() + k, chosen.begin() + r * k);
  }
  Indices index(std::move(chosen), out_shape);
  return {gather(x, axis, index), std::move(index)};
}

template <class T>
ValuesIndices<T> max_with_indices(const TensorT<T>& x, int axis, bool keepdim) {
  const int a = x.shape().normalize_axis(axis, "max_with_indices");
  if (x.shape()[a] == 0)
    fail<ShapeError>("max_with_indices: cannot reduce axis {} of size 0 (shape {})", axis, x.shape().str());
  Indices index = argmax(x, a, true);
  TensorT<T> values = values_at(x, a, index, keepdim);
  if (!keepdim) index.shape = x.shape().reduced(a, false);
  return {std::move(values), std::move(index)};
}

template <class T>
ValuesIndices<T> min_with_indices(const TensorT<T>& x, int axis, bool keepdim) {
  const int a = x.shape().normalize_axis(axis, "min_with_indices");
  if (x.shape()[a] == 0)
    fail<ShapeError>("min_with_indices: cannot reduce axis {} of size 0 (shape {})", axis, x.shape().str());
  Indices index = argmin(x, a, true);
  TensorT<T> values = values_at(x, a, index, keepdim);
  if (!keepdim) index.shape = x.shape().reduced(a, false);
  return {std::move(values), std::move(index)};
}

#define EMBER_INSTANTIATE(T)                                                             \
  template ValuesIndices<T> topk(const TensorT<T>&, Index, bool, bool);                  \
  template ValuesIndices<T> max_with_indices(const TensorT<T>&, int, bool);              \
  template ValuesIndices<T> min_with_indices(const TensorT<T>&, int, bool);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)
#undef EMBER_INSTANTIATE

}  // namespace ember
