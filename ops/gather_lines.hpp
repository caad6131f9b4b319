// gather's kernels for its common case (ops/indexing.cpp): the index has
// the input's shape except along the axis, so each position reads one line.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "../engine/graph_backward.hpp"
#include "indexing.hpp"

namespace ember::detail {

// gather's common case: `index` has x's shape except along `axis`, so
// position p = (o, k, i) reads x at (o, index[p], i). `outer` blocks of
// k_n * inner positions, each reading lines of n values, inner apart.
struct Lines {
  Index outer = 0, n = 0, k_n = 0, inner = 0;
};

// One block: dst[k, i] = line[v[k, i], i], the index kept in `saved` (when
// U is not void) for the backward. A read is clamped into the line, so an
// index outside [0, n) reads nothing outside it and only makes this return
// false; the caller then redoes the block the careful way. One pass, no
// branch per element.
template <class U, class T>
bool gather_block(T* __restrict dst, const T* __restrict line, const Index* __restrict v, const Lines& l,
                  U* __restrict saved) {
  using W = std::make_unsigned_t<Index>;
  const W top = static_cast<W>(l.n - 1);
  W bad = 0;
  if (l.inner == 1) {  // the axis is the last: one contiguous line per block
    for (Index k = 0; k < l.k_n; ++k) {
      const W u = static_cast<W>(v[k]), c = std::min(u, top);
      bad |= u ^ c;
      dst[k] = line[c];
      if constexpr (!std::is_void_v<U>) saved[k] = static_cast<U>(c);
    }
    return bad == 0;
  }
  for (Index k = 0; k < l.k_n; ++k, dst += l.inner, v += l.inner) {
    for (Index i = 0; i < l.inner; ++i) {
      const W u = static_cast<W>(v[i]), c = std::min(u, top);
      bad |= u ^ c;
      dst[i] = line[static_cast<Index>(c) * l.inner + i];
    }
    if constexpr (!std::is_void_v<U>) {
      for (Index i = 0; i < l.inner; ++i) saved[i] = static_cast<U>(std::min(static_cast<W>(v[i]), top));
      saved += l.inner;
    }
  }
  return bad == 0;
}

// Calls f(U{}) with the narrowest unsigned type that holds positions in [0, n).
template <class F>
void with_position_type(Index n, F f) {
  if (n <= (Index(1) << 8)) f(std::uint8_t{});
  else if (n <= (Index(1) << 16)) f(std::uint16_t{});
  else if (n <= (Index(1) << 32)) f(std::uint32_t{});
  else f(std::uint64_t{});
}

// gather's gradient in the common case: g added into x's shape at the
// positions saved by the forward (normalized, narrowed: the backward keeps
// no copy of the caller's index); its derivative gathers again.
template <class T, class U>
struct GatherLinesGrad {
  int axis;
  Lines l;
  Shape index_shape;
  std::shared_ptr<const U[]> at;
  void operator()(T* dst, const T* g) const {
    const Index block = l.k_n * l.inner;
    for (Index o = 0, p = 0; o < l.outer; ++o, p += block) {
      T* line = dst + o * l.n * l.inner;
      const U* a = at.get() + p;
      const T* gp = g + p;
      if (l.inner == 1) {
        for (Index k = 0; k < l.k_n; ++k) line[a[k]] += gp[k];
      } else {
        for (Index k = 0, q = 0; k < l.k_n; ++k)
          for (Index i = 0; i < l.inner; ++i, ++q) line[static_cast<Index>(a[q]) * l.inner + i] += gp[q];
      }
    }
  }
  void operator()(GraphBackward<T>& b) const {
    const U* a = at.get();
    std::vector<Index> v(a, a + index_shape.numel());
    b.accumulate(0, gather(b.grad(), axis, Indices(std::move(v), index_shape)));
  }
};

}  // namespace ember::detail
