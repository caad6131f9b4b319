#include "linalg.hpp"

#include <utility>

#include "../engine/gemm.hpp"
#include "../engine/record.hpp"
#include "derivative.hpp"

namespace ember {

namespace {

// The number of [rows, cols] matrices in a tensor of rank >= 2.
Index leading(const Shape& s) {
  Index n = 1;
  for (int i = 0; i + 2 < s.rank(); ++i) n *= s[i];
  return n;
}

// A tensor of rank >= 2 as `batch` row-major [rows, cols] matrices laid one
// after another.
struct Batched {
  Index batch, rows, cols;
  explicit Batched(const Shape& s) : batch(leading(s)), rows(s[s.rank() - 2]), cols(s[s.rank() - 1]) {}
  Index stride() const { return rows * cols; }
};

// dA += G B^T, matrix by matrix. Its derivative (inputs G, B): up B in G,
// up^T G in B.
template <class T>
struct MatmulGradA {
  Batched x, y;
  void operator()(T* ga, const T* grad, const T* b_data) const {
    const Index g_stride = x.rows * y.cols;
    if (g_stride == 0 || x.stride() == 0) return;  // an empty product: zero gradient
    for (Index i = 0; i < x.batch; ++i)            // g:[n,m] b:[k,m] -> dA:[n,k]
      gemm(MatrixMap<T>(ga + i * x.stride(), x.rows, x.cols), ConstMatrixMap<T>(grad + i * g_stride, x.rows, y.cols),
           ConstMatrixMap<T>(b_data + i * y.stride(), y.rows, y.cols).transpose(), Gemm::add);
  }
  void operator()(GraphBackward<T>& b) const {
    if (b.needs(0)) b.accumulate(0, matmul(b.grad(), b.input(1)));
    if (b.needs(1)) b.accumulate(1, matmul(transpose(b.grad()), b.input(0)));
  }
};

// dB += A^T G. Its derivative (inputs A, G): G up^T in A, A up in G.
template <class T>
struct MatmulGradB {
  Batched x, y;
  void operator()(T* gb, const T* a_data, const T* grad) const {
    const Index g_stride = x.rows * y.cols;
    if (g_stride == 0 || y.stride() == 0) return;
    for (Index i = 0; i < y.batch; ++i)  // a:[n,k] g:[n,m] -> dB:[k,m]
      gemm(MatrixMap<T>(gb + i * y.stride(), y.rows, y.cols),
           ConstMatrixMap<T>(a_data + i * x.stride(), x.rows, x.cols).transpose(),
           ConstMatrixMap<T>(grad + i * g_stride, x.rows, y.cols), Gemm::add);
  }
  void operator()(GraphBackward<T>& b) const {
    if (b.needs(0)) b.accumulate(0, matmul(b.input(1), transpose(b.grad())));
    if (b.needs(1)) b.accumulate(1, matmul(b.input(0), b.grad()));
  }
};

// dX += G^T, matrix by matrix; its derivative is the transpose again.
template <class T>
struct TransposeGrad {
  Batched m;
  void operator()(T* gi, const T* grad) const {
    if (m.stride() == 0) return;
    for (Index i = 0; i < m.batch; ++i)
      MatrixMap<T>(gi + i * m.stride(), m.rows, m.cols) +=
          ConstMatrixMap<T>(grad + i * m.stride(), m.cols, m.rows).transpose();
  }
  void operator()(GraphBackward<T>& b) const { b.accumulate(0, transpose(b.grad())); }
};

}  // namespace

template <class T>
TensorT<T> matmul(const TensorT<T>& a, const TensorT<T>& b) {
  const Shape &sa = a.shape(), &sb = b.shape();
  if (sa.rank() != sb.rank() || (sa.rank() != 2 && sa.rank() != 3))
    fail<ShapeError>("matmul: {} @ {}: expected two matrices (rank 2) or two batches of matrices (rank 3), got ranks "
                     "{} and {}",
                     sa.str(), sb.str(), sa.rank(), sb.rank());
  const Batched x(sa), y(sb);
  if (x.batch != y.batch)
    fail<ShapeError>("matmul: {} @ {}: batch sizes {} and {} differ", sa.str(), sb.str(), x.batch, y.batch);
  if (x.cols != y.rows)
    fail<ShapeError>("matmul: {} @ {}: inner dimensions {} and {} differ", sa.str(), sb.str(), x.cols, y.rows);
  auto out = TensorT<T>::empty(sa.rank() == 2 ? Shape{x.rows, y.cols} : Shape{x.batch, x.rows, y.cols});
  const Index out_stride = x.rows * y.cols;
  // Each loop below runs batch times: skipped when its result is empty.
  if (out_stride > 0)
    for (Index i = 0; i < x.batch; ++i)
      gemm(MatrixMap<T>(out.data() + i * out_stride, x.rows, y.cols),
           ConstMatrixMap<T>(a.data() + i * x.stride(), x.rows, x.cols),
           ConstMatrixMap<T>(b.data() + i * y.stride(), y.rows, y.cols), Gemm::assign);
  // d/dA (A B) = G B^T, d/dB (A B) = A^T G; each GEMM accumulates straight
  // into the input's gradient buffer, with no temporary. Each input's values
  // are read only for the other's gradient (and checked against in-place
  // changes only then, Note [versions]).
  return record(out, "matmul", {a, b}, [](auto& g) {
    const Batched x(g.input_shape(0)), y(g.input_shape(1));
    if (g.needs(0)) d::kernel(g, 0, "matmul_backward", MatmulGradA<T>{x, y}, MatmulGradA<T>{x, y}, g.grad(), g.input(1));
    if (g.needs(1)) d::kernel(g, 1, "matmul_backward", MatmulGradB<T>{x, y}, MatmulGradB<T>{x, y}, g.input(0), g.grad());
  });
}

template <class T>
TensorT<T> transpose(const TensorT<T>& x) {
  const Shape& s = x.shape();
  if (s.rank() < 2)
    fail<ShapeError>("transpose: tensor of shape {} has rank {}; transpose swaps the last two dimensions and needs "
                     "rank >= 2",
                     s.str(), s.rank());
  const int r = s.rank();
  Shape t = s;
  std::swap(t[r - 2], t[r - 1]);
  const Batched m(s);
  auto out = TensorT<T>::empty(t);
  if (m.stride() > 0)
    for (Index i = 0; i < m.batch; ++i)
      MatrixMap<T>(out.data() + i * m.stride(), m.cols, m.rows) =
          ConstMatrixMap<T>(x.data() + i * m.stride(), m.rows, m.cols).transpose();
  // d/dX X^T = G^T, matrix by matrix
  return record(out, "transpose", {x}, [](auto& g) {
    const TransposeGrad<T> grad{Batched(g.input_shape(0))};
    d::kernel(g, 0, "transpose_backward", grad, grad, g.grad());
  });
}

#define EMBER_INSTANTIATE(T)                                        \
  template TensorT<T> matmul(const TensorT<T>&, const TensorT<T>&); \
  template TensorT<T> transpose(const TensorT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
