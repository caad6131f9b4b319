// Exceptions thrown for user mistakes. Every message is one line that starts
// with the op name and names the shapes or values involved, e.g.
//   matmul: [2x3] @ [4x5]: inner dimensions 3 and 4 differ
// Checks that guard user input stay on in Release builds.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>
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

// Text from outside (a CSV field, a checkpoint's tensor name) as it appears
// in an error message: quoted, quotes and control bytes escaped, cut after
// `limit` characters, so a hostile input cannot break the one-line message.
inline std::string quote_text(std::string_view s, std::size_t limit) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\')
      out += {'\\', static_cast<char>(c)};
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  if (s.size() > limit) out += "...";
  return out + "\"";
}

}  // namespace ember
