// Buffer: an owned, uninitialized, 64-byte aligned array of scalars, and the
// Eigen maps ember hands out over it. Allocated with the C allocator (through
// the small-block pool, pool.hpp) so that code built with other vectorization
// flags frees it the same way.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "pool.hpp"
#include "shape.hpp"

namespace ember {

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;

template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(Index size) : size_(size) {
    // Every buffer starts on a 64-byte boundary: Eigen's vectorized sums
    // split the work by alignment, so an unaligned start would change the
    // summation order — and the last bits of a seeded run — with the
    // address. Small buffers come aligned from the pool; larger ones are
    // aligned by hand over malloc, the byte before the data holding the
    // offset. Even an empty tensor gets an allocation, so "no buffer" always
    // means "no gradient yet", never "zero elements".
    if (pooled()) {
      data_ = static_cast<T*>(detail::pool_allocate(bytes()));
      return;
    }
    auto* raw = static_cast<unsigned char*>(detail::pool_allocate(bytes() + 64));
    const std::size_t offset = 64 - (reinterpret_cast<std::uintptr_t>(raw) & 63);  // 1..64
    data_ = reinterpret_cast<T*>(raw + offset);
    reinterpret_cast<unsigned char*>(data_)[-1] = static_cast<unsigned char>(offset);
  }
  Buffer(Buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (!data_) return;
    if (pooled()) detail::pool_free(data_, bytes());
    else detail::pool_free(reinterpret_cast<unsigned char*>(data_) - reinterpret_cast<unsigned char*>(data_)[-1], bytes() + 64);
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  Index size() const { return size_; }
  bool empty() const { return data_ == nullptr; }
  void reset() { *this = Buffer(); }

  ArrayMap<T> array() { return {data_, size_}; }
  ConstArrayMap<T> array() const { return {data_, size_}; }

 private:
  std::size_t bytes() const { return static_cast<std::size_t>(size_) * sizeof(T); }
  bool pooled() const { return bytes() <= detail::kPoolMaxBlock; }

  T* data_ = nullptr;
  Index size_ = 0;
};

}  // namespace ember
