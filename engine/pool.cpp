#include "pool.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstdlib>

namespace ember {

namespace detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
#define EMBER_POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMBER_POOL_OFF 1
#endif
#endif
#ifdef EMBER_POOL_OFF
constexpr bool kPooling = false;  // AddressSanitizer must see every free
#else
constexpr bool kPooling = true;
#endif

constexpr std::size_t kClasses = kPoolMaxBlock / kPoolGranule;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so it stays usable while other thread_local or
// static objects holding tensors are destroyed; `closed` then sends every
// block straight back to malloc.
struct Cache {
  FreeBlock* head[kClasses];
  std::size_t cached_bytes;
  bool closed;
};
thread_local Cache cache{};

std::size_t drain(Cache& c) {
  std::size_t freed = 0;
  for (std::size_t k = 0; k < kClasses; ++k) {
    while (FreeBlock* b = c.head[k]) {
      c.head[k] = b->next;
      std::free(b);
      freed += (k + 1) * kPoolGranule;
    }
  }
  c.cached_bytes = 0;
  return freed;
}

struct Closer {
  ~Closer() {
    drain(cache);
    cache.closed = true;
  }
};
thread_local Closer closer;

// Class k holds blocks of (k + 1) * 64 bytes; 0 bytes get the smallest.
std::size_t class_of(std::size_t bytes) { return bytes == 0 ? 0 : (bytes + kPoolGranule - 1) / kPoolGranule - 1; }

}  // namespace

void* pool_allocate(std::size_t bytes) {
  void* p = nullptr;
  if (bytes <= kPoolMaxBlock) {
    const std::size_t k = class_of(bytes), size = (k + 1) * kPoolGranule;
    if (kPooling) {
      Cache& c = cache;
      if (FreeBlock* b = c.head[k]) {
        c.head[k] = b->next;
        c.cached_bytes -= size;
        __builtin_prefetch(b->next, 1);  // the next block in the list is cold: fetch it now
        return b;
      }
      (void)&closer;  // registers the thread's clean-up on first use
    }
    p = std::aligned_alloc(kPoolGranule, size);
  } else {
    p = std::malloc(bytes);
  }
  if (!p) throw std::bad_alloc();
  return p;
}

void pool_free(void* block, std::size_t bytes) {
  if (!block) return;
  if (kPooling && bytes <= kPoolMaxBlock) {
    Cache& c = cache;
    const std::size_t k = class_of(bytes), size = (k + 1) * kPoolGranule;
    if (!c.closed && c.cached_bytes + size <= kPoolLimitBytes) {
      if (c.cached_bytes == 0) (void)&closer;  // a thread that only frees also drains at exit
      c.head[k] = new (block) FreeBlock{c.head[k]};
      c.cached_bytes += size;
      return;
    }
  }
  std::free(block);
}

bool pool_enabled() { return kPooling; }

}  // namespace detail

std::size_t release_cached_memory() {
  const std::size_t freed = detail::drain(detail::cache);
#ifdef __GLIBC__
  // glibc keeps freed heap memory mapped for reuse; after a large graph (or
  // tensor) is gone, hand what it can back to the system so RSS falls again.
  malloc_trim(0);
#endif
  return freed;
}

}  // namespace ember
