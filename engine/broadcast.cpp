#include "broadcast.hpp"

#include <array>

namespace ember {

namespace {

// Walks the elements of `big` in row-major order, calling
// inner(offset_in_big, offset_in_small, length, small_is_contiguous) once per
// innermost row; `small` (right-aligned, dims 1 or equal) is addressed with
// stride 0 along its broadcast dimensions.
template <class F>
void for_each_row(const Shape& big, const Shape& small, F&& inner) {
  const int rank = big.rank();
  if (rank == 0) {
    inner(Index{0}, Index{0}, Index{1}, true);
    return;
  }
  std::array<Index, Shape::kMaxRank> small_stride{};
  Index stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int j = small.rank() - rank + i;
    const Index d = j >= 0 ? small[j] : 1;
    small_stride[static_cast<std::size_t>(i)] = (d == 1 && big[i] != 1) ? 0 : stride;
    stride *= d;
  }
  const Index cols = big[rank - 1];
  const bool contiguous = small_stride[static_cast<std::size_t>(rank - 1)] != 0 || cols == 1;
  const Index rows = big.numel() / (cols == 0 ? 1 : cols);
  if (cols == 0) return;
  std::array<Index, Shape::kMaxRank> idx{};
  Index small_off = 0;
  for (Index r = 0; r < rows; ++r) {
    inner(r * cols, small_off, cols, contiguous);
    // Advance the odometer over the leading dims.
    for (int i = rank - 2; i >= 0; --i) {
      const auto k = static_cast<std::size_t>(i);
      small_off += small_stride[k];
      if (++idx[k] < big[i]) break;
      small_off -= small_stride[k] * big[i];
      idx[k] = 0;
    }
  }
}

}  // namespace

template <class T>
void expand(const T* src, const Shape& from, T* dst, const Shape& to) {
  if (from.numel() == to.numel()) {
    std::copy(src, src + to.numel(), dst);
    return;
  }
  if (from.numel() == 1) {
    std::fill(dst, dst + to.numel(), src[0]);
    return;
  }
  for_each_row(to, from, [&](Index out, Index in, Index n, bool contiguous) {
    if (contiguous) std::copy(src + in, src + in + n, dst + out);
    else std::fill(dst + out, dst + out + n, src[in]);
  });
}

template <class T>
void sum_to(const T* src, const Shape& from, T* dst, const Shape& to) {
  if (from.numel() == to.numel()) {
    for (Index i = 0; i < to.numel(); ++i) dst[i] += src[i];
    return;
  }
  if (to.numel() == 1) {
    T s = 0;
    for (Index i = 0; i < from.numel(); ++i) s += src[i];
    dst[0] += s;
    return;
  }
  for_each_row(from, to, [&](Index in, Index out, Index n, bool contiguous) {
    if (contiguous) {
      for (Index i = 0; i < n; ++i) dst[out + i] += src[in + i];
    } else {
      T s = 0;
      for (Index i = 0; i < n; ++i) s += src[in + i];
      dst[out] += s;
    }
  });
}

template void expand(const float*, const Shape&, float*, const Shape&);
template void expand(const double*, const Shape&, double*, const Shape&);
template void sum_to(const float*, const Shape&, float*, const Shape&);
template void sum_to(const double*, const Shape&, double*, const Shape&);

}  // namespace ember
