// Shape: the dimensions of a dense row-major tensor, stored inline (no heap).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace ember {

using Index = std::int64_t;

class Shape {
 public:
  static constexpr int kMaxRank = 6;

  Shape() = default;  // rank 0: a scalar
  Shape(std::initializer_list<Index> dims);
  explicit Shape(std::span<const Index> dims);

  int rank() const { return rank_; }
  Index operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  Index& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  // The constructors reject dimensions whose product (of the nonzero ones)
  // exceeds 2^63 - 1, so this cannot overflow for a shape built by them; a
  // dimension set through operator[] is checked here.
  Index numel() const {
    Index n = 1;
    for (int i = 0; i < rank_; ++i)
      if (__builtin_mul_overflow(n, dims_[static_cast<std::size_t>(i)], &n)) too_many_elements();
    return n;
  }
  std::span<const Index> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }

  // Rows and columns of the row-major matrix view: the last dim is the
  // columns, all leading dims fold into rows. A scalar is 1x1, a vector 1xN.
  Index rows() const;
  Index cols() const { return rank_ == 0 ? 1 : dims_[static_cast<std::size_t>(rank_ - 1)]; }

  // Negative axes count from the back, as in NumPy. Throws ShapeError naming
  // `op` when the axis is out of range.
  int normalize_axis(int axis, const char* op) const;

  // The same shape with `axis` removed (keepdim=false) or set to 1.
  Shape reduced(int axis, bool keepdim) const;

  std::string str() const;  // "[2x3]", "[]" for a scalar

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  [[noreturn]] void too_many_elements() const;

  std::array<Index, kMaxRank> dims_{};
  int rank_ = 0;
};

// NumPy broadcasting of two shapes; throws ShapeError naming `op` when they
// are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// True when `from` broadcasts to `to` (every dim of `from`, right-aligned, is
// 1 or equal to the dim of `to`).
bool broadcasts_to(const Shape& from, const Shape& to);

}  // namespace ember
