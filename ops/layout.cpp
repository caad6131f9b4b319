#include "layout.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <string>

#include "../engine/record.hpp"
#include "derivative.hpp"

namespace ember {

namespace {

std::string axes_str(std::span<const int> axes) {
  std::string s = "(";
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(axes[i]);
  }
  return s + ")";
}

// dst (+)= x permuted: dst[j] = src[i] where index i of src is index j of dst
// read through `axes`.
template <class T>
struct PermuteCopy {
  Shape from;                                 // the source's shape
  std::array<int, Shape::kMaxRank> axes{};    // out axis k reads source axis axes[k]
  template <bool Add>
  void run(T* dst, const T* src) const {
    const int r = from.rank();
    const Index n = from.numel();
    if (n == 0) return;
    std::array<Index, Shape::kMaxRank> stride{}, out_dims{}, idx{};
    Index s = 1;
    for (int i = r - 1; i >= 0; --i) {
      stride[std::size_t(i)] = s;
      s *= from[i];
    }
    for (int k = 0; k < r; ++k) out_dims[std::size_t(k)] = from[axes[std::size_t(k)]];
    // The last output axis is a tight strided loop; an odometer over the
    // other output axes moves the source offset between rows.
    const Index row = out_dims[std::size_t(r - 1)], step = stride[std::size_t(axes[std::size_t(r - 1)])];
    Index offset = 0;  // source offset of the current output row
    for (Index j = 0; j < n; j += row) {
      const T* from = src + offset;
      T* to = dst + j;
      if (step == 1) {
        if constexpr (Add) ArrayMap<T>(to, row) += ConstArrayMap<T>(from, row);
        else ArrayMap<T>(to, row) = ConstArrayMap<T>(from, row);
      } else {
        for (Index i = 0; i < row; ++i) {
          if constexpr (Add) to[i] += from[i * step];
          else to[i] = from[i * step];
        }
      }
      for (int k = r - 2; k >= 0; --k) {  // next output row, odometer style
        const std::size_t uk = std::size_t(k);
        const Index st = stride[std::size_t(axes[uk])];
        if (++idx[uk] < out_dims[uk]) {
          offset += st;
          break;
        }
        offset -= st * (out_dims[uk] - 1);
        idx[uk] = 0;
      }
    }
  }
};

// permute's gradient is the inverse permutation of g, added into dx; its
// derivative permutes the upstream gradient forward again.
template <class T>
struct PermuteGrad {
  PermuteCopy<T> inverse;  // from = the output's shape, axes = the inverse permutation
  std::array<int, Shape::kMaxRank> forward{};
  int rank;
  void operator()(T* dx, const T* g) const { inverse.template run<true>(dx, g); }
  void operator()(GraphBackward<T>& b) const {
    b.accumulate(0, permute(b.grad(), std::span<const int>(forward.data(), std::size_t(rank))));
  }
};

Shape with_dims(std::span<const Index> dims) { return Shape(dims); }

}  // namespace

template <class T>
TensorT<T> permute(const TensorT<T>& x, std::span<const int> axes) {
  const Shape& s = x.shape();
  const int r = s.rank();
  if (static_cast<int>(axes.size()) != r)
    fail<ShapeError>("permute: {} axes {} for a tensor of shape {} (rank {})", axes.size(), axes_str(axes), s.str(), r);
  std::array<int, Shape::kMaxRank> fwd{}, inv{};
  std::array<bool, Shape::kMaxRank> seen{};
  Shape out = s;
  for (int k = 0; k < r; ++k) {
    const int a = s.normalize_axis(axes[std::size_t(k)], "permute");
    if (seen[std::size_t(a)])
      fail<ShapeError>("permute: axis {} appears twice in {} (shape {})", axes[std::size_t(k)], axes_str(axes), s.str());
    seen[std::size_t(a)] = true;
    fwd[std::size_t(k)] = a;
    inv[std::size_t(a)] = k;
    out[k] = s[a];
  }
  auto y = TensorT<T>::empty(out);
  const PermuteCopy<T> copy{s, fwd};
  copy.template run<false>(y.node().value.data(), x.data());
  // d/dx permute(x) = the inverse permutation of the gradient
  return record(y, "permute", {x}, [grad = PermuteGrad<T>{PermuteCopy<T>{out, inv}, fwd, r}](auto& b) {
    d::kernel(b, 0, "permute_backward", grad, grad, b.grad());
  });
}

template <class T>
TensorT<T> permute(const TensorT<T>& x, std::initializer_list<int> axes) {
  return permute(x, std::span<const int>(axes.begin(), axes.size()));
}

template <class T>
TensorT<T> transpose(const TensorT<T>& x, int a, int b) {
  const Shape& s = x.shape();
  const int i = s.normalize_axis(a, "transpose"), j = s.normalize_axis(b, "transpose");
  std::array<int, Shape::kMaxRank> axes{};
  std::iota(axes.begin(), axes.begin() + s.rank(), 0);
  std::swap(axes[std::size_t(i)], axes[std::size_t(j)]);
  return permute(x, std::span<const int>(axes.data(), std::size_t(s.rank())));
}

template <class T>
TensorT<T> unsqueeze(const TensorT<T>& x, int axis) {
  const Shape& s = x.shape();
  const int r = s.rank();
  if (axis < -r - 1 || axis > r)
    fail<ShapeError>("unsqueeze: axis {} is out of range for shape {} (valid: {} to {})", axis, s.str(), -r - 1, r);
  if (r == Shape::kMaxRank) fail<ShapeError>("unsqueeze: shape {} already has the maximum rank {}", s.str(), r);
  const int a = axis < 0 ? axis + r + 1 : axis;
  std::vector<Index> dims(s.dims().begin(), s.dims().end());
  dims.insert(dims.begin() + a, 1);
  return reshape(x, std::span<const Index>(dims));
}

template <class T>
TensorT<T> squeeze(const TensorT<T>& x, int axis) {
  const Shape& s = x.shape();
  const int a = s.normalize_axis(axis, "squeeze");
  if (s[a] != 1) return x;  // PyTorch: a non-singleton axis is left alone
  std::vector<Index> dims(s.dims().begin(), s.dims().end());
  dims.erase(dims.begin() + a);
  return reshape(x, std::span<const Index>(dims));
}

template <class T>
TensorT<T> squeeze(const TensorT<T>& x) {
  std::vector<Index> dims;
  for (Index d : x.shape().dims())
    if (d != 1) dims.push_back(d);
  return reshape(x, std::span<const Index>(dims));
}

template <class T>
TensorT<T> flatten(const TensorT<T>& x, int start_axis, int end_axis) {
  const Shape& s = x.shape();
  if (s.rank() == 0) return reshape(x, {Index(1)});
  const int a = s.normalize_axis(start_axis, "flatten"), e = s.normalize_axis(end_axis, "flatten");
  if (a > e)
    fail<ShapeError>("flatten: start axis {} comes after end axis {} (shape {})", start_axis, end_axis, s.str());
  std::vector<Index> dims;
  for (int i = 0; i < a; ++i) dims.push_back(s[i]);
  Index folded = 1;
  for (int i = a; i <= e; ++i) folded *= s[i];
  dims.push_back(folded);
  for (int i = e + 1; i < s.rank(); ++i) dims.push_back(s[i]);
  return reshape(x, std::span<const Index>(dims));
}

template <class T>
TensorT<T> stack(const std::vector<TensorT<T>>& tensors, int axis) {
  if (tensors.empty()) fail<ValueError>("stack: empty list of tensors");
  const Shape& first = tensors[0].shape();
  for (std::size_t t = 1; t < tensors.size(); ++t)
    if (!(tensors[t].shape() == first))
      fail<ShapeError>("stack: tensor {} has shape {}, tensor 0 has {} (stack needs one shape)", t,
                       tensors[t].shape().str(), first.str());
  std::vector<TensorT<T>> parts;
  for (const auto& t : tensors) parts.push_back(unsqueeze(t, axis));
  return concat(parts, axis < 0 ? axis + first.rank() + 1 : axis);
}

template <class T>
std::vector<TensorT<T>> split(const TensorT<T>& x, std::span<const Index> sizes, int axis) {
  const int a = x.shape().normalize_axis(axis, "split");
  Index total = 0;
  for (Index n : sizes) {
    if (n < 0) fail<ValueError>("split: negative size {} along axis {} of {}", n, axis, x.shape().str());
    total += n;
  }
  if (total != x.shape()[a])
    fail<ValueError>("split: sizes add up to {}, axis {} of {} has size {}", total, axis, x.shape().str(),
                     x.shape()[a]);
  std::vector<TensorT<T>> pieces;
  Index start = 0;
  for (Index n : sizes) {
    pieces.push_back(slice(x, a, start, start + n));
    start += n;
  }
  return pieces;
}

template <class T>
std::vector<TensorT<T>> split(const TensorT<T>& x, Index size, int axis) {
  const int a = x.shape().normalize_axis(axis, "split");
  if (size <= 0) fail<ValueError>("split: piece size {} must be positive (axis {} of {})", size, axis, x.shape().str());
  std::vector<Index> sizes;
  for (Index start = 0; start < x.shape()[a]; start += size) sizes.push_back(std::min(size, x.shape()[a] - start));
  return split(x, std::span<const Index>(sizes), a);
}

template <class T>
std::vector<TensorT<T>> chunk(const TensorT<T>& x, Index n, int axis) {
  const int a = x.shape().normalize_axis(axis, "chunk");
  if (n <= 0) fail<ValueError>("chunk: number of chunks {} must be positive", n);
  const Index len = x.shape()[a];
  return split(x, std::max<Index>(1, (len + n - 1) / n), a);
}

template <class T>
TensorT<T> repeat(const TensorT<T>& x, std::span<const Index> repeats) {
  const Shape& s = x.shape();
  const int r = static_cast<int>(repeats.size());
  if (r < s.rank())
    fail<ShapeError>("repeat: {} repeat counts for a tensor of rank {} (shape {}); give at least one per dimension",
                     r, s.rank(), s.str());
  if (2 * r > Shape::kMaxRank)
    fail<ShapeError>("repeat: {} dimensions need rank {} internally, above the maximum {}", r, 2 * r, Shape::kMaxRank);
  // x as [1, d0, 1, d1, ...] expanded to [r0, d0, r1, d1, ...], then folded.
  std::vector<Index> split_dims, expanded, result;
  for (int i = 0; i < r; ++i) {
    const int j = i - (r - s.rank());
    const Index d = j >= 0 ? s[j] : 1;
    if (repeats[std::size_t(i)] < 0) fail<ValueError>("repeat: negative count {} for dimension {}", repeats[std::size_t(i)], i);
    split_dims.insert(split_dims.end(), {Index(1), d});
    expanded.insert(expanded.end(), {repeats[std::size_t(i)], d});
    result.push_back(repeats[std::size_t(i)] * d);
  }
  const auto wide = expand(reshape(x, std::span<const Index>(split_dims)), with_dims(expanded));
  return reshape(wide, std::span<const Index>(result));
}

template <class T>
TensorT<T> repeat(const TensorT<T>& x, std::initializer_list<Index> repeats) {
  return repeat(x, std::span<const Index>(repeats.begin(), repeats.size()));
}

template <class T>
TensorT<T> masked_fill(const TensorT<T>& x, const TensorT<T>& mask, ScalarOf<T> value) {
  return where(mask, TensorT<T>::full(Shape{}, value), x);
}

template <class T>
TensorT<T> maximum(const TensorT<T>& a, const TensorT<T>& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "maximum");
  const d::Expanded<T> x(a.data(), a.shape(), shape), y(b.data(), b.shape(), shape);
  auto out = TensorT<T>::empty(shape);
  // NaN in either input gives NaN, as in PyTorch
  out.node().value.array() = x.array().binaryExpr(y.array(), [](T u, T v) { return u != u || v != v ? u + v : std::max(u, v); });
  // the gradient goes to the larger input, half to each at a tie (at a NaN all
  // of it goes to b, where PyTorch gives it to both)
  return record(out, "maximum", {a, b}, [](auto& g) {
    const auto u = d::at_output(g, 0), v = d::at_output(g, 1);
    const auto share = d::share_of_max(u.array(), v.array());
    if (g.needs(0)) g.accumulate(0, g.grad() * share);
    if (g.needs(1)) g.accumulate(1, g.grad() * (T(1) - share));
  });
}

template <class T>
TensorT<T> minimum(const TensorT<T>& a, const TensorT<T>& b) {
  return -maximum(-a, -b);
}

#define EMBER_INSTANTIATE(T)                                                                 \
  template TensorT<T> unsqueeze(const TensorT<T>&, int);                                    \
  template TensorT<T> squeeze(const TensorT<T>&, int);                                      \
  template TensorT<T> squeeze(const TensorT<T>&);                                           \
  template TensorT<T> flatten(const TensorT<T>&, int, int);                                 \
  template TensorT<T> permute(const TensorT<T>&, std::span<const int>);                     \
  template TensorT<T> permute(const TensorT<T>&, std::initializer_list<int>);               \
  template TensorT<T> transpose(const TensorT<T>&, int, int);                               \
  template TensorT<T> stack(const std::vector<TensorT<T>>&, int);                           \
  template std::vector<TensorT<T>> split(const TensorT<T>&, std::span<const Index>, int);   \
  template std::vector<TensorT<T>> split(const TensorT<T>&, Index, int);                    \
  template std::vector<TensorT<T>> chunk(const TensorT<T>&, Index, int);                    \
  template TensorT<T> repeat(const TensorT<T>&, std::span<const Index>);                    \
  template TensorT<T> repeat(const TensorT<T>&, std::initializer_list<Index>);              \
  template TensorT<T> masked_fill(const TensorT<T>&, const TensorT<T>&, ScalarOf<T>);       \
  template TensorT<T> maximum(const TensorT<T>&, const TensorT<T>&);                        \
  template TensorT<T> minimum(const TensorT<T>&, const TensorT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
