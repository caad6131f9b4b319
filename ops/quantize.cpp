#include "quantize.hpp"

#include <cmath>
#include <limits>

#include "../engine/gemm.hpp"
#include "../engine/record.hpp"
#include "arithmetic.hpp"
#include "math.hpp"
#include "reduction.hpp"

namespace ember {

namespace {

template <class T>
T absmean_scale(const T* w, Index n, T eps) {
  double s = 0;
  for (Index i = 0; i < n; ++i) s += std::abs(double(w[i]));
  return T(n == 0 ? 0.0 : s / double(n)) + eps;
}

template <class T>
std::int8_t ternary_of(T v, T scale) {
  const T r = std::nearbyint(v / scale);
  return r >= T(1) ? std::int8_t(1) : r <= T(-1) ? std::int8_t(-1) : std::int8_t(0);
}

template <class T>
T row_step(const T* x, Index cols, T eps) {
  T m = 0;
  for (Index j = 0; j < cols; ++j) m = std::max(m, std::abs(x[j]));
  return std::max(m, eps) / T(kInt8Max);
}

template <class T>
std::int8_t int8_of(T v, T step) {
  const T r = std::nearbyint(v / step);
  if (!(r == r)) return 0;  // NaN: no integer (callers that can see one propagate it instead)
  return std::int8_t(std::clamp(r, T(-kInt8Max), T(kInt8Max)));
}

template <class T>
bool all_finite(const T* x, Index n) {
  for (Index i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

template <class T>
void check_finite(const TensorT<T>& t, const char* op, const char* what) {
  const auto v = t.values();
  for (Index i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      fail<ValueError>("{}: {} {} has a non-finite value {} at flat index {}", op, what, t.shape().str(), v[i], i);
}

template <class T>
void check_eps(T eps, const char* op) {
  if (!(eps > T(0))) fail<ValueError>("{}: eps must be positive, got {}", op, eps);
}

// W~ and x~ into dense row-major buffers: what the forward multiplies and
// the STE backward reuses.
template <class T>
void dequantized_weight(const T* w, Index n, T eps, T* out) {
  if (!all_finite(w, n)) {  // a diverged weight stays visible: NaN out, not a finite ternary
    std::fill(out, out + n, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  const T s = absmean_scale(w, n, eps);
  for (Index i = 0; i < n; ++i) out[i] = T(ternary_of(w[i], s)) * s;
}
template <class T>
void dequantized_rows(const T* x, Index rows, Index cols, T eps, T* out) {
  for (Index r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    if (!all_finite(xr, cols)) {  // a non-finite activation makes its row NaN, as the float product would
      std::fill(out + r * cols, out + (r + 1) * cols, std::numeric_limits<T>::quiet_NaN());
      continue;
    }
    const T step = row_step(xr, cols, eps);
    for (Index j = 0; j < cols; ++j) out[r * cols + j] = T(int8_of(xr[j], step)) * step;
  }
}

}  // namespace

template <class T>
TernaryWeights<T> quantize_ternary(const TensorT<T>& weight, ScalarOf<T> eps) {
  check_eps(eps, "quantize_ternary");
  check_finite(weight, "quantize_ternary", "weight");
  TernaryWeights<T> q;
  q.shape = weight.shape();
  const Index n = weight.numel();
  q.scale = absmean_scale(weight.data(), n, eps);
  q.values.resize(std::size_t(n));
  for (Index i = 0; i < n; ++i) q.values[std::size_t(i)] = ternary_of(weight.data()[i], q.scale);
  return q;
}

template <class T>
Int8Activations<T> quantize_int8(const TensorT<T>& x, ScalarOf<T> eps) {
  check_eps(eps, "quantize_int8");
  if (x.rank() < 1) fail<ShapeError>("quantize_int8: input {} must have at least one dimension", x.shape().str());
  check_finite(x, "quantize_int8", "input");
  Int8Activations<T> q;
  q.rows = x.shape().rows();
  q.cols = x.shape().cols();
  q.values.resize(std::size_t(q.rows * q.cols));
  q.step.resize(std::size_t(q.rows));
  for (Index r = 0; r < q.rows; ++r) {
    const T* xr = x.data() + r * q.cols;
    const T step = q.step[std::size_t(r)] = row_step(xr, q.cols, eps);
    for (Index j = 0; j < q.cols; ++j) q.values[std::size_t(r * q.cols + j)] = int8_of(xr[j], step);
  }
  return q;
}

template <class T>
TensorT<T> fake_quantize_ternary(const TensorT<T>& weight, ScalarOf<T> eps) {
  check_eps(eps, "fake_quantize_ternary");
  auto out = TensorT<T>::empty(weight.shape());
  dequantized_weight(weight.data(), weight.numel(), eps, out.data());
  return out;
}

template <class T>
TensorT<T> fake_quantize_int8(const TensorT<T>& x, ScalarOf<T> eps) {
  check_eps(eps, "fake_quantize_int8");
  if (x.rank() < 1) fail<ShapeError>("fake_quantize_int8: input {} must have at least one dimension", x.shape().str());
  auto out = TensorT<T>::empty(x.shape());
  dequantized_rows(x.data(), x.shape().rows(), x.shape().cols(), eps, out.data());
  return out;
}

template <class T>
TensorT<T> rms_normalize(const TensorT<T>& x, ScalarOf<T> eps) {
  if (x.rank() < 1) fail<ShapeError>("rms_normalize: input {} must have at least one dimension", x.shape().str());
  return x * rsqrt(mean(x * x, -1, true) + eps);
}

template <class T>
TensorT<T> quantized_linear(const TensorT<T>& x, const TensorT<T>& weight) {
  if (weight.rank() != 2)
    fail<ShapeError>("bitlinear: weight {} must be 2-D [out_features x in_features]", weight.shape().str());
  if (x.rank() < 1 || x.shape().cols() != weight.shape()[1])
    fail<ShapeError>("bitlinear: input {} and weight {}: input features must equal the weight's in_features {}",
                     x.shape().str(), weight.shape().str(), weight.shape()[1]);
  const Index rows = x.shape().rows(), in = weight.shape()[1], out_features = weight.shape()[0];
  const T eps = T(kQuantEps);
  Shape out_shape = x.shape();
  out_shape[out_shape.rank() - 1] = out_features;
  auto out = TensorT<T>::empty(out_shape);
  Buffer<T> xq(rows * in), wq(out_features * in);
  dequantized_rows(x.data(), rows, in, eps, xq.data());
  dequantized_weight(weight.data(), out_features * in, eps, wq.data());
  gemm(out.matrix(), ConstMatrixMap<T>(xq.data(), rows, in), ConstMatrixMap<T>(wq.data(), out_features, in).transpose(),
       Gemm::assign);
  // STE: the quantizers are the identity in the backward, so with G = dL/dy [N, out]
  //   dx += G W~ [N, in],  dW += Gᵀ x~ [out, in]
  // The quantized operands are recomputed from the inputs (cheaper to keep than to store).
  return record(
      out, "bitlinear_quant", {x, weight},
      [rows, in, out_features, eps](Backward<T>& b) {
        const ConstMatrixMap<T> g = b.grad_matrix();
        if (b.needs(0)) {
          Buffer<T> wq(out_features * in);
          dequantized_weight(b.input(1).data(), out_features * in, eps, wq.data());
          gemm(b.grad_matrix_of(0, rows, in), g, ConstMatrixMap<T>(wq.data(), out_features, in), Gemm::add);
        }
        if (b.needs(1)) {
          Buffer<T> xq(rows * in);
          dequantized_rows(b.input(0).data(), rows, in, eps, xq.data());
          gemm(b.grad_matrix_of(1, out_features, in), g.transpose(), ConstMatrixMap<T>(xq.data(), rows, in), Gemm::add);
        }
      },
      RecordOptions{.surrogate_gradient = true});
}

template <class T>
TensorT<T> bitlinear(const TensorT<T>& x, const TensorT<T>& weight) {
  if (x.rank() < 1) fail<ShapeError>("bitlinear: input {} must have at least one dimension", x.shape().str());
  return quantized_linear(rms_normalize(x), weight);
}

#define EMBER_INSTANTIATE(T)                                                           \
  template struct TernaryWeights<T>;                                                   \
  template struct Int8Activations<T>;                                                  \
  template TernaryWeights<T> quantize_ternary(const TensorT<T>&, ScalarOf<T>);         \
  template Int8Activations<T> quantize_int8(const TensorT<T>&, ScalarOf<T>);           \
  template TensorT<T> fake_quantize_ternary(const TensorT<T>&, ScalarOf<T>);           \
  template TensorT<T> fake_quantize_int8(const TensorT<T>&, ScalarOf<T>);              \
  template TensorT<T> rms_normalize(const TensorT<T>&, ScalarOf<T>);                   \
  template TensorT<T> quantized_linear(const TensorT<T>&, const TensorT<T>&);          \
  template TensorT<T> bitlinear(const TensorT<T>&, const TensorT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
