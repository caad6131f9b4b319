// Interposes the C allocator: the executable's definitions win over libc's for
// every library in the process, and forward to glibc's own entry points.
#include "alloc_count.hpp"

#include <malloc.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<bool> g_on{false};
std::atomic<std::int64_t> g_count{0}, g_bytes{0}, g_net{0};

inline void* counted(void* p) {
  if (g_on.load(std::memory_order_relaxed) && p) {
    const auto n = static_cast<std::int64_t>(malloc_usable_size(p));
    g_count.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(n, std::memory_order_relaxed);
    g_net.fetch_add(n, std::memory_order_relaxed);
  }
  return p;
}
inline void uncount(void* p) {
  if (g_on.load(std::memory_order_relaxed) && p)
    g_net.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
}
}  // namespace

// Sanitizers interpose the allocator themselves: there, count nothing.
#ifndef EMBER_BENCH_NO_ALLOC_COUNT
extern "C" {
void* malloc(std::size_t n) { return counted(__libc_malloc(n)); }
void* calloc(std::size_t k, std::size_t n) { return counted(__libc_calloc(k, n)); }
void* realloc(void* p, std::size_t n) {
  uncount(p);
  return counted(__libc_realloc(p, n));
}
void free(void* p) {
  uncount(p);
  __libc_free(p);
}
void* memalign(std::size_t a, std::size_t n) { return counted(__libc_memalign(a, n)); }
void* aligned_alloc(std::size_t a, std::size_t n) { return counted(__libc_memalign(a, n)); }
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  void* p = counted(__libc_memalign(a, n));
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
#endif

namespace bench {

void set_alloc_counting(bool on) { g_on.store(on, std::memory_order_relaxed); }

AllocStats alloc_stats() {
  return {g_count.load(std::memory_order_relaxed), g_bytes.load(std::memory_order_relaxed),
          g_net.load(std::memory_order_relaxed)};
}

}  // namespace bench
