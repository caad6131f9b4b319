// Winograd F(2x2, 3x3) for 3x3 kernels at stride 1 and dilation 1 (Lavin and
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): internal
// to ops/conv.cpp (the forward, the input gradient as a convolution of G,
// and the weight gradient). Each 2x2 block of outputs of one 4x4 input tile
// d is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A: 16 multiplications per tile and channel
// pair instead of 36. Summed over the input channels, the 16 entries of ⊙
// become 16 independent products
//   M_ξ[tiles, cout] = V_ξ[tiles, cin] · U_ξ[cin, cout]    (ξ = the 16 tile entries)
// that run through engine/gemm.hpp; the transforms are additions only.
//
// Rounding differs from im2col's (the transforms add and subtract inputs
// before the products); the error stays near float's epsilon times the
// values' size (F(2x2, 3x3) is the mildest Winograd variant).
#pragma once

#include <algorithm>

#include "../engine/buffer.hpp"
#include "../engine/gemm.hpp"

namespace ember::conv_detail {

// One group of a 3x3 stride-1 correlation out of context: cin planes of h×w
// in (contiguous, in_sample values between samples), cout planes of oh×ow
// out (out_sample apart); output (r, s) reads input rows r − ph .. r − ph + 2
// and columns s − pw .. s − pw + 2, outside the plane 0.
//
// Inside, channels are the innermost axis (a sample's planes are transposed
// to [rows, cols, channels] on the way in and back on the way out): the
// transforms then run on whole channel vectors, which vectorize, where rows
// of small images (7 tiles across a 14×14 plane) would not.
struct WinoShape {
  Index cin, h, w, cout, oh, ow, ph, pw, in_sample, out_sample;
  Index th() const { return (oh + 1) / 2; }  // tiles down and across
  Index tw() const { return (ow + 1) / 2; }
  Index tiles() const { return th() * tw(); }  // per sample
  Index rows() const { return 2 * th() + 2; }  // the zero-padded plane the tiles read
  Index cols() const { return 2 * tw() + 2; }
  // Work space of a chunk of m samples: V [16][m·tiles][cin], one padded
  // sample [rows][cols][cin], its combined rows [4][cols][cin] and one
  // transposed sample [h·w][cin]; M [16][m·tiles][cout], one output sample
  // [2·th][2·tw][cout] and its transpose, and 8 rows of cout.
  Index v_size(Index m) const { return (16 * m * tiles() + (rows() + 4) * cols() + h * w) * cin; }
  Index m_size(Index m) const { return (16 * m * tiles() + 8 * tiles() + 8) * cout; }
};

// dst[j·dst_stride + i] = src[i·src_stride + j] for i < rows, j < cols:
// blocks of one packet square through Eigen's register transpose, the
// edges one by one (a scalar transpose was half of the transforms' time).
// The packet type comes in deduced (`zero`): named as a template argument,
// GCC warns that its vector attributes are dropped.
template <class T, class P>
void transpose_packets(const P& zero, const T* src, Index src_stride, Index rows, Index cols, T* dst,
                       Index dst_stride) {
  constexpr int n = int(sizeof(P) / sizeof(T));
  Index i = 0;
  for (; i + n <= rows; i += n) {
    Index j = 0;
    for (; j + n <= cols; j += n) {
      Eigen::internal::PacketBlock<P, n> b;
      for (int k = 0; k < n; ++k) b.packet[k] = Eigen::internal::ploadu<P>(src + (i + k) * src_stride + j);
      Eigen::internal::ptranspose(b);
      for (int k = 0; k < n; ++k) Eigen::internal::pstoreu(dst + (j + k) * dst_stride + i, b.packet[k]);
    }
    for (; j < cols; ++j)
      for (Index k = i; k < i + n; ++k) dst[j * dst_stride + k] = src[k * src_stride + j];
  }
  for (; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) dst[j * dst_stride + i] = src[i * src_stride + j];
  (void)zero;
}
template <class T>
void transpose(const T* src, Index src_stride, Index rows, Index cols, T* dst, Index dst_stride) {
  transpose_packets(Eigen::internal::pset1<typename Eigen::internal::packet_traits<T>::type>(T(0)), src, src_stride,
                    rows, cols, dst, dst_stride);
}

// (d0 − d2, d1 + d2, d2 − d1, d1 − d3) on n lanes: Bᵀ = [1 0 −1 0; 0 1 1 0;
// 0 −1 1 0; 0 1 0 −1] applied to four vectors.
template <class T>
inline void winograd_bt(Index n, const T* d0, const T* d1, const T* d2, const T* d3, T* __restrict o0,
                        T* __restrict o1, T* __restrict o2, T* __restrict o3) {
  for (Index i = 0; i < n; ++i) {
    const T a = d0[i], b = d1[i], c = d2[i], e = d3[i];
    o0[i] = a - c;
    o1[i] = b + c;
    o2[i] = c - b;
    o3[i] = b - e;
  }
}

// (m0 + m1 + m2, m1 − m2 − m3) on n lanes: Aᵀ = [1 1 1 0; 0 1 −1 −1].
template <class T>
inline void winograd_at(Index n, const T* m0, const T* m1, const T* m2, const T* m3, T* __restrict o0,
                        T* __restrict o1) {
  for (Index i = 0; i < n; ++i) {
    const T a = m0[i], b = m1[i], c = m2[i], e = m3[i];
    o0[i] = a + b + c;
    o1[i] = b - c - e;
  }
}

// U_ξ = G g Gᵀ for each (c, o), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1];
// kernel(o, c, i, j) reads g. u: [16][cin][cout].
template <class T, class K>
void winograd_weights(Index cout, Index cin, K kernel, T* u) {
  const Index stride = cout * cin;
  const T half(0.5);
  for (Index o = 0; o < cout; ++o)
    for (Index c = 0; c < cin; ++c) {
      T t[4][3];
      for (int j = 0; j < 3; ++j) {
        const T g0 = kernel(o, c, 0, j), g1 = kernel(o, c, 1, j), g2 = kernel(o, c, 2, j);
        t[0][j] = g0;
        t[1][j] = (g0 + g1 + g2) * half;
        t[2][j] = (g0 - g1 + g2) * half;
        t[3][j] = g2;
      }
      for (int i = 0; i < 4; ++i) {
        T* e = u + 4 * i * stride + c * cout + o;
        e[0] = t[i][0];
        e[stride] = (t[i][0] + t[i][1] + t[i][2]) * half;
        e[2 * stride] = (t[i][0] - t[i][1] + t[i][2]) * half;
        e[3 * stride] = t[i][2];
      }
    }
}

// V_ξ[t, c] = (Bᵀ d B)_ξ of tile t of channel c: each sample is copied into
// a zero-padded [rows][cols][cin] (every tile then reads inside it), Bᵀ is
// applied down each tile row's four padded rows at once, then across per tile.
template <class T>
void winograd_input(const WinoShape& s, Index m, const T* x, T* v, T* padded) {
  const Index tw = s.tw(), R = s.rows(), C = s.cols(), cin = s.cin, T_ = m * s.tiles(), xi = T_ * cin;
  T* comb = padded + R * C * cin;  // [4][cols][cin]
  T* flip = comb + 4 * C * cin;    // [h·w][cin]
  const Index row = C * cin;
  for (Index n = 0; n < m; ++n) {
    std::fill(padded, padded + R * row, T(0));
    transpose(x + n * s.in_sample, s.h * s.w, cin, s.h * s.w, flip, cin);
    const Index len = std::min(s.w, C - s.pw) * cin;
    for (Index r = 0; r < s.h && r + s.ph < R; ++r)
      std::copy(flip + r * s.w * cin, flip + r * s.w * cin + len, padded + (r + s.ph) * row + s.pw * cin);
    for (Index a = 0; a < s.th(); ++a) {
      const T* p = padded + 2 * a * row;
      winograd_bt(row, p, p + row, p + 2 * row, p + 3 * row, comb, comb + row, comb + 2 * row, comb + 3 * row);
      for (Index b = 0; b < tw; ++b) {
        T* dst = v + ((n * s.th() + a) * tw + b) * cin;
        for (int i = 0; i < 4; ++i) {
          const T* e = comb + i * row + 2 * b * cin;
          T* o = dst + 4 * i * xi;
          winograd_bt(cin, e, e + cin, e + 2 * cin, e + 3 * cin, o, o + xi, o + 2 * xi, o + 3 * xi);
        }
      }
    }
  }
}

// y (= or +=) Aᵀ M A per tile, plus bias[o] when given; a tile row or column
// past an odd edge is cut off. out: [2·th][2·tw][cout], 8 rows of cout and
// [cout][2·th·2·tw].
template <class T>
void winograd_output(const WinoShape& s, Index m, const T* mm, const T* bias, bool add, T* y, T* out) {
  const Index tw = s.tw(), cout = s.cout, T_ = m * s.tiles(), xi = T_ * cout, ow2 = 2 * tw;
  T* r = out + 4 * s.tiles() * cout;  // Aᵀ over a tile's rows: [2][4][cout]
  for (Index n = 0; n < m; ++n) {
    for (Index a = 0; a < s.th(); ++a)
      for (Index b = 0; b < tw; ++b) {
        const T* e = mm + ((n * s.th() + a) * tw + b) * cout;
        for (int j = 0; j < 4; ++j)
          winograd_at(cout, e + j * xi, e + (4 + j) * xi, e + (8 + j) * xi, e + (12 + j) * xi, r + j * cout,
                      r + (4 + j) * cout);
        T* y0 = out + (2 * a * ow2 + 2 * b) * cout;
        T* y1 = y0 + ow2 * cout;
        winograd_at(cout, r, r + cout, r + 2 * cout, r + 3 * cout, y0, y0 + cout);
        winograd_at(cout, r + 4 * cout, r + 5 * cout, r + 6 * cout, r + 7 * cout, y1, y1 + cout);
      }
    T* planes = r + 8 * cout;  // back to planes: [cout][2·th·2·tw]
    const Index size = 4 * s.tiles();
    transpose(out, cout, size, cout, planes, size);
    for (Index o = 0; o < cout; ++o) {
      const T b = bias ? bias[o] : T(0);
      T* dst = y + n * s.out_sample + o * s.oh * s.ow;
      for (Index i = 0; i < s.oh; ++i) {
        const T* from = planes + o * size + i * ow2;
        T* to = dst + i * s.ow;
        if (add)
          for (Index q = 0; q < s.ow; ++q) to[q] += from[q] + b;
        else
          for (Index q = 0; q < s.ow; ++q) to[q] = from[q] + b;
      }
    }
  }
}

// The weight gradient (the forward is linear in U = G g Gᵀ, and its output
// tile is Aᵀ M A):
//   dU_ξ[c, o] = Σ_t V_ξ[t, c] · (A dY_t Aᵀ)_ξ[t, o],   dg = Gᵀ dU G
// with dY_t the 2x2 block of dL/dy of tile t (0 past an odd edge).

// (y0, y0 + y1, y0 − y1, −y1) on n lanes: A = [1 0; 1 1; 1 −1; 0 −1].
template <class T>
inline void winograd_a(Index n, const T* y0, const T* y1, T* __restrict o0, T* __restrict o1, T* __restrict o2,
                       T* __restrict o3) {
  for (Index i = 0; i < n; ++i) {
    const T a = y0[i], b = y1[i];
    o0[i] = a;
    o1[i] = a + b;
    o2[i] = a - b;
    o3[i] = -b;
  }
}

// D_ξ[t, o] = (A dY_t Aᵀ)_ξ for m samples of dL/dy (cout planes each, in
// the y layout): each sample is copied into a zero-padded [2·th][2·tw][cout].
template <class T>
void winograd_grad_tiles(const WinoShape& s, Index m, const T* gy, T* d, T* padded) {
  const Index tw = s.tw(), cout = s.cout, xi = m * s.tiles() * cout, row = 2 * tw * cout;
  T* z = padded + 2 * s.th() * row;  // A over a tile's rows: [4][2][cout]
  T* flip = z + 8 * cout;             // [oh·ow][cout]
  for (Index n = 0; n < m; ++n) {
    std::fill(padded, padded + 2 * s.th() * row, T(0));
    transpose(gy + n * s.out_sample, s.oh * s.ow, cout, s.oh * s.ow, flip, cout);
    for (Index r = 0; r < s.oh; ++r)
      std::copy(flip + r * s.ow * cout, flip + (r + 1) * s.ow * cout, padded + r * row);
    for (Index a = 0; a < s.th(); ++a)
      for (Index b = 0; b < tw; ++b) {
        const T* y0 = padded + 2 * a * row + 2 * b * cout;
        const T* y1 = y0 + row;
        for (int j = 0; j < 2; ++j)
          winograd_a(cout, y0 + j * cout, y1 + j * cout, z + j * cout, z + (2 + j) * cout, z + (4 + j) * cout,
                     z + (6 + j) * cout);
        T* dst = d + ((n * s.th() + a) * tw + b) * cout;
        for (int i = 0; i < 4; ++i) {
          T* o = dst + 4 * i * xi;
          winograd_a(cout, z + 2 * i * cout, z + (2 * i + 1) * cout, o, o + xi, o + 2 * xi, o + 3 * xi);
        }
      }
  }
}

// dU_ξ += Σ over m samples' tiles of V_ξᵀ·D_ξ ([cin, tiles]·[tiles, cout]);
// work: v_size(m) and m_size(m) values, du: [16][cin][cout].
template <class T>
void winograd_weight_chunk(const WinoShape& s, Index m, const T* x, const T* gy, T* du, T* work_v, T* work_m) {
  const Index T_ = m * s.tiles();
  winograd_input(s, m, x, work_v, work_v + 16 * T_ * s.cin);
  winograd_grad_tiles(s, m, gy, work_m, work_m + 16 * T_ * s.cout);
  for (Index xi = 0; xi < 16; ++xi)
    gemm(MatrixMap<T>(du + xi * s.cin * s.cout, s.cin, s.cout),
         ConstMatrixMap<T>(work_v + xi * T_ * s.cin, T_, s.cin).transpose(),
         ConstMatrixMap<T>(work_m + xi * T_ * s.cout, T_, s.cout), Gemm::add);
}

// dg(o, c, i, j) += (Gᵀ dU G)[i, j] for each (c, o), Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1];
// dg(o, c, i, j) returns the weight gradient's entry to add to.
template <class T, class K>
void winograd_weights_back(Index cout, Index cin, const T* du, K dg) {
  const Index stride = cout * cin;
  const T half(0.5);
  for (Index c = 0; c < cin; ++c)
    for (Index o = 0; o < cout; ++o) {
      T t[3][4];  // Gᵀ over the rows of dU
      for (int j = 0; j < 4; ++j) {
        const T* e = du + j * stride + c * cout + o;
        const T u0 = e[0], u1 = e[4 * stride], u2 = e[8 * stride], u3 = e[12 * stride];
        t[0][j] = u0 + (u1 + u2) * half;
        t[1][j] = (u1 - u2) * half;
        t[2][j] = (u1 + u2) * half + u3;
      }
      for (int i = 0; i < 3; ++i) {
        dg(o, c, i, 0) += t[i][0] + (t[i][1] + t[i][2]) * half;
        dg(o, c, i, 1) += (t[i][1] - t[i][2]) * half;
        dg(o, c, i, 2) += (t[i][1] + t[i][2]) * half + t[i][3];
      }
    }
}

// m samples: x (cin planes each) -> y (cout planes each), u from
// winograd_weights; work: v_size(m) and m_size(m) values.
template <class T>
void winograd_chunk(const WinoShape& s, Index m, const T* x, const T* u, const T* bias, bool add, T* y, T* work_v,
                    T* work_m) {
  const Index T_ = m * s.tiles();
  winograd_input(s, m, x, work_v, work_v + 16 * T_ * s.cin);
  for (Index xi = 0; xi < 16; ++xi)  // [tiles, cin]·[cin, cout] -> [tiles, cout]
    gemm(MatrixMap<T>(work_m + xi * T_ * s.cout, T_, s.cout), ConstMatrixMap<T>(work_v + xi * T_ * s.cin, T_, s.cin),
         ConstMatrixMap<T>(u + xi * s.cin * s.cout, s.cin, s.cout), Gemm::assign);
  winograd_output(s, m, work_m, bias, add, y, work_m + 16 * T_ * s.cout);
}

}  // namespace ember::conv_detail
