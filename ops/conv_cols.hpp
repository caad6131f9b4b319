// The geometry of a convolution and its im2col/col2im copies: internal to
// ops/conv.cpp (the forward and the three gradient kernels), kept apart so
// that each file stays short.
#pragma once

#include <algorithm>

#include "../engine/buffer.hpp"
#include "conv.hpp"

namespace ember::conv_detail {

// The geometry of one convolution, shared by the forward and the three
// gradient kernels. conv1d is the case h = kh = 1 with rank-3 shapes.
struct Geom {
  const char* op;
  Shape xs, ws, ys;                // input, weight and output shapes as the user sees them
  Index n, c, h, w;                // input
  Index o, kh, kw;                 // weight
  Index sh, sw, ph, pw, dh, dw;    // stride, padding, dilation
  Index groups, oh, ow;
  Index cg, og, k, p;              // channels per group in and out, im2col rows (cg·kh·kw) and columns (oh·ow)
  bool pointwise;                  // 1x1, stride 1, no padding: the input planes are already the im2col matrix

  Index x_offset(Index n_, Index g) const { return (n_ * c + g * cg) * h * w; }
  Index y_offset(Index n_, Index g) const { return (n_ * o + g * og) * p; }
};

// The output columns ow whose input column ow·sw + off lies inside [0, w):
// [lo, hi). They depend on the kernel column only, not on the row.
struct Run {
  Index lo, hi;
};
inline Run inside(const Geom& q, Index off) {
  const Index lo = off >= 0 ? 0 : std::min(q.ow, (-off + q.sw - 1) / q.sw);
  const Index hi = off <= q.w - 1 ? std::min(q.ow, (q.w - 1 - off) / q.sw + 1) : 0;
  return {lo, std::max(lo, hi)};
}

// The output rows oh whose input row oh·sh − ph + i·dh lies inside [0, h).
struct Rows {
  Index lo, hi;
};
inline Rows valid_rows(const Geom& q, Index i) {
  const Index off = i * q.dh - q.ph;
  const Index lo = off >= 0 ? 0 : std::min(q.oh, (-off + q.sh - 1) / q.sh);
  const Index hi = off <= q.h - 1 ? std::min(q.oh, (q.h - 1 - off) / q.sh + 1) : 0;
  return {lo, std::max(lo, hi)};
}

// Zeroes the columns outside `run` of rows [r.lo, r.hi) of one row of cols
// (an [oh, ow] image). Column by column: the runs are a column or two
// (the padding) and a per-row loop would become a memset call per row.
template <class T>
void zero_edge_columns(const Geom& q, T* row, Rows r, Run run) {
  for (Index ow = 0; ow < run.lo; ++ow)
    for (Index oh = r.lo; oh < r.hi; ++oh) row[oh * q.ow + ow] = T(0);
  for (Index ow = run.hi; ow < q.ow; ++ow)
    for (Index oh = r.lo; oh < r.hi; ++oh) row[oh * q.ow + ow] = T(0);
}

// Copies and fills through Eigen's vector loops: the runs are often a few
// values long (small images), where a memmove or memset call costs more.
template <class T>
void copy_run(const T* src, Index len, T* dst) {
  if (len > 0) ArrayMap<T>(dst, len) = ConstArrayMap<T>(src, len);
}
template <class T>
void zero_run(T* dst, Index len) {
  if (len > 0) ArrayMap<T>(dst, len).setZero();
}

// x:[cg, H, W] of m samples (`xs` values apart) and one group -> cols:
// [cg·kh·kw, m·OH·OW] (rows `ld` apart, each sample's OH·OW columns side by
// side); row (c, i, j), column (n, oh, ow) holds
// x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw] or 0 in the padding.
//
// When sw = 1 and ow = w (stride 1 along rows, "same" width), a row of cols
// over its valid output rows is one contiguous run of the plane shifted by
// `off` (sh = 1) or one run per output row: it is copied in one piece, and
// the few entries that wrapped around a row edge (columns outside [lo, hi))
// are then set to 0.
template <class T>
void im2col(const Geom& q, const T* x, Index xs, Index m, T* cols, Index ld) {
  const bool runs = q.sw == 1 && q.ow == q.w;
  for (Index c = 0; c < q.cg; ++c)
    for (Index i = 0; i < q.kh; ++i)
      for (Index j = 0; j < q.kw; ++j) {
        T* const row0 = cols + ((c * q.kh + i) * q.kw + j) * ld;
        const T* const plane0 = x + c * q.h * q.w;
        const Index off = j * q.dw - q.pw;
        const Run run = inside(q, off);
        const Rows r = valid_rows(q, i);
        const Index base = i * q.dh - q.ph;
        for (Index n = 0; n < m; ++n) {
          T* row = row0 + n * q.p;
          const T* plane = plane0 + n * xs;
          if (runs) {
            if (run.lo == run.hi || r.lo == r.hi) {  // this kernel place reads only padding
              zero_run(row, q.p);
              continue;
            }
            zero_run(row, r.lo * q.ow);
            zero_run(row + r.hi * q.ow, q.p - r.hi * q.ow);
            if (q.sh == 1) {
              const Index first = r.lo * q.ow + run.lo, last = (r.hi - 1) * q.ow + run.hi;  // [first, last)
              copy_run(plane + base * q.w + first + off, last - first, row + first);
            } else {
              for (Index oh = r.lo; oh < r.hi; ++oh)
                copy_run(plane + (oh * q.sh + base) * q.w + run.lo + off, run.hi - run.lo, row + oh * q.ow + run.lo);
            }
            zero_edge_columns(q, row, r, run);
            continue;
          }
          for (Index oh = 0; oh < q.oh; ++oh) {
            T* out = row + oh * q.ow;
            const Index ih = oh * q.sh + base;
            if (ih < 0 || ih >= q.h) {
              for (Index ow = 0; ow < q.ow; ++ow) out[ow] = T(0);
              continue;
            }
            const T* src = plane + ih * q.w;
            for (Index ow = 0; ow < run.lo; ++ow) out[ow] = T(0);
            if (q.sw == 1)
              for (Index ow = run.lo; ow < run.hi; ++ow) out[ow] = src[ow + off];
            else
              for (Index ow = run.lo; ow < run.hi; ++ow) out[ow] = src[ow * q.sw + off];
            for (Index ow = run.hi; ow < q.ow; ++ow) out[ow] = T(0);
          }
        }
      }
}

// The adjoint of im2col: adds each column entry back to the input position
// it was read from (padding entries are dropped). In the contiguous case of
// im2col, the padding entries of `cols` (which col2im may overwrite: they are
// work space) are zeroed first, then each row is added in one run.
template <class T>
void col2im(const Geom& q, T* cols, Index ld, Index m, T* x, Index xs) {
  const bool runs = q.sw == 1 && q.ow == q.w && q.sh == 1;
  for (Index c = 0; c < q.cg; ++c)
    for (Index i = 0; i < q.kh; ++i)
      for (Index j = 0; j < q.kw; ++j) {
        T* const row0 = cols + ((c * q.kh + i) * q.kw + j) * ld;
        T* const plane0 = x + c * q.h * q.w;
        const Index off = j * q.dw - q.pw;
        const Run run = inside(q, off);
        const Rows r = valid_rows(q, i);
        const Index base = i * q.dh - q.ph;
        if (runs && (r.lo == r.hi || run.lo == run.hi)) continue;
        const Index first = r.lo * q.ow + run.lo, last = (r.hi - 1) * q.ow + run.hi;
        for (Index n = 0; n < m; ++n) {
          T* row = row0 + n * q.p;
          T* plane = plane0 + n * xs;
          if (runs) {
            zero_edge_columns(q, row, r, run);
            T* dst = plane + base * q.w + off;
            ArrayMap<T>(dst + first, last - first) += ArrayMap<T>(row + first, last - first);
            continue;
          }
          for (Index oh = 0; oh < q.oh; ++oh) {
            const Index ih = oh * q.sh + base;
            if (ih < 0 || ih >= q.h) continue;
            const T* in = row + oh * q.ow;
            T* dst = plane + ih * q.w;
            if (q.sw == 1)
              for (Index ow = run.lo; ow < run.hi; ++ow) dst[ow + off] += in[ow];
            else
              for (Index ow = run.lo; ow < run.hi; ++ow) dst[ow * q.sw + off] += in[ow];
          }
        }
      }
}

}  // namespace ember::conv_detail
