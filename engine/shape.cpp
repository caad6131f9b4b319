#include "shape.hpp"

#include <fmt/format.h>

#include "error.hpp"

namespace ember {

Shape::Shape(std::initializer_list<Index> dims) : Shape(std::span<const Index>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const Index> dims) {
  if (dims.size() > kMaxRank) fail<ShapeError>("shape: rank {} exceeds the maximum rank {}", dims.size(), kMaxRank);
  rank_ = static_cast<int>(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) fail<ShapeError>("shape: dimension {} is negative ({})", i, dims[i]);
    dims_[i] = dims[i];
  }
  // Also with a zero dimension: a [2^62 x 2 x 0] shape holds no element, but
  // loops over its other axes would still run 2^63 times.
  Index product = 1;
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != 0 && __builtin_mul_overflow(product, dims[i], &product)) too_many_elements();
}

void Shape::too_many_elements() const {
  fail<ShapeError>("shape {} has more than 2^63 - 1 elements", str());
}

Index Shape::rows() const {
  Index n = 1;
  for (int i = 0; i + 1 < rank_; ++i)
    if (__builtin_mul_overflow(n, dims_[static_cast<std::size_t>(i)], &n)) too_many_elements();
  return n;
}

int Shape::normalize_axis(int axis, const char* op) const {
  const int a = axis < 0 ? axis + rank_ : axis;
  if (a < 0 || a >= rank_) fail<ShapeError>("{}: axis {} is out of range for shape {}", op, axis, str());
  return a;
}

Shape Shape::reduced(int axis, bool keepdim) const {
  Shape out;
  for (int i = 0; i < rank_; ++i) {
    if (i != axis) out.dims_[static_cast<std::size_t>(out.rank_++)] = (*this)[i];
    else if (keepdim) out.dims_[static_cast<std::size_t>(out.rank_++)] = 1;
  }
  return out;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += 'x';
    s += std::to_string((*this)[i]);
  }
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  const int rank = std::max(a.rank(), b.rank());
  std::array<Index, Shape::kMaxRank> dims{};
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank() - rank + i, ib = b.rank() - rank + i;
    const Index da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      fail<ShapeError>("{}: shapes {} and {} cannot be broadcast (dimension {}: {} vs {})", op, a.str(), b.str(), i, da,
                       db);
    dims[static_cast<std::size_t>(i)] = da == 1 ? db : da;
  }
  return Shape(std::span<const Index>(dims.data(), static_cast<std::size_t>(rank)));
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.rank() > to.rank()) return false;
  for (int i = 0; i < from.rank(); ++i) {
    const Index f = from[i], t = to[to.rank() - from.rank() + i];
    if (f != t && f != 1) return false;
  }
  return true;
}

}  // namespace ember
