#include "ternary.hpp"

#include <limits>

#include <algorithm>
#include <cmath>

#include "shape.hpp"

namespace ember {

namespace {

std::uint8_t code_of(int v) { return v == 1 ? 0b01 : v == -1 ? 0b10 : 0b00; }

void check_scale(double scale, const char* op) {
  if (!(std::isfinite(scale) && scale > 0))
    fail<ValueError>("{}: scale {} must be finite and positive", op, scale);
}

PackedTernary pack_codes(const std::int8_t* v, Index out, Index in, double scale) {
  PackedTernary p;
  p.out_features = out;
  p.in_features = in;
  p.scale = scale;
  const Index q = p.row_bytes();
  p.bytes.assign(std::size_t(out * q), 0);
  for (Index o = 0; o < out; ++o)
    for (Index j = 0; j < in; ++j)
      p.bytes[std::size_t(o * q + j % q)] |= std::uint8_t(code_of(v[o * in + j]) << (2 * (j / q)));
  return p;
}

// sum_k x[k] * code_k over one quarter (codes at bits `shift` of packed[k]),
// as (x & plus) - (x & minus): the true value fits int8, then int16 blocks.
std::int32_t dot_quarter(const std::uint8_t* packed, const std::int8_t* x, Index n, int shift) {
  constexpr Index kBlock = 256;  // 256 * 127 = 32512 fits int16
  std::int32_t total = 0;
  for (Index k0 = 0; k0 < n; k0 += kBlock) {
    const Index k1 = std::min(n, k0 + kBlock);
    std::int16_t s = 0;
    for (Index k = k0; k < k1; ++k) {
      const std::uint8_t c = std::uint8_t((packed[k] >> shift) & 3);
      const std::int8_t plus = std::int8_t(-(c == 1)), minus = std::int8_t(-(c == 2));
      s = std::int16_t(s + std::int8_t((x[k] & plus) - (x[k] & minus)));
    }
    total += s;
  }
  return total;
}

// The same sum with the row's codes decoded once into byte masks (plus[k],
// minus[k] = 0 or -1), for several activation rows against one weight row.
std::int32_t dot_masks(const std::int8_t* plus, const std::int8_t* minus, const std::int8_t* x, Index n) {
  constexpr Index kBlock = 256;
  std::int32_t total = 0;
  for (Index k0 = 0; k0 < n; k0 += kBlock) {
    const Index k1 = std::min(n, k0 + kBlock);
    std::int16_t s = 0;
    for (Index k = k0; k < k1; ++k) s = std::int16_t(s + std::int8_t((x[k] & plus[k]) - (x[k] & minus[k])));
    total += s;
  }
  return total;
}

void decode_masks(const std::uint8_t* row, Index in, Index q, std::int8_t* plus, std::int8_t* minus) {
  for (int part = 0; part < 4; ++part) {
    const Index begin = part * q, n = std::min(q, in - begin);
    for (Index k = 0; k < n; ++k) {
      const std::uint8_t c = std::uint8_t((row[k] >> (2 * part)) & 3);
      plus[begin + k] = std::int8_t(-(c == 1));
      minus[begin + k] = std::int8_t(-(c == 2));
    }
  }
}

}  // namespace

template <class T>
PackedTernary pack_ternary(const TernaryWeights<T>& w) {
  if (w.shape.rank() != 2) fail<ValueError>("pack_ternary: weight {} must be 2-D [out, in]", w.shape.str());
  check_scale(double(w.scale), "pack_ternary");
  for (std::size_t i = 0; i < w.values.size(); ++i)
    if (w.values[i] < -1 || w.values[i] > 1)
      fail<ValueError>("pack_ternary: value {} at flat index {} is not -1, 0 or 1", int(w.values[i]), i);
  return pack_codes(w.values.data(), w.shape[0], w.shape[1], double(w.scale));
}

template <class T>
PackedTernary pack_ternary(const TensorT<T>& ternary, double scale) {
  if (ternary.rank() != 2) fail<ValueError>("pack_ternary: weight {} must be 2-D [out, in]", ternary.shape().str());
  check_scale(scale, "pack_ternary");
  const Index out = ternary.shape()[0], in = ternary.shape()[1];
  std::vector<std::int8_t> v(std::size_t(out * in));
  for (Index i = 0; i < out * in; ++i) {
    const T x = ternary.data()[i];
    if (!(x == T(-1) || x == T(0) || x == T(1)))
      fail<ValueError>("pack_ternary: value {} at [{}, {}] of {} is not -1, 0 or 1", x, i / in, i % in,
                       ternary.shape().str());
    v[std::size_t(i)] = std::int8_t(x);
  }
  return pack_codes(v.data(), out, in, scale);
}

template <class T>
TensorT<T> unpack_ternary(const PackedTernary& w) {
  auto out = TensorT<T>::empty({w.out_features, w.in_features});
  const Index q = w.row_bytes();
  for (Index o = 0; o < w.out_features; ++o)
    for (Index j = 0; j < w.in_features; ++j) {
      const int c = (w.bytes[std::size_t(o * q + j % q)] >> (2 * (j / q))) & 3;
      out.data()[o * w.in_features + j] = c == 1 ? T(1) : c == 2 ? T(-1) : T(0);
    }
  return out;
}

template <class T>
TensorT<T> dequantize_ternary(const PackedTernary& w) {
  auto t = unpack_ternary<T>(w);
  t.values() *= T(w.scale);
  return t;
}

void ternary_accumulate(const std::int8_t* x, Index rows, const PackedTernary& w, std::int32_t* acc) {
  const Index in = w.in_features, q = w.row_bytes();
  // -128 has no positive int8 counterpart: (x & plus) - (x & minus) would wrap.
  for (Index i = 0; i < rows * in; ++i)
    if (x[i] == std::numeric_limits<std::int8_t>::min())
      fail<ValueError>("ternary_accumulate: activation -128 at flat index {}; int8 activations must lie in [-127, 127]", i);
  if (rows > 1) {  // decode each weight row once for all activation rows
    std::vector<std::int8_t> plus(static_cast<std::size_t>(in)), minus(static_cast<std::size_t>(in));
    for (Index o = 0; o < w.out_features; ++o) {
      decode_masks(w.bytes.data() + o * q, in, q, plus.data(), minus.data());
      for (Index r = 0; r < rows; ++r) acc[r * w.out_features + o] = dot_masks(plus.data(), minus.data(), x + r * in, in);
    }
    return;
  }
  for (Index o = 0; o < w.out_features; ++o) {
    const std::uint8_t* row = w.bytes.data() + o * q;
    for (Index r = 0; r < rows; ++r) {
      const std::int8_t* xr = x + r * in;
      std::int32_t sum = 0;
      for (int part = 0; part < 4; ++part) {
        const Index begin = part * q, n = std::min(q, in - begin);
        if (n > 0) sum += dot_quarter(row, xr + begin, n, 2 * part);
      }
      acc[r * w.out_features + o] = sum;
    }
  }
}

template <class T>
TensorT<T> ternary_matmul(const Int8Activations<T>& x, const PackedTernary& w) {
  if (x.cols != w.in_features)
    fail<ShapeError>("ternary_matmul: input [{}x{}] and packed weight [{}x{}]: input features differ", x.rows, x.cols,
                     w.out_features, w.in_features);
  std::vector<std::int32_t> acc(std::size_t(x.rows * w.out_features));
  ternary_accumulate(x.values.data(), x.rows, w, acc.data());
  auto y = TensorT<T>::empty({x.rows, w.out_features});
  for (Index r = 0; r < x.rows; ++r) {
    const T s = x.step[std::size_t(r)] * T(w.scale);
    for (Index o = 0; o < w.out_features; ++o)
      y.data()[r * w.out_features + o] = T(acc[std::size_t(r * w.out_features + o)]) * s;
  }
  return y;
}

template <class T>
TensorT<T> ternary_linear(const TensorT<T>& x, const PackedTernary& w) {
  if (x.rank() < 1 || x.shape().cols() != w.in_features)
    fail<ShapeError>("ternary_linear: input {} and packed weight [{}x{}]: input features differ", x.shape().str(),
                     w.out_features, w.in_features);
  NoGradGuard no_grad;
  auto y = ternary_matmul(quantize_int8(rms_normalize(x)), w);
  Shape s = x.shape();
  s[s.rank() - 1] = w.out_features;
  return reshape(y, s);
}

#define EMBER_INSTANTIATE(T)                                                      \
  template PackedTernary pack_ternary(const TernaryWeights<T>&);                  \
  template PackedTernary pack_ternary(const TensorT<T>&, double);                 \
  template TensorT<T> unpack_ternary<T>(const PackedTernary&);                    \
  template TensorT<T> dequantize_ternary<T>(const PackedTernary&);                \
  template TensorT<T> ternary_matmul(const Int8Activations<T>&, const PackedTernary&); \
  template TensorT<T> ternary_linear(const TensorT<T>&, const PackedTernary&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
