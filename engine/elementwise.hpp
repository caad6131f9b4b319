// Elementwise evaluation of an Eigen array expression into a buffer, split
// over OpenMP threads when the array is large.
//
// Every element is computed by the same code whatever the split: chunks
// start at multiples of 256 elements, so on a 64-byte aligned buffer each
// element goes through the same packet (or, in the array's last few
// elements, scalar) path as in Eigen's own loop on one thread, and nothing
// is reduced across elements. Results are bit-identical for every thread
// count (tests/engine/test_threads.cpp).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <exception>

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
#ifdef _OPENMP
  if (n >= kParallelMinElements && !omp_in_parallel()) {
    const int threads = static_cast<int>(std::min<Index>(omp_get_max_threads(), n / (kParallelMinElements / 2)));
    if (threads > 1) {
      // One evaluator for all threads: whatever the expression computes up
      // front (a product inside it, say) is computed once, here, on the
      // calling thread. Coefficients are then read concurrently, exactly as
      // Eigen's own loop reads them: packets through the range, scalars for
      // the array's last few elements.
      namespace ei = Eigen::internal;
      using Packet = typename ei::packet_traits<T>::type;
      constexpr Index kPacket = ei::packet_traits<T>::size;
      constexpr bool kVectorized = (ei::evaluator<Derived>::Flags & Eigen::PacketAccessBit) != 0;
      const ei::evaluator<Derived> eval(src.derived());
      constexpr Index kAlign = 256;
      const Index chunk = ((n + threads - 1) / threads + kAlign - 1) / kAlign * kAlign;
      std::exception_ptr error;  // an exception may not leave the parallel region
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int t = 0; t < threads; ++t) {
        try {
          const Index begin = std::min(n, t * chunk), end = std::min(n, begin + chunk);
          Index i = begin;
          if constexpr (kVectorized) {
            for (; i + kPacket <= end; i += kPacket) {
              Packet v = eval.template packet<Eigen::Unaligned, Packet>(i);
              if (how == Store::add) v = ei::padd(ei::ploadu<Packet>(dst + i), v);
              ei::pstoreu(dst + i, v);
            }
          }
          for (; i < end; ++i) dst[i] = how == Store::add ? dst[i] + eval.coeff(i) : eval.coeff(i);
        } catch (...) {
#pragma omp critical(ember_store_elementwise)
          if (!error) error = std::current_exception();
        }
      }
      if (error) std::rethrow_exception(error);
      return;
    }
  }
#endif
  ArrayMap<T> out(dst, n);
  if (how == Store::assign) out = src;
  else out += src;
}

// out = src, for a freshly made output buffer.
template <class T, class Derived>
void assign_elementwise(ArrayMap<T> out, const Eigen::ArrayBase<Derived>& src) {
  store_elementwise(out.data(), out.size(), src, Store::assign);
}

}  // namespace ember
