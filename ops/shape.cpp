#include "shape.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "../engine/record.hpp"
#include "derivative.hpp"

namespace ember {

namespace {

std::string dims_str(std::span<const Index> dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

template <class T>
using Expanded = d::Expanded<T>;

// Product of the dimensions before and after `axis`.
Index outer_size(const Shape& s, int axis) {
  Index n = 1;
  for (int i = 0; i < axis; ++i) n *= s[i];
  return n;
}
Index inner_size(const Shape& s, int axis) {
  Index n = 1;
  for (int i = axis + 1; i < s.rank(); ++i) n *= s[i];
  return n;
}

}  // namespace

template <class T>
TensorT<T> reshape(const TensorT<T>& x, std::span<const Index> dims) {
  const Shape& from = x.shape();
  std::array<Index, Shape::kMaxRank> resolved{};
  if (dims.size() > Shape::kMaxRank)
    fail<ShapeError>("reshape: target {} has rank {}, above the maximum rank {}", dims_str(dims), dims.size(),
                     Shape::kMaxRank);
  int inferred = -1;
  Index known = 1;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      if (inferred >= 0) fail<ShapeError>("reshape: target {} has more than one -1 dimension", dims_str(dims));
      inferred = static_cast<int>(i);
    } else if (dims[i] < 0) {
      fail<ShapeError>("reshape: target {} has a negative dimension {} (only -1 is allowed)", dims_str(dims), dims[i]);
    } else {
      known *= dims[i];
    }
    resolved[i] = dims[i];
  }
  if (inferred >= 0) {
    if (known == 0 || from.numel() % known != 0)
      fail<ShapeError>("reshape: cannot reshape {} ({} elements) to {}: no size for the -1 dimension fits",
                       from.str(), from.numel(), dims_str(dims));
    resolved[static_cast<std::size_t>(inferred)] = from.numel() / known;
    known = from.numel();
  }
  if (known != from.numel())
    fail<ShapeError>("reshape: cannot reshape {} ({} elements) to {} ({} elements)", from.str(), from.numel(),
                     dims_str(dims), known);
  auto out = TensorT<T>::empty(Shape(std::span<const Index>(resolved.data(), dims.size())));
  out.values() = x.values();
  // d/dx reshape(x) = 1, element for element in the same order
  return record(out, "reshape", {x}, [](auto& b) { b.accumulate(0, b.grad()); });
}

template <class T>
TensorT<T> reshape(const TensorT<T>& x, std::initializer_list<Index> dims) {
  return reshape(x, std::span<const Index>(dims.begin(), dims.size()));
}

template <class T>
TensorT<T> reshape(const TensorT<T>& x, const Shape& shape) {
  return reshape(x, shape.dims());
}

namespace {

// dst[outer, width] += g[outer, offset : offset + width]
template <class T>
struct ConcatBlock {
  Index outer, total, offset, width;
  void operator()(T* dst, const T* g) const {
    MatrixMap<T>(dst, outer, width) += ConstMatrixMap<T>(g, outer, total).middleCols(offset, width);
  }
};
// The block's derivative: the upstream gradient padded with zeros along the axis.
template <class T>
struct ConcatBlockBackward {
  int axis;
  Index start;  // along the axis
  Shape full;
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T>& up = b.grad();
    std::vector<TensorT<T>> parts;
    Shape before = full, after = full;
    before[axis] = start;
    after[axis] = full[axis] - start - up.shape()[axis];
    if (before[axis] > 0) parts.push_back(TensorT<T>::zeros(before));
    parts.push_back(up);
    if (after[axis] > 0) parts.push_back(TensorT<T>::zeros(after));
    b.accumulate(0, parts.size() == 1 ? up : concat(parts, axis));
  }
};

template <class T>
TensorT<T> concat_impl(std::span<const TensorT<T>> tensors, int axis) {
  if (tensors.empty()) fail<ValueError>("concat: empty list of tensors");
  const Shape& first = tensors[0].shape();
  const int a = first.normalize_axis(axis, "concat");
  Shape shape = first;
  shape[a] = 0;
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    const Shape& s = tensors[t].shape();
    bool fits = s.rank() == first.rank();
    for (int i = 0; fits && i < s.rank(); ++i) fits = i == a || s[i] == first[i];
    if (!fits)
      fail<ShapeError>("concat: tensor {} of shape {} does not match tensor 0 of shape {} outside axis {}", t, s.str(),
                       first.str(), axis);
    shape[a] += s[a];
  }
  // Every input is an [outer, d_t * inner] block of columns of the output
  // [outer, sum_t d_t * inner].
  const Index outer = outer_size(shape, a), inner = inner_size(shape, a);
  auto out = TensorT<T>::empty(shape);
  // The copies loop over `outer` rows: none when the result is empty.
  if (shape.numel() == 0)  // then every input is empty too: its gradient is an empty buffer
    return record(out, "concat", tensors, [](auto& b) {
      for (int t = 0; t < b.num_inputs(); ++t)
        if (b.needs(t)) b.accumulate(t, b.grad());  // no elements
    });
  MatrixMap<T> o(out.data(), outer, shape[a] * inner);
  Index offset = 0;
  for (const auto& x : tensors) {
    const Index width = x.shape()[a] * inner;
    o.middleCols(offset, width) = ConstMatrixMap<T>(x.data(), outer, width);
    offset += width;
  }
  // d/dx_t concat(x) = 1 on x_t's own block of the output: x_t's gradient is
  // that block of g ("concat_backward"), whose own derivative puts an
  // upstream gradient back into the block, zeros around it.
  return record(out, "concat", tensors, [a](auto& b) {
    const Shape& shape = b.output_shape();
    const Index outer = outer_size(shape, a), inner = inner_size(shape, a);
    Index offset = 0;
    for (int t = 0; t < b.num_inputs(); ++t) {
      const Index width = b.input_shape(t)[a] * inner;
      d::kernel(b, t, "concat_backward", ConcatBlock<T>{outer, shape[a] * inner, offset, width},
                ConcatBlockBackward<T>{a, offset / inner, shape}, b.grad());
      offset += width;
    }
  });
}

}  // namespace

template <class T>
TensorT<T> concat(const std::vector<TensorT<T>>& tensors, int axis) {
  return concat_impl(std::span<const TensorT<T>>(tensors), axis);
}

template <class T>
TensorT<T> concat(std::initializer_list<TensorT<T>> tensors, int axis) {
  return concat_impl(std::span<const TensorT<T>>(tensors.begin(), tensors.size()), axis);
}

// index_select's gradient: rows of g added into x's rows; its derivative
// selects the same rows of the upstream gradient.
template <class T>
struct IndexRowsGrad {
  std::shared_ptr<const std::vector<Index>> rows;
  Index n, inner;
  void operator()(T* dst, const T* g) const {
    MatrixMap<T> gi(dst, n, inner);
    ConstMatrixMap<T> in(g, static_cast<Index>(rows->size()), inner);
    for (std::size_t i = 0; i < rows->size(); ++i) gi.row((*rows)[i]) += in.row(static_cast<Index>(i));
  }
  void operator()(GraphBackward<T>& b) const { b.accumulate(0, index_select(b.grad(), std::span<const Index>(*rows))); }
};

template <class T>
TensorT<T> index_select(const TensorT<T>& x, std::span<const Index> rows) {
  const Shape& s = x.shape();
  if (s.rank() == 0) fail<ShapeError>("index_select: tensor of shape {} has no axis 0 to select from", s.str());
  const Index n = s[0], inner = inner_size(s, 0);
  for (const Index r : rows)
    if (r < 0 || r >= n)
      fail<ValueError>("index_select: index {} is out of range for axis 0 of size {} (shape {})", r, n, s.str());
  Shape shape = s;
  shape[0] = static_cast<Index>(rows.size());
  auto out = TensorT<T>::empty(shape);
  ConstMatrixMap<T> in(x.data(), n, inner);
  MatrixMap<T> o(out.data(), shape[0], inner);
  for (std::size_t i = 0; i < rows.size(); ++i) o.row(static_cast<Index>(i)) = in.row(rows[i]);
  // d/dx[r] index_select(x)[i] = 1 where rows[i] == r; repeats add up. The
  // indices are kept only when a backward will need them.
  std::shared_ptr<const std::vector<Index>> saved;
  if (grad_enabled() && x.requires_grad()) saved = std::make_shared<const std::vector<Index>>(rows.begin(), rows.end());
  // The gradient adds rows of g into x's rows ("index_select_backward"); its
  // derivative selects the same rows of the upstream gradient. The indices
  // are shared, not copied, by the backward node.
  return record(out, "index_select", {x}, [saved = std::move(saved)](auto& b) {
    d::kernel(b, 0, "index_select_backward", IndexRowsGrad<T>{saved, b.input_shape(0)[0], inner_size(b.input_shape(0), 0)},
              IndexRowsGrad<T>{saved, b.input_shape(0)[0], inner_size(b.input_shape(0), 0)}, b.grad());
  });
}

template <class T>
TensorT<T> index_select(const TensorT<T>& x, std::initializer_list<Index> rows) {
  return index_select(x, std::span<const Index>(rows.begin(), rows.size()));
}

template <class T>
TensorT<T> where(const TensorT<T>& mask, const TensorT<T>& a, const TensorT<T>& b) {
  Shape shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(mask.shape(), a.shape(), "where"), b.shape(), "where");
  } catch (const ShapeError&) {
    fail<ShapeError>("where: mask {}, a {} and b {} cannot be broadcast to one shape", mask.shape().str(),
                     a.shape().str(), b.shape().str());
  }
  auto out = TensorT<T>::empty(shape);
  const Expanded<T> m(mask.data(), mask.shape(), shape), x(a.data(), a.shape(), shape), y(b.data(), b.shape(), shape);
  out.values() = (m.array() != T(0)).select(x.array(), y.array());
  // d/da where(m, a, b) = [m != 0], d/db = [m == 0], nothing to the mask. The
  // engine sums broadcast dimensions back to a's and b's shapes.
  return record(out, "where", {mask, a, b}, [](auto& g) {
    if (!g.needs(1) && !g.needs(2)) return;
    const auto m = d::at_output(g, 0);
    if (g.needs(1)) g.accumulate(1, d::where(d::nonzero(m.array()), g.grad(), T(0)));
    if (g.needs(2)) g.accumulate(2, d::where(d::nonzero(m.array()), T(0), g.grad()));
  });
}

namespace {

// Python's slice rule for one axis: negative positions count from the end,
// then start and stop are clamped to [0, n]; an empty range is not an error.
struct Range {
  Index start, count, step;
};
Range resolve(Index n, Index start, Index stop, Index step, const Shape& s, int axis) {
  if (step <= 0) fail<ValueError>("slice: step {} along axis {} of {} must be positive", step, axis, s.str());
  auto place = [n](Index i) { return std::clamp(i < 0 ? i + n : i, Index(0), n); };
  const Index b = place(start), e = place(stop);
  return {b, e > b ? (e - b + step - 1) / step : 0, step};
}

// dst[outer, count, inner] (+)= src[outer, start + k step, inner]: the slice
// and, with the roles swapped, its gradient's scatter.
template <class T>
struct SliceCopy {
  Index outer, n, inner;
  Range r;
  template <bool Scatter>
  void run(T* dst, const T* src) const {
    if (r.step == 1) {  // each outer row is one contiguous block of count * inner values
      const Index len = r.count * inner;
      for (Index o = 0; o < outer; ++o) {
        const Index full = (o * n + r.start) * inner, part = o * len;
        if constexpr (Scatter) ArrayMap<T>(dst + full, len) += ConstArrayMap<T>(src + part, len);
        else ArrayMap<T>(dst + part, len) = ConstArrayMap<T>(src + full, len);
      }
      return;
    }
    if (inner == 1) {  // a strided row: plain loops, no per-element maps
      for (Index o = 0; o < outer; ++o) {
        const T* from = Scatter ? src + o * r.count : src + o * n + r.start;
        T* to = Scatter ? dst + o * n + r.start : dst + o * r.count;
        for (Index k = 0; k < r.count; ++k) {
          if constexpr (Scatter) to[k * r.step] += from[k];
          else to[k] = from[k * r.step];
        }
      }
      return;
    }
    for (Index o = 0; o < outer; ++o)
      for (Index k = 0; k < r.count; ++k) {
        const Index full = (o * n + r.start + k * r.step) * inner, part = (o * r.count + k) * inner;
        if constexpr (Scatter) ArrayMap<T>(dst + full, inner) += ConstArrayMap<T>(src + part, inner);
        else ArrayMap<T>(dst + part, inner) = ConstArrayMap<T>(src + full, inner);
      }
  }
};

// The slice's gradient scatters g into zeros; its derivative slices again.
template <class T>
struct SliceGrad {
  int axis;
  SliceCopy<T> copy;
  void operator()(T* dx, const T* g) const { copy.template run<true>(dx, g); }
  void operator()(GraphBackward<T>& b) const {
    b.accumulate(0, slice(b.grad(), axis, copy.r.start, copy.r.start + copy.r.count * copy.r.step, copy.r.step));
  }
};

}  // namespace

template <class T>
TensorT<T> slice(const TensorT<T>& x, int axis, Index start, Index stop, Index step) {
  const Shape& s = x.shape();
  const int a = s.normalize_axis(axis, "slice");
  const Range r = resolve(s[a], start, stop, step, s, axis);
  Shape shape = s;
  shape[a] = r.count;
  const SliceCopy<T> copy{outer_size(s, a), s[a], inner_size(s, a), r};
  auto out = TensorT<T>::empty(shape);
  if (shape.numel() > 0) copy.template run<false>(out.node().value.data(), x.data());
  // d/dx slice(x) = 1 at the selected positions, 0 elsewhere
  return record(out, "slice", {x}, [grad = SliceGrad<T>{a, copy}](auto& b) {
    d::kernel(b, 0, "slice_backward", grad, grad, b.grad());
  });
}

template <class T>
TensorT<T> narrow(const TensorT<T>& x, int axis, Index start, Index length) {
  const int a = x.shape().normalize_axis(axis, "narrow");
  const Index n = x.shape()[a];
  const Index b = start < 0 ? start + n : start;
  if (b < 0 || length < 0 || b + length > n)
    fail<ValueError>("narrow: start {} and length {} do not fit axis {} of size {} (shape {})", start, length, axis,
                     n, x.shape().str());
  return slice(x, a, b, b + length);
}

template <class T>
TensorT<T> expand(const TensorT<T>& x, const Shape& shape) {
  if (!broadcasts_to(x.shape(), shape))
    fail<ShapeError>("expand: shape {} does not broadcast to {}", x.shape().str(), shape.str());
  auto out = TensorT<T>::empty(shape);
  if (shape.numel() > 0) ember::expand(x.data(), x.shape(), out.node().value.data(), shape);
  // d/dx expand(x) = 1 for each copy: the engine sums the copies back
  return record(out, "expand", {x}, [](auto& b) { b.accumulate(0, b.grad()); });
}

template <class T>
TensorT<T> sum_to(const TensorT<T>& x, const Shape& shape) {
  if (!broadcasts_to(shape, x.shape()))
    fail<ShapeError>("sum_to: shape {} does not broadcast to {}, so {} cannot be summed to it", shape.str(),
                     x.shape().str(), x.shape().str());
  auto out = TensorT<T>::zeros(shape);
  if (x.numel() > 0) ember::sum_to(x.data(), x.shape(), out.node().value.data(), shape);
  // d/dx sum_to(x) = 1: the gradient expands back to x's shape
  return record(out, "sum_to", {x}, [](GraphBackward<T>& b) { b.accumulate(0, expand(b.grad(), b.input_shape(0))); });
}

#define EMBER_INSTANTIATE(T)                                                             \
  template TensorT<T> expand(const TensorT<T>&, const Shape&);                           \
  template TensorT<T> slice(const TensorT<T>&, int, Index, Index, Index);                \
  template TensorT<T> narrow(const TensorT<T>&, int, Index, Index);                      \
  template TensorT<T> sum_to(const TensorT<T>&, const Shape&);                           \
  template TensorT<T> reshape(const TensorT<T>&, std::span<const Index>);                \
  template TensorT<T> reshape(const TensorT<T>&, std::initializer_list<Index>);          \
  template TensorT<T> reshape(const TensorT<T>&, const Shape&);                          \
  template TensorT<T> concat(const std::vector<TensorT<T>>&, int);                       \
  template TensorT<T> concat(std::initializer_list<TensorT<T>>, int);                    \
  template TensorT<T> index_select(const TensorT<T>&, std::span<const Index>);           \
  template TensorT<T> index_select(const TensorT<T>&, std::initializer_list<Index>);     \
  template TensorT<T> where(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
