// Printing tensors as PyTorch does: values row by row, aligned, summarized
// with "..." above a size threshold, followed by the shape, the dtype and
// whether the tensor requires grad (or the op that made it):
//
//   tensor([[ 0.1000, -1.2000],
//           [ 3.0000,  4.5000]], shape=[2x2], f32, requires_grad)
//
// t.str(), `std::cout << t` and fmt::format("{}", t) all print this form.
#pragma once

#include <fmt/format.h>

#include <iosfwd>
#include <string>

#include "tensor.hpp"

namespace ember {

struct PrintOptions {
  int precision = 4;       // digits after the point (fixed) or of the mantissa (scientific)
  Index threshold = 1000;  // more elements than this: summarize
  Index edgeitems = 3;     // when summarizing, the first and last this many along each dimension
};
// Process-wide options for str(), << and fmt (set them before printing from several threads).
void set_print_options(const PrintOptions& options);
PrintOptions print_options();

template <class T>
std::string format_tensor(const TensorT<T>& t, const PrintOptions& options);

template <class T>
std::ostream& operator<<(std::ostream& os, const TensorT<T>& t);

}  // namespace ember

template <class T>
struct fmt::formatter<ember::TensorT<T>> : fmt::formatter<std::string> {
  template <class Context>
  auto format(const ember::TensorT<T>& t, Context& ctx) const {
    return fmt::formatter<std::string>::format(t.str(), ctx);
  }
};
