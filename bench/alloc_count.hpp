// Counts heap allocations of the whole process (every malloc-family call,
// operator new included, libtorch included) while counting is switched on.
// Off, the interposed functions cost one predictable branch.
#pragma once

#include <cstdint>

namespace bench {

struct AllocStats {
  std::int64_t allocations = 0;  // malloc, calloc, realloc, aligned_alloc, posix_memalign, memalign
  std::int64_t bytes = 0;        // usable bytes of those allocations
  std::int64_t net_bytes = 0;    // bytes allocated minus bytes freed
};

void set_alloc_counting(bool on);
AllocStats alloc_stats();  // totals since start, over the periods counting was on

inline AllocStats operator-(const AllocStats& a, const AllocStats& b) {
  return {a.allocations - b.allocations, a.bytes - b.bytes, a.net_bytes - b.net_bytes};
}

}  // namespace bench
