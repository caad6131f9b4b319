// Exceptions thrown for user mistakes. Every message is one line that starts
// with the op name and names the shapes or values involved, e.g.
//   matmul: [2x3] @ [4x5]: inner dimensions 3 and 4 differ
// Checks that guard user input stay on in Release builds.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace ember {

// Base of every ember exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Shapes that do not fit together (matmul inner dims, broadcasting, reshape).
class ShapeError : public Error {
 public:
  using Error::Error;
};

// Misuse of the graph: backward twice through a freed graph, backward from a
// non-scalar without an upstream gradient, reading a missing gradient.
class GraphError : public Error {
 public:
  using Error::Error;
};

// Values outside an op's domain: BCE input outside [0,1], class index out of
// range, a non-finite value caught by the anomaly guard.
class ValueError : public Error {
 public:
  using Error::Error;
};

// Files: malformed CSV, damaged checkpoint, failed save.
class IoError : public Error {
 public:
  using Error::Error;
};

// Throws E with a fmt-formatted message.
template <class E = Error, class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw E(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace ember
