// Buffer: an owned, uninitialized array of scalars, and the
// Eigen maps ember hands out over it. Allocated with the C allocator so that
// code built with other vectorization flags frees it the same way.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <utility>

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
    // Even an empty tensor gets an allocation, so "no buffer" always means
    // "no gradient yet", never "zero elements". Small buffers come from plain
    // malloc (16-byte aligned, glibc's fast path); large ones are aligned to
    // a cache line for the vector units. free() releases both.
    const std::size_t bytes = std::max<std::size_t>(static_cast<std::size_t>(size) * sizeof(T), 1);
    data_ = static_cast<T*>(bytes <= 1024 ? std::malloc(bytes) : std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!data_) throw std::bad_alloc();
  }
  Buffer(Buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(data_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  Index size() const { return size_; }
  bool empty() const { return data_ == nullptr; }
  void reset() { *this = Buffer(); }

  ArrayMap<T> array() { return {data_, size_}; }
  ConstArrayMap<T> array() const { return {data_, size_}; }

 private:
  T* data_ = nullptr;
  Index size_ = 0;
};

}  // namespace ember
