// Exceptions thrown for user mistakes. Every message is one line that starts
// with the op name and names the shapes or values involved, e.g.
//   matmul: [2x3] @ [4x5]: inner dimensions 3 and 4 differ
// Checks that guard user input stay on in Release builds.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
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
// in an error message: quoted, quotes and backslashes escaped, cut after
// `limit` bytes, so a hostile input cannot break the one-line message, and
// nothing in it is invisible: control bytes and bytes that are not UTF-8
// show as \xNN; invisible or formatting characters (C1 controls, no-break
// and zero-width spaces, direction marks, line separators, the byte-order
// mark U+FEFF) as \u{FEFF}. Other UTF-8 text is kept as it is.
inline std::string quote_text(std::string_view s, std::size_t limit) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const std::size_t n = std::min(s.size(), limit);
  std::string out = "\"";
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = byte(i);
    if (c == '"' || c == '\\') {
      out += {'\\', static_cast<char>(c)};
      ++i;
      continue;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length from the lead byte, then continuation bytes.
    const std::size_t len = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    char32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    bool valid = len > 0 && i + len <= n;
    for (std::size_t k = 1; valid && k < len; ++k) {
      valid = (byte(i + k) & 0xc0) == 0x80;
      cp = (cp << 6) | (byte(i + k) & 0x3f);
    }
    // overlong forms and UTF-16 surrogates are not UTF-8
    valid = valid && !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) &&
            !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
    if (!valid) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    const bool invisible = cp <= 0xa0 || cp == 0xad || cp == 0x034f || cp == 0x061c || cp == 0x180e ||
                           (cp >= 0x2000 && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202f) ||
                           (cp >= 0x205f && cp <= 0x206f) || cp == 0x3000 || cp == 0xfeff ||
                           (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xe0000 && cp <= 0xe007f);
    if (invisible) out += fmt::format("\\u{{{:04X}}}", static_cast<std::uint32_t>(cp));
    else out.append(s.substr(i, len));
    i += len;
  }
  if (s.size() > limit) out += "...";
  return out + "\"";
}

}  // namespace ember
