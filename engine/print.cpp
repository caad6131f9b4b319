#include "print.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <ostream>
#include <vector>

namespace ember {

namespace {

std::mutex g_print_mutex;
PrintOptions g_print_options;

// How the shown values are written: integers ("3."), fixed or scientific,
// chosen once for the whole tensor so that the columns line up.
enum class Style { integer, fixed, scientific };

template <class T>
Style choose(const std::vector<T>& v) {
  bool integral = true;
  double lo = INFINITY, hi = 0;
  for (T x : v) {
    if (!std::isfinite(x)) continue;
    const double a = std::abs(double(x));
    integral = integral && std::floor(a) == a;
    if (a > 0) lo = std::min(lo, a);
    hi = std::max(hi, a);
  }
  if (integral && hi < 1e8) return Style::integer;
  if (hi >= 1e8 || (lo < 1e-4) || (lo < INFINITY && hi / lo > 1e3)) return Style::scientific;
  return Style::fixed;
}

template <class T>
std::string number(T x, Style style, int precision) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  switch (style) {
    case Style::integer:
      return fmt::format("{:.0f}.", double(x));
    case Style::fixed:
      return fmt::format("{:.{}f}", double(x), precision);
    case Style::scientific:
      return fmt::format("{:.{}e}", double(x), precision);
  }
  return {};
}

// The indices shown along a dimension of size n: all, or the edges with a gap (-1).
std::vector<Index> shown(Index n, bool summarize, Index edge) {
  std::vector<Index> idx;
  if (!summarize || n <= 2 * edge) {
    for (Index i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (Index i = 0; i < edge; ++i) idx.push_back(i);
    idx.push_back(-1);
    for (Index i = n - edge; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

template <class T>
struct Printer {
  const Shape& shape;
  const T* data;
  bool summarize;
  Index edge;
  std::vector<std::string> cells;  // formatted, in the order printed
  std::size_t width = 0;

  void collect(int dim, Index offset, Index stride_product, std::vector<T>& values) {
    if (dim == shape.rank()) {
      values.push_back(data[offset]);
      return;
    }
    Index stride = 1;
    for (int d = dim + 1; d < shape.rank(); ++d) stride *= shape[d];
    for (Index i : shown(shape[dim], summarize, edge))
      if (i >= 0) collect(dim + 1, offset + i * stride, stride_product, values);
  }

  std::size_t next = 0;
  void emit(std::string& out, int dim, Index offset, int indent) {
    if (dim == shape.rank()) {
      std::string c = cells[next++];
      out += std::string(width - c.size(), ' ') + c;
      return;
    }
    Index stride = 1;
    for (int d = dim + 1; d < shape.rank(); ++d) stride *= shape[d];
    out += '[';
    const auto idx = shown(shape[dim], summarize, edge);
    const bool last_dim = dim + 1 == shape.rank();
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k > 0) {
        out += ',';
        if (last_dim) {
          out += ' ';
        } else {
          out += std::string(std::size_t(shape.rank() - dim - 1), '\n');
          out += std::string(std::size_t(indent + dim + 1), ' ');
        }
      }
      if (idx[k] < 0) out += "...";
      else emit(out, dim + 1, offset + idx[k] * stride, indent);
    }
    out += ']';
  }
};

}  // namespace

void set_print_options(const PrintOptions& options) {
  std::lock_guard lock(g_print_mutex);
  g_print_options = options;
}

PrintOptions print_options() {
  std::lock_guard lock(g_print_mutex);
  return g_print_options;
}

template <class T>
std::string format_tensor(const TensorT<T>& t, const PrintOptions& options) {
  if (!t.defined()) return "tensor(undefined)";
  const Shape& shape = t.shape();
  const bool summarize = t.numel() > options.threshold;
  Printer<T> p{shape, t.data(), summarize, std::max<Index>(1, options.edgeitems), {}};
  std::vector<T> values;
  if (t.numel() > 0) p.collect(0, 0, 1, values);
  const Style style = choose(values);
  for (T v : values) {
    p.cells.push_back(number(v, style, options.precision));
    p.width = std::max(p.width, p.cells.back().size());
  }
  std::string out = "tensor(";
  if (t.numel() == 0) out += "[]";
  else p.emit(out, 0, 0, static_cast<int>(out.size()));
  out += fmt::format(", shape={}, {}", shape.str(), sizeof(T) == 4 ? "f32" : "f64");
  if (!t.is_leaf()) out += fmt::format(", op={}", t.op());
  else if (t.requires_grad()) out += ", requires_grad";
  return out + ")";
}

template <class T>
std::ostream& operator<<(std::ostream& os, const TensorT<T>& t) {
  return os << t.str();
}

template std::string format_tensor(const TensorT<float>&, const PrintOptions&);
template std::string format_tensor(const TensorT<double>&, const PrintOptions&);
template std::ostream& operator<<(std::ostream&, const TensorT<float>&);
template std::ostream& operator<<(std::ostream&, const TensorT<double>&);

}  // namespace ember
