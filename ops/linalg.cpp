#include "linalg.hpp"

#include <utility>

#include "../engine/gemm.hpp"
#include "../engine/record.hpp"

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
  // into the input's gradient buffer, with no temporary.
  return record(out, "matmul", {a, b}, [](Backward<T>& g) {
    const Batched x(g.input_shape(0)), y(g.input_shape(1));
    const Index g_stride = x.rows * y.cols;
    const T* grad = g.grad().data();
    // Each input's values are read only for the other's gradient (and checked
    // against in-place changes only then, Note [versions]).
    const T* a_data = g.needs(1) ? g.input(0).data() : nullptr;
    const T* b_data = g.needs(0) ? g.input(1).data() : nullptr;
    if (g_stride == 0) {  // an empty product: zero gradients, without a loop over the batch
      for (int i = 0; i < 2; ++i)
        if (g.needs(i)) g.grad_matrix_of(i, g.input_shape(i).numel(), 1);
      return;
    }
    if (g.needs(0) && x.stride() > 0) {
      T* ga = g.grad_matrix_of(0, x.batch * x.rows, x.cols).data();
      for (Index i = 0; i < x.batch; ++i)  // g:[n,m] b:[k,m] -> dA:[n,k]
        gemm(MatrixMap<T>(ga + i * x.stride(), x.rows, x.cols), ConstMatrixMap<T>(grad + i * g_stride, x.rows, y.cols),
             ConstMatrixMap<T>(b_data + i * y.stride(), y.rows, y.cols).transpose(), Gemm::add);
    }
    if (g.needs(1) && y.stride() > 0) {
      T* gb = g.grad_matrix_of(1, y.batch * y.rows, y.cols).data();
      for (Index i = 0; i < y.batch; ++i)  // a:[n,k] g:[n,m] -> dB:[k,m]
        gemm(MatrixMap<T>(gb + i * y.stride(), y.rows, y.cols),
             ConstMatrixMap<T>(a_data + i * x.stride(), x.rows, x.cols).transpose(),
             ConstMatrixMap<T>(grad + i * g_stride, x.rows, y.cols), Gemm::add);
    }
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
  return record(out, "transpose", {x}, [](Backward<T>& g) {
    const Batched m(g.input_shape(0));
    T* gi = g.grad_matrix_of(0, m.batch * m.rows, m.cols).data();
    if (m.stride() == 0) return;
    const T* grad = g.grad().data();
    for (Index i = 0; i < m.batch; ++i)
      MatrixMap<T>(gi + i * m.stride(), m.rows, m.cols) +=
          ConstMatrixMap<T>(grad + i * m.stride(), m.cols, m.rows).transpose();
  });
}

#define EMBER_INSTANTIATE(T)                                        \
  template TensorT<T> matmul(const TensorT<T>&, const TensorT<T>&); \
  template TensorT<T> transpose(const TensorT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
