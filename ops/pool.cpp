#include "pool.hpp"

#include <cmath>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "../engine/record.hpp"
#include "derivative.hpp"

namespace ember {

namespace {

// The windows of a pooling op: output row i reads input rows [h0[i], h1[i]),
// output column j input columns [w0[j], w1[j]) (clipped to the input), in
// each of `planes` planes of h x w.
struct Windows {
  Shape xs, ys;
  Index planes = 0, h = 0, w = 0, oh = 0, ow = 0;
  std::vector<Index> h0, h1, w0, w1;
  Index divisor = 0;  // an average's fixed divisor; 0: the number of places in the window

  Index count(Index i, Index j) const { return divisor > 0 ? divisor : (h1[i] - h0[i]) * (w1[j] - w0[j]); }
};
using WindowsPtr = std::shared_ptr<const Windows>;

// x's leading axes (N, C) as planes; x must be rank 3 or 4.
template <class T>
Windows planes_of(const char* op, const TensorT<T>& x) {
  const Shape& s = x.shape();
  if (s.rank() != 3 && s.rank() != 4)
    fail<ShapeError>("{}: input {} must be rank 4 [N, C, H, W] or 3 [C, H, W]", op, s.str());
  Windows q;
  q.xs = s;
  q.h = s[s.rank() - 2];
  q.w = s[s.rank() - 1];
  q.planes = s[0] * (s.rank() == 4 ? s[1] : 1);
  return q;
}

void set_output(Windows& q) {
  q.ys = q.xs;
  q.ys[q.ys.rank() - 2] = q.oh;
  q.ys[q.ys.rank() - 1] = q.ow;
}

// Sliding windows of `kernel` every `stride` from −padding (no ceil_mode).
template <class T>
Windows sliding(const char* op, const TensorT<T>& x, Size2 kernel, Size2& stride, Size2 padding) {
  Windows q = planes_of(op, x);
  if (q.h < 1 || q.w < 1)  // padding would make windows over no elements
    fail<ShapeError>("{}: input {} has an empty plane ({}x{})", op, q.xs.str(), q.h, q.w);
  if (stride.h == 0 && stride.w == 0) stride = kernel;
  if (kernel.h < 1 || kernel.w < 1 || stride.h < 1 || stride.w < 1)
    fail<ValueError>("{}: kernel {}x{} and stride {}x{} must be >= 1", op, kernel.h, kernel.w, stride.h, stride.w);
  if (padding.h < 0 || padding.w < 0 || 2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    fail<ValueError>("{}: padding {}x{} must be >= 0 and at most half the kernel {}x{}", op, padding.h, padding.w,
                     kernel.h, kernel.w);
  if (kernel.h > q.h + 2 * padding.h || kernel.w > q.w + 2 * padding.w)
    fail<ShapeError>("{}: kernel {}x{} larger than the padded input {}x{} (input {}, padding {}x{})", op, kernel.h,
                     kernel.w, q.h + 2 * padding.h, q.w + 2 * padding.w, q.xs.str(), padding.h, padding.w);
  q.oh = (q.h + 2 * padding.h - kernel.h) / stride.h + 1;
  q.ow = (q.w + 2 * padding.w - kernel.w) / stride.w + 1;
  const auto bounds = [](Index n, Index k, Index s, Index p, Index size, std::vector<Index>& lo, std::vector<Index>& hi) {
    for (Index i = 0; i < n; ++i) {
      const Index start = i * s - p;
      lo.push_back(std::max<Index>(start, 0));
      hi.push_back(std::min<Index>(start + k, size));
    }
  };
  bounds(q.oh, kernel.h, stride.h, padding.h, q.h, q.h0, q.h1);
  bounds(q.ow, kernel.w, stride.w, padding.w, q.w, q.w0, q.w1);
  set_output(q);
  return q;
}

// --- average pooling: a linear map and its adjoint, each the other's derivative

template <class T>
TensorT<T> average_node(const char* op, const WindowsPtr& q, const TensorT<T>& x);

// dx[window] += g / count; its derivative is the average again.
template <class T>
struct AverageAdjoint {
  WindowsPtr q;
  void operator()(T* dx, const T* g) const {
    const Windows& w = *q;
    for (Index p = 0; p < w.planes; ++p) {
      T* plane = dx + p * w.h * w.w;
      const T* gp = g + p * w.oh * w.ow;
      for (Index i = 0; i < w.oh; ++i)
        for (Index j = 0; j < w.ow; ++j) {
          const T share = gp[i * w.ow + j] / T(w.count(i, j));
          for (Index r = w.h0[i]; r < w.h1[i]; ++r)
            for (Index c = w.w0[j]; c < w.w1[j]; ++c) plane[r * w.w + c] += share;
        }
    }
  }
  void operator()(GraphBackward<T>& b) const { b.accumulate(0, average_node("avg_pool2d", q, b.grad())); }
};

template <class T>
TensorT<T> average_node(const char* op, const WindowsPtr& q, const TensorT<T>& x) {
  const Windows& w = *q;
  auto out = TensorT<T>::empty(w.ys);
  T* y = out.data();
  const T* xd = x.data();
  for (Index p = 0; p < w.planes; ++p) {
    const T* plane = xd + p * w.h * w.w;
    for (Index i = 0; i < w.oh; ++i)
      for (Index j = 0; j < w.ow; ++j) {
        T acc = 0;
        for (Index r = w.h0[i]; r < w.h1[i]; ++r)
          for (Index c = w.w0[j]; c < w.w1[j]; ++c) acc += plane[r * w.w + c];
        *y++ = acc / T(w.count(i, j));
      }
  }
  // d/dx mean(window) = 1/count at each place of the window
  return record(out, op, {x}, [q](auto& b) {
    d::kernel(b, 0, "avg_pool2d_backward", AverageAdjoint<T>{q}, AverageAdjoint<T>{q}, b.grad());
  });
}

// --- max pooling: the gradient scatters to the chosen places; the scatter's
// derivative gathers from them, and the gather's scatters again.

using Chosen = std::shared_ptr<const std::vector<Index>>;  // flat input position of each output

template <class T>
struct GatherChosen;
template <class T>
struct ScatterChosen {
  Chosen at;
  Shape xs, ys;
  void operator()(T* dx, const T* g) const {
    for (std::size_t p = 0; p < at->size(); ++p) dx[(*at)[p]] += g[p];
  }
  void operator()(GraphBackward<T>& b) const {
    auto out = TensorT<T>::zeros(ys);
    GatherChosen<T>{at, xs, ys}(out.data(), b.grad().data());
    b.accumulate(0, record(out, "max_pool2d_gather", {b.grad()}, GatherChosen<T>{at, xs, ys}));
  }
};
template <class T>
struct GatherChosen {
  Chosen at;
  Shape xs, ys;
  void operator()(T* dst, const T* up) const {
    for (std::size_t p = 0; p < at->size(); ++p) dst[p] += up[(*at)[p]];
  }
  void operator()(GraphBackward<T>& b) const {
    auto out = TensorT<T>::zeros(xs);
    ScatterChosen<T>{at, xs, ys}(out.data(), b.grad().data());
    b.accumulate(0, record(out, "max_pool2d_backward", {b.grad()}, ScatterChosen<T>{at, xs, ys}));
  }
};

// The common 2x2 window, stride 2: the same rule as a select per place, in
// a loop over the output row the compiler can vectorize.
template <class T>
void max_2x2(const T* x, const Windows& q, T* y, Index* at) {
  const Index plane = q.h * q.w;
  for (Index p = 0; p < q.planes; ++p)
    for (Index i = 0; i < q.oh; ++i) {
      const Index row = p * plane + 2 * i * q.w;
      const T* r0 = x + row;
      const T* r1 = r0 + q.w;
      T* yo = y + (p * q.oh + i) * q.ow;
      Index* ao = at + (p * q.oh + i) * q.ow;
      for (Index j = 0; j < q.ow; ++j) {
        T top = r0[2 * j];
        Index k = 0;
        const T b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
        bool t = b > top || b != b;
        top = t ? b : top;
        k = t ? 1 : k;
        t = c > top || c != c;
        top = t ? c : top;
        k = t ? q.w : k;
        t = d > top || d != d;
        top = t ? d : top;
        k = t ? q.w + 1 : k;
        yo[j] = top;
        ao[j] = row + 2 * j + k;
      }
    }
}

// Max pooling over whole windows (no padding): PyTorch's scan, the first
// place of the window then any strictly larger value or a NaN. KH, KW > 0
// fix the kernel size at compile time.
template <class T, int KH, int KW>
void max_windows(const T* x, const Windows& q, Index kh, Index kw, Size2 stride, T* y, Index* at) {
  if constexpr (KH > 0) kh = KH;
  if constexpr (KW > 0) kw = KW;
  const Index plane = q.h * q.w;
  for (Index p = 0; p < q.planes; ++p) {
    const T* src = x + p * plane;
    for (Index i = 0; i < q.oh; ++i)
      for (Index j = 0; j < q.ow; ++j) {
        const Index first = i * stride.h * q.w + j * stride.w;
        Index best = first;
        T top = src[first];
        for (Index r = 0; r < kh; ++r)
          for (Index c = 0; c < kw; ++c) {
            const Index k = first + r * q.w + c;
            const T v = src[k];
            if (v > top || v != v) {
              top = v;
              best = k;
            }
          }
        *y++ = top;
        *at++ = p * plane + best;
      }
  }
}

}  // namespace

template <class T>
TensorT<T> max_pool2d(const TensorT<T>& x, Size2 kernel, Size2 stride, Size2 padding) {
  const Windows w = sliding("max_pool2d", x, kernel, stride, padding);
  auto out = TensorT<T>::empty(w.ys);
  std::vector<Index> at(static_cast<std::size_t>(w.ys.numel()));
  T* y = out.data();
  const T* xd = x.data();
  std::size_t k = 0;
  if (padding.h == 0 && padding.w == 0) {  // every window whole: a tight loop, 2x2 unrolled
    if (kernel.h == 2 && kernel.w == 2 && stride.h == 2 && stride.w == 2)
      max_2x2(xd, w, y, at.data());
    else if (kernel.h == 2 && kernel.w == 2)
      max_windows<T, 2, 2>(xd, w, 2, 2, stride, y, at.data());
    else
      max_windows<T, 0, 0>(xd, w, kernel.h, kernel.w, stride, y, at.data());
  }
  for (Index p = 0; p < w.planes && (padding.h != 0 || padding.w != 0); ++p) {
    const Index base = p * w.h * w.w;
    for (Index i = 0; i < w.oh; ++i)
      for (Index j = 0; j < w.ow; ++j) {
        // PyTorch's scan: the first place of the (clipped) window, then any
        // strictly larger value or a NaN.
        Index best = base + w.h0[i] * w.w + w.w0[j];
        T top = -std::numeric_limits<T>::infinity();
        for (Index r = w.h0[i]; r < w.h1[i]; ++r)
          for (Index c = w.w0[j]; c < w.w1[j]; ++c) {
            const T v = xd[base + r * w.w + c];
            if (v > top || std::isnan(v)) {
              top = v;
              best = base + r * w.w + c;
            }
          }
        y[k] = top;
        at[k++] = best;
      }
  }
  // d/dx max(window) = 1 at the chosen place, 0 elsewhere
  const ScatterChosen<T> grad{std::make_shared<const std::vector<Index>>(std::move(at)), w.xs, w.ys};
  return record(out, "max_pool2d", {x}, [grad](auto& b) {
    d::kernel(b, 0, "max_pool2d_backward", grad, grad, b.grad());
  });
}

template <class T>
TensorT<T> avg_pool2d(const TensorT<T>& x, Size2 kernel, Size2 stride, Size2 padding, bool count_include_pad) {
  Windows w = sliding("avg_pool2d", x, kernel, stride, padding);
  if (count_include_pad) w.divisor = kernel.h * kernel.w;
  return average_node("avg_pool2d", std::make_shared<const Windows>(std::move(w)), x);
}

template <class T>
TensorT<T> adaptive_avg_pool2d(const TensorT<T>& x, Size2 output) {
  Windows w = planes_of("adaptive_avg_pool2d", x);
  if (output.h < 1 || output.w < 1)
    fail<ValueError>("adaptive_avg_pool2d: output size {}x{} must be >= 1", output.h, output.w);
  if (w.h < 1 || w.w < 1)
    fail<ShapeError>("adaptive_avg_pool2d: input {} has an empty plane", w.xs.str());
  w.oh = output.h;
  w.ow = output.w;
  for (Index i = 0; i < w.oh; ++i) {  // floor(i·H/OH) .. ceil((i+1)·H/OH)
    w.h0.push_back(i * w.h / w.oh);
    w.h1.push_back(((i + 1) * w.h + w.oh - 1) / w.oh);
  }
  for (Index j = 0; j < w.ow; ++j) {
    w.w0.push_back(j * w.w / w.ow);
    w.w1.push_back(((j + 1) * w.w + w.ow - 1) / w.ow);
  }
  set_output(w);
  return average_node("adaptive_avg_pool2d", std::make_shared<const Windows>(std::move(w)), x);
}

#define EMBER_INSTANTIATE(T)                                                           \
  template TensorT<T> max_pool2d(const TensorT<T>&, Size2, Size2, Size2);              \
  template TensorT<T> avg_pool2d(const TensorT<T>&, Size2, Size2, Size2, bool);        \
  template TensorT<T> adaptive_avg_pool2d(const TensorT<T>&, Size2);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
