// Recycling of small memory blocks: graph nodes and the value and gradient
// buffers of small tensors.
//
// A training step builds and frees the same few hundred nodes every time,
// and a long chain of small ops frees a hundred thousand nodes in one
// backward. glibc's malloc serves such bursts from its slow paths; a
// thread-local free list per size class (multiples of 64 bytes up to 4 KiB)
// serves them in a few instructions. Pooled blocks are 64-byte aligned C
// allocations, so a block allocated on one thread may be freed on another
// (it then joins that thread's list). Each thread keeps at most kPoolLimitBytes cached; the
// rest goes back to malloc, and a thread's cache is freed when it exits or
// when it calls release_cached_memory().
//
// Under AddressSanitizer the pool is off, so use-after-free stays visible.
#pragma once

#include <cstddef>
#include <new>

namespace ember {

// Frees the blocks this thread keeps for reuse and (with glibc) returns the
// heap memory malloc keeps after large frees to the system (malloc_trim), so
// the process's RSS falls after a big graph is gone. Returns the bytes freed
// from this thread's pool.
std::size_t release_cached_memory();

namespace detail {

inline constexpr std::size_t kPoolGranule = 64;
inline constexpr std::size_t kPoolMaxBlock = 4096;
inline constexpr std::size_t kPoolLimitBytes = std::size_t(64) << 20;

// Up to kPoolMaxBlock bytes (0 included): a 64-byte aligned block from the
// pool. Larger: plain malloc. Never null; throws std::bad_alloc.
void* pool_allocate(std::size_t bytes);
void pool_free(void* block, std::size_t bytes);  // bytes as passed to pool_allocate
bool pool_enabled();  // false under AddressSanitizer: every block goes back to malloc

// A standard allocator over the pool, for std::allocate_shared.
template <class U>
struct PoolAllocator {
  using value_type = U;
  PoolAllocator() = default;
  template <class V>
  PoolAllocator(const PoolAllocator<V>&) noexcept {}
  U* allocate(std::size_t n) { return static_cast<U*>(pool_allocate(n * sizeof(U))); }
  void deallocate(U* p, std::size_t n) noexcept { pool_free(p, n * sizeof(U)); }
  template <class V>
  bool operator==(const PoolAllocator<V>&) const noexcept {
    return true;
  }
};

}  // namespace detail
}  // namespace ember
