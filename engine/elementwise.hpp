// Elementwise evaluation of an Eigen array expression into a buffer, split
// over OpenMP threads when the array is large.
//
// Every element is computed by the same code whatever the split: chunks
// start at multiples of 256 elements (so on a 64-byte aligned buffer every
// chunk starts aligned and Eigen's vectorized loop treats each element as
// it would on one thread), and nothing is reduced across elements. Results
// are bit-identical for every thread count.
#pragma once

#include <Eigen/Core>

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "buffer.hpp"

namespace ember {

// Arrays smaller than this run on the calling thread: below it, waking a
// second thread costs more than it saves.
inline constexpr Index kParallelMinElements = Index(1) << 16;

enum class Store { assign, add };

template <class T, class Derived>
void store_elementwise(T* dst, Index n, const Eigen::ArrayBase<Derived>& src, Store how) {
  auto run = [&](Index begin, Index end) {
    ArrayMap<T> out(dst + begin, end - begin);
    if (how == Store::assign) out = src.derived().segment(begin, end - begin);
    else out += src.derived().segment(begin, end - begin);
  };
#ifdef _OPENMP
  if (n >= kParallelMinElements && !omp_in_parallel()) {
    const int threads = static_cast<int>(std::min<Index>(omp_get_max_threads(), n / (kParallelMinElements / 2)));
    if (threads > 1) {
      constexpr Index kAlign = 256;
      const Index chunk = ((n + threads - 1) / threads + kAlign - 1) / kAlign * kAlign;
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int t = 0; t < threads; ++t) {
        const Index begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
        if (begin < end) run(begin, end);
      }
      return;
    }
  }
#endif
  run(0, n);
}

// out = src, for a freshly made output buffer.
template <class T, class Derived>
void assign_elementwise(ArrayMap<T> out, const Eigen::ArrayBase<Derived>& src) {
  store_elementwise(out.data(), out.size(), src, Store::assign);
}

}  // namespace ember
