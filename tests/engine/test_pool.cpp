// The small-block pool behind nodes and small buffers: alignment, reuse,
// blocks that cross threads, and giving memory back.
#include <doctest/doctest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include <ember/ember.hpp>

using ember::Index;
using ember::Tensor;

namespace {
bool aligned64(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }
}  // namespace

TEST_CASE("pool: buffers of every size start on a 64-byte boundary") {
  for (Index n : {0, 1, 3, 15, 16, 17, 255, 1023, 1024, 1025, 5000, 100000}) {
    ember::Buffer<float> f(n);
    ember::Buffer<double> d(n);
    CHECK_MESSAGE(aligned64(f.data()), "float buffer of ", n);
    CHECK_MESSAGE(aligned64(d.data()), "double buffer of ", n);
    CHECK(f.size() == n);
  }
}

TEST_CASE("pool: a freed small block is reused and release_cached_memory gives it back") {
  ember::release_cached_memory();
  const void* first = nullptr;
  {
    ember::Buffer<float> b(16);
    first = b.data();
  }
  if (ember::detail::pool_enabled()) {
    ember::Buffer<float> again(16);  // same size class: the block just freed
    CHECK(again.data() == first);
    again.reset();
    CHECK(ember::release_cached_memory() >= 64);
  }
  CHECK(ember::release_cached_memory() == 0);  // nothing left to give back
}

TEST_CASE("pool: graphs built on one thread train and are freed on another") {
  Tensor w = Tensor::full({8}, 2.0f).requires_grad_();
  std::vector<Tensor> losses;
  std::thread producer([&] {
    for (int i = 0; i < 200; ++i) losses.push_back(ember::sum((w * float(i)) + 1.0f));
  });
  producer.join();  // the producer's cache is drained at its exit; its nodes live on
  std::thread consumer([&] {
    for (auto& loss : losses) loss.backward();
    losses.clear();  // nodes allocated on the producer are freed here
    ember::release_cached_memory();
  });
  consumer.join();
  // d/dw sum(w*i + 1) = i for every element; summed over i = 0..199
  for (float g : std::vector<float>(w.grad_values().begin(), w.grad_values().end())) CHECK(g == 19900.0f);
}
