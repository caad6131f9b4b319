#include "indexing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "../engine/record.hpp"
#include "derivative.hpp"
#include "gather_lines.hpp"

namespace ember {

Indices::Indices(std::vector<Index> v, Shape s) : values(std::move(v)), shape(s) {
  if (static_cast<Index>(values.size()) != shape.numel())
    fail<ShapeError>("Indices: {} values for shape {} ({} elements)", values.size(), shape.str(), shape.numel());
}
Indices::Indices(std::initializer_list<Index> v) : values(v), shape(Shape{static_cast<Index>(v.size())}) {}
Indices::Indices(std::initializer_list<std::initializer_list<Index>> rows) {
  const Index cols = rows.size() ? static_cast<Index>(rows.begin()->size()) : 0;
  for (const auto& r : rows) {
    if (static_cast<Index>(r.size()) != cols)
      fail<ShapeError>("Indices: rows of different lengths ({} and {})", cols, r.size());
    values.insert(values.end(), r.begin(), r.end());
  }
  shape = Shape{static_cast<Index>(rows.size()), cols};
}
Index Indices::at(std::initializer_list<Index> index) const {
  if (static_cast<int>(index.size()) != shape.rank())
    fail<ShapeError>("Indices::at: {} indices for shape {}", index.size(), shape.str());
  Index flat = 0;
  int d = 0;
  for (Index i : index) {
    if (i < 0 || i >= shape[d]) fail<ShapeError>("Indices::at: index {} out of range for shape {}", i, shape.str());
    flat = flat * shape[d++] + i;
  }
  return values[static_cast<std::size_t>(flat)];
}

namespace {

using detail::GatherLinesGrad;
using detail::Lines;

Index outer_of(const Shape& s, int a) {
  Index n = 1;
  for (int i = 0; i < a; ++i) n *= s[i];
  return n;
}
Index inner_of(const Shape& s, int a) {
  Index n = 1;
  for (int i = a + 1; i < s.rank(); ++i) n *= s[i];
  return n;
}

// Where each position of `index` reads along `axis` in a tensor of shape
// `full`: offsets[p] for the p-th index position, row-major.
std::vector<Index> offsets_of(const char* op, const Shape& full, int axis, const Indices& index) {
  const Shape& is = index.shape;
  if (is.rank() != full.rank())
    fail<ShapeError>("{}: index of shape {} must have the rank of the input {}", op, is.str(), full.str());
  for (int d = 0; d < is.rank(); ++d)
    if (d != axis && is[d] > full[d])
      fail<ShapeError>("{}: index of shape {} is larger than input {} along axis {}", op, is.str(), full.str(), d);
  std::vector<Index> stride(std::size_t(full.rank()), 1), coord(std::size_t(full.rank()), 0), out;
  for (int d = full.rank() - 2; d >= 0; --d) stride[std::size_t(d)] = stride[std::size_t(d + 1)] * full[d + 1];
  out.reserve(index.values.size());
  for (std::size_t p = 0; p < index.values.size(); ++p) {
    const Index v = index.values[p];
    if (v < -full[axis] || v >= full[axis]) {
      std::string pos;
      for (int d = 0; d < is.rank(); ++d) {
        if (d) pos += ',';
        pos += std::to_string(coord[std::size_t(d)]);
      }
      fail<ValueError>("{}: index {} at position ({}) is out of range for axis {} of size {}", op, v, pos, axis,
                       full[axis]);
    }
    Index off = 0;
    for (int d = 0; d < full.rank(); ++d)
      off += (d == axis ? (v < 0 ? v + full[axis] : v) : coord[std::size_t(d)]) * stride[std::size_t(d)];
    out.push_back(off);
    for (int d = is.rank() - 1; d >= 0; --d) {  // next position
      if (++coord[std::size_t(d)] < is[d]) break;
      coord[std::size_t(d)] = 0;
    }
  }
  return out;
}

// The common case: index has full's shape except along the axis (Lines, gather_lines.hpp).
bool lines_of(const Shape& full, int axis, const Indices& index, Lines& l) {
  const Shape& is = index.shape;
  if (is.rank() != full.rank()) return false;
  for (int d = 0; d < is.rank(); ++d)
    if (d != axis && is[d] != full[d]) return false;
  l = Lines{outer_of(full, axis), full[axis], is[axis], inner_of(full, axis)};
  return true;
}

// offsets_of's common case without the table: position p = (o, k, i) reads
// x at (o, index[p], i). Calls f(p, offset) for every position; Check
// validates each index.
template <bool Check, class F>
bool for_each_offset(const char* op, const Shape& full, int axis, const Indices& index, F f) {
  Lines l;
  if (!lines_of(full, axis, index, l)) return false;
  const Index outer = l.outer, inner = l.inner, n = l.n, k_n = l.k_n;
  const Index* v = index.values.data();
  const Index block = k_n * inner;  // the index values of one outer position, contiguous
  for (Index o = 0, p = 0; o < outer; ++o) {
    Index lo = 0, hi = 0;  // one vectorizable pass over the block decides what the loop below needs
    for (Index j = 0; j < block; ++j) {
      lo = std::min(lo, v[p + j]);
      hi = std::max(hi, v[p + j]);
    }
    if constexpr (Check) {
      if (lo < -n || hi >= n) (void)offsets_of(op, full, axis, index);  // throws, naming the position
    }
    const Index base = o * n * inner;
    if (lo >= 0) {
      for (Index k = 0; k < k_n; ++k)
        for (Index i = 0; i < inner; ++i, ++p) f(p, base + v[p] * inner + i);
    } else {
      for (Index k = 0; k < k_n; ++k)
        for (Index i = 0; i < inner; ++i, ++p) f(p, base + (v[p] < 0 ? v[p] + n : v[p]) * inner + i);
    }
  }
  return true;
}

// gather: dst[p] += x[offsets[p]]; scatter: dst[offsets[p]] += src[p].
template <class T>
struct Scatter {
  int axis;
  std::shared_ptr<const Indices> index;
  std::shared_ptr<const std::vector<Index>> offsets;  // null when for_each_offset's fast path applies
  Shape full;
  template <class F>
  void each(F f) const {
    if (offsets) {
      for (std::size_t p = 0; p < offsets->size(); ++p) f(static_cast<Index>(p), (*offsets)[p]);
    } else {
      for_each_offset<false>("", full, axis, *index, f);
    }
  }
};

// The positions `index` reads along `axis` of `full`, validated: the table
// only where the fast path does not apply.
template <class T>
Scatter<T> scatter_of(const char* op, const Shape& full, int axis, const Indices& index) {
  Scatter<T> s{axis, std::make_shared<const Indices>(index), nullptr, full};
  if (!for_each_offset<true>(op, full, axis, index, [](Index, Index) {}))
    s.offsets = std::make_shared<const std::vector<Index>>(offsets_of(op, full, axis, index));
  return s;
}

template <class T>
struct GatherInto;
// The gradient of gather (scatter into x's shape); its derivative gathers.
template <class T>
struct ScatterInto {
  Scatter<T> s;
  void operator()(T* dst, const T* src) const {
    s.each([&](Index p, Index off) { dst[off] += src[p]; });
  }
  void operator()(GraphBackward<T>& b) const { b.accumulate(0, gather(b.grad(), s.axis, *s.index)); }
};
// The gradient of scatter_add's src (gather from g); its derivative scatters.
template <class T>
struct GatherInto {
  Scatter<T> s;
  void operator()(T* dst, const T* src) const {
    s.each([&](Index p, Index off) { dst[p] += src[off]; });
  }
  void operator()(GraphBackward<T>& b) const {
    b.accumulate(0, scatter_add(TensorT<T>::zeros(s.full), s.axis, *s.index, b.grad()));
  }
};

// gather over all blocks; a block with a negative index is normalized, one
// with an index out of range throws (offsets_of names the first position).
template <class U, class T>
void gather_lines(const char* op, T* dst, const T* src, const Shape& full, int axis, const Indices& index,
                  const Lines& l, U* saved) {
  if (l.n == 0 && index.numel() > 0) (void)offsets_of(op, full, axis, index);  // no index is in range
  const Index block = l.k_n * l.inner;
  const Index* v = index.values.data();
  for (Index o = 0, p = 0; o < l.outer; ++o, p += block) {
    const T* line = src + o * l.n * l.inner;
    if (l.inner == 1 && o + 1 < l.outer && l.n * Index(sizeof(T)) <= 4096)  // the next short line, ahead of its random reads
      for (Index c = 0; c < l.n; c += 64 / Index(sizeof(T))) __builtin_prefetch(line + l.n + c);
    U* at = nullptr;
    if constexpr (!std::is_void_v<U>) at = saved + p;
    if (detail::gather_block(dst + p, line, v + p, l, at)) continue;
    for (Index k = 0, q = p; k < l.k_n; ++k)
      for (Index i = 0; i < l.inner; ++i, ++q) {
        Index c = v[q];
        if (c < -l.n || c >= l.n) (void)offsets_of(op, full, axis, index);
        if (c < 0) c += l.n;
        dst[q] = line[c * l.inner + i];
        if constexpr (!std::is_void_v<U>) saved[q] = static_cast<U>(c);
      }
  }
}

}  // namespace

template <class T>
TensorT<T> gather(const TensorT<T>& x, int axis, const Indices& index) {
  const int a = x.shape().normalize_axis(axis, "gather");
  auto out = TensorT<T>::empty(index.shape);
  T* dst = out.node().value.data();
  const T* src = x.data();
  const bool grad = grad_enabled() && x.requires_grad();
  // d/dx gather = 1 at the gathered places; repeats add up (the scatter of
  // GatherLinesGrad or ScatterInto: one gradient, two ways to hold the index)
  if (Lines l; lines_of(x.shape(), a, index, l)) {
    if (!grad) {
      gather_lines<void>("gather", dst, src, x.shape(), a, index, l, nullptr);
      return out;
    }
    TensorT<T> result;
    detail::with_position_type(l.n, [&](auto type) {
      using U = decltype(type);
      std::shared_ptr<U[]> at(new U[static_cast<std::size_t>(index.numel())]);
      gather_lines<U>("gather", dst, src, x.shape(), a, index, l, at.get());
      result = record(out, "gather", {x}, [g = GatherLinesGrad<T, U>{a, l, index.shape, std::move(at)}](auto& b) {
        d::kernel(b, 0, "gather_backward", g, g, b.grad());
      });
    });
    return result;
  }
  Scatter<T> s{a, nullptr, std::make_shared<const std::vector<Index>>(offsets_of("gather", x.shape(), a, index)), x.shape()};
  s.each([&](Index p, Index off) { dst[p] = src[off]; });
  if (!grad) return out;
  s.index = std::make_shared<const Indices>(index);
  return record(out, "gather", {x}, [g = ScatterInto<T>{s}](auto& b) {
    d::kernel(b, 0, "gather_backward", g, g, b.grad());
  });
}

template <class T>
TensorT<T> scatter_add(const TensorT<T>& x, int axis, const Indices& index, const TensorT<T>& src) {
  const int a = x.shape().normalize_axis(axis, "scatter_add");
  if (!(src.shape() == index.shape))
    fail<ShapeError>("scatter_add: src of shape {} must have the index's shape {}", src.shape().str(), index.shape.str());
  const Scatter<T> s = scatter_of<T>("scatter_add", x.shape(), a, index);
  auto out = TensorT<T>::empty(x.shape());
  out.node().value.array() = x.values();
  ScatterInto<T>{s}(out.node().value.data(), src.data());
  // d/dx = 1; d/dsrc = the gradient gathered at the same places
  return record(out, "scatter_add", {x, src}, [grad = GatherInto<T>{s}](auto& b) {
    b.accumulate(0, b.grad());
    d::kernel(b, 1, "scatter_add_backward", grad, grad, b.grad());
  });
}

template <class T>
TensorT<T> index_select(const TensorT<T>& x, int axis, std::span<const Index> index) {
  const Shape& sh = x.shape();
  const int a = sh.normalize_axis(axis, "index_select");
  // positions along the axis, repeated over the other axes: a gather
  Shape is = sh;
  is[a] = static_cast<Index>(index.size());
  const Index outer = outer_of(sh, a), inner = inner_of(sh, a);
  std::vector<Index> v;
  v.reserve(std::size_t(is.numel()));
  for (Index o = 0; o < outer; ++o)
    for (Index k : index)
      for (Index i = 0; i < inner; ++i) v.push_back(k);
  for (std::size_t i = 0; i < index.size(); ++i)
    if (index[i] < 0 || index[i] >= sh[a])
      fail<ValueError>("index_select: index {} at position {} is out of range for axis {} of size {} (shape {})",
                       index[i], i, axis, sh[a], sh.str());
  return gather(x, a, Indices(std::move(v), is));
}

namespace {

// The first largest (smallest) entry of n values at stride; NaN counts as the largest.
template <class T>
Index arg_best(const T* p, Index n, Index stride, bool largest) {
  Index best = 0;
  for (Index k = 0; k < n; ++k) {
    const T v = p[k * stride], b = p[best * stride];
    if (std::isnan(b)) break;
    if (std::isnan(v) || (largest ? v > b : v < b)) best = k;
    if (std::isnan(v)) break;
  }
  return best;
}

template <class T>
Indices arg_along(const char* op, const TensorT<T>& x, int axis, bool keepdim, bool largest) {
  const Shape& s = x.shape();
  const int a = s.normalize_axis(axis, op);
  if (s[a] == 0) fail<ShapeError>("{}: cannot reduce axis {} of size 0 (shape {})", op, axis, s.str());
  const Index outer = outer_of(s, a), inner = inner_of(s, a), n = s[a];
  std::vector<Index> v;
  for (Index o = 0; o < outer; ++o)
    for (Index i = 0; i < inner; ++i) v.push_back(arg_best(x.data() + o * n * inner + i, n, inner, largest));
  return Indices(std::move(v), s.reduced(a, keepdim));
}

// max over all elements: g split evenly among the places equal to the max
// (the NaNs when it is NaN). Derivative in g: the upstream at those places,
// averaged; none in x or the max.
template <class T>
struct MaxAllGrad {
  static Buffer<T> share(const T* x, Index n, T top) {
    Buffer<T> s(n);
    Index count = 0;
    for (Index i = 0; i < n; ++i) {
      const bool hit = std::isnan(top) ? std::isnan(x[i]) : x[i] == top;
      s.data()[i] = hit ? T(1) : T(0);
      count += hit;
    }
    for (Index i = 0; i < n; ++i) s.data()[i] /= T(count);
    return s;
  }
  Index n;
  void operator()(T* dst, const T* g, const T* x, const T* top) const {
    const Buffer<T> s = share(x, n, top[0]);
    for (Index i = 0; i < n; ++i) dst[i] += g[0] * s.data()[i];
  }
  void operator()(GraphBackward<T>& b) const {
    if (!b.needs(0)) return;
    const TensorT<T> x = b.input(1), top = b.input(2);
    const Buffer<T> s = share(x.data(), n, top.data()[0]);
    const auto weights = TensorT<T>::from_data(std::span<const T>(s.data(), std::size_t(n)), x.shape());
    b.accumulate(0, sum(b.grad() * weights));
  }
};

}  // namespace

template <class T>
Index argmax(const TensorT<T>& x) {
  if (x.numel() == 0) fail<ShapeError>("argmax: tensor of shape {} is empty", x.shape().str());
  return arg_best(x.data(), x.numel(), 1, true);
}
template <class T>
Index argmin(const TensorT<T>& x) {
  if (x.numel() == 0) fail<ShapeError>("argmin: tensor of shape {} is empty", x.shape().str());
  return arg_best(x.data(), x.numel(), 1, false);
}
template <class T>
Indices argmax(const TensorT<T>& x, int axis, bool keepdim) {
  return arg_along("argmax", x, axis, keepdim, true);
}
template <class T>
Indices argmin(const TensorT<T>& x, int axis, bool keepdim) {
  return arg_along("argmin", x, axis, keepdim, false);
}

template <class T>
TensorT<T> max(const TensorT<T>& x) {
  if (x.numel() == 0) fail<ShapeError>("max: tensor of shape {} is empty", x.shape().str());
  auto out = TensorT<T>::scalar(x.data()[argmax(x)]);
  return record(out, "max_all", {x}, [n = x.numel()](auto& b) {
    d::kernel(b, 0, "max_all_backward", MaxAllGrad<T>{n}, MaxAllGrad<T>{n}, b.grad(), b.input(0), b.output());
  });
}
template <class T>
TensorT<T> min(const TensorT<T>& x) {
  return -max(-x);
}
template <class T>
TensorT<T> min(const TensorT<T>& x, int axis, bool keepdim) {
  return -max(-x, axis, keepdim);
}

namespace {

// dst += the running sum of src along the axis, forward or reversed.
template <class T>
struct RunningSum {
  Index outer, n, inner;
  bool reverse;
  void operator()(T* dst, const T* src) const {
    for (Index o = 0; o < outer; ++o)
      for (Index i = 0; i < inner; ++i) {
        T acc = 0;
        for (Index k = 0; k < n; ++k) {
          const Index kk = reverse ? n - 1 - k : k;
          const Index at = (o * n + kk) * inner + i;
          acc += src[at];
          dst[at] += acc;
        }
      }
  }
};

// cumsum's gradient is the reversed running sum of g; the derivative of that
// is the forward running sum of the upstream gradient.
template <class T>
struct CumsumGrad {
  int axis;
  RunningSum<T> reversed;
  void operator()(T* dst, const T* g) const { reversed(dst, g); }
  void operator()(GraphBackward<T>& b) const { b.accumulate(0, cumsum(b.grad(), axis)); }
};

}  // namespace

template <class T>
TensorT<T> cumsum(const TensorT<T>& x, int axis) {
  const Shape& s = x.shape();
  const int a = s.normalize_axis(axis, "cumsum");
  const RunningSum<T> forward{outer_of(s, a), s[a], inner_of(s, a), false};
  auto out = TensorT<T>::zeros(s);
  forward(out.node().value.data(), x.data());
  // d/dx_k sum_{j <= i} x_j = [k <= i]: the gradient sums g from the end
  return record(out, "cumsum", {x}, [grad = CumsumGrad<T>{a, RunningSum<T>{forward.outer, forward.n, forward.inner, true}}](auto& b) {
    d::kernel(b, 0, "cumsum_backward", grad, grad, b.grad());
  });
}

namespace {

// (total)^(1/p) with a zero total giving 0 and gradient 0 (no 0 * inf).
template <class T>
TensorT<T> root(const TensorT<T>& total, double p) {
  const TensorT<T> positive = total > T(0);
  const TensorT<T> safe = where(positive, total, TensorT<T>::ones(Shape{}));
  const TensorT<T> r = p == 2 ? sqrt(safe) : pow(safe, T(1.0 / p));
  return where(positive, r, TensorT<T>::zeros(Shape{}));
}

template <class T>
TensorT<T> powered(const TensorT<T>& x, double p) {
  if (!(p > 0) || !std::isfinite(p)) fail<ValueError>("norm: p = {} must be positive and finite", p);
  return p == 2 ? x * x : p == 1 ? abs(x) : pow(abs(x), T(p));
}

}  // namespace

template <class T>
TensorT<T> norm(const TensorT<T>& x, double p) {
  return root(sum(powered(x, p)), p);
}
template <class T>
TensorT<T> norm(const TensorT<T>& x, double p, int axis, bool keepdim) {
  return root(sum(powered(x, p), axis, keepdim), p);
}

#define EMBER_INSTANTIATE(T)                                                                      \
  template TensorT<T> index_select(const TensorT<T>&, int, std::span<const Index>);               \
  template TensorT<T> gather(const TensorT<T>&, int, const Indices&);                             \
  template TensorT<T> scatter_add(const TensorT<T>&, int, const Indices&, const TensorT<T>&);     \
  template Index argmax(const TensorT<T>&);                                                       \
  template Index argmin(const TensorT<T>&);                                                       \
  template Indices argmax(const TensorT<T>&, int, bool);                                          \
  template Indices argmin(const TensorT<T>&, int, bool);                                          \
  template TensorT<T> max(const TensorT<T>&);                                                     \
  template TensorT<T> min(const TensorT<T>&);                                                     \
  template TensorT<T> min(const TensorT<T>&, int, bool);                                          \
  template TensorT<T> cumsum(const TensorT<T>&, int);                                             \
  template TensorT<T> norm(const TensorT<T>&, double);                                            \
  template TensorT<T> norm(const TensorT<T>&, double, int, bool);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
