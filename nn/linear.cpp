#include "linear.hpp"

#include "../engine/gemm.hpp"
#include "../engine/record.hpp"
#include "../ops/derivative.hpp"

namespace ember {

namespace {

template <class T>
using RowVectorMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

template <class T>
void check_linear(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias) {
  if (weight.rank() != 2)
    fail<ShapeError>("linear: weight {} must be 2-D [out_features x in_features]", weight.shape().str());
  if (x.rank() < 1) fail<ShapeError>("linear: input {} must have at least one dimension", x.shape().str());
  if (x.shape().cols() != weight.shape()[1])
    fail<ShapeError>("linear: input {} and weight {}: input features {} differ from the weight's in_features {}",
                     x.shape().str(), weight.shape().str(), x.shape().cols(), weight.shape()[1]);
  if (bias.defined() && !(bias.shape() == Shape{weight.shape()[0]}))
    fail<ShapeError>("linear: bias {} does not match weight {}: expected [{}]", bias.shape().str(),
                     weight.shape().str(), weight.shape()[0]);
}

// The three gradients of y = x W^T + b, each a kernel whose derivative is
// written in ops (G = dL/dy [N, out], up = the upstream of the gradient):
//   dx += G W    (inputs G, W):  up W^T in G, G^T up in W
//   dW += G^T x  (inputs G, x):  x up^T in G, G up in x
//   db += sum_rows G (input G):  up at every row
template <class T>
struct LinearGradX {
  Index rows, out, in;
  void operator()(T* dx, const T* g, const T* w) const {
    gemm(MatrixMap<T>(dx, rows, in), ConstMatrixMap<T>(g, rows, out), ConstMatrixMap<T>(w, out, in), Gemm::add);
  }
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T> g = reshape(b.input(0), {rows, out}), up = reshape(b.grad(), {rows, in});
    if (b.needs(0)) b.accumulate(0, matmul(up, transpose(b.input(1))));
    if (b.needs(1)) b.accumulate(1, matmul(transpose(g), up));
  }
};
template <class T>
struct LinearGradW {
  Index rows, out, in;
  void operator()(T* dw, const T* g, const T* x) const {
    gemm(MatrixMap<T>(dw, out, in), ConstMatrixMap<T>(g, rows, out).transpose(), ConstMatrixMap<T>(x, rows, in),
         Gemm::add);
  }
  void operator()(GraphBackward<T>& b) const {
    const TensorT<T>& up = b.grad();  // [out, in]
    if (b.needs(0)) b.accumulate(0, matmul(reshape(b.input(1), {rows, in}), transpose(up)));
    if (b.needs(1)) b.accumulate(1, matmul(reshape(b.input(0), {rows, out}), up));
  }
};
template <class T>
struct LinearGradB {
  Index rows, out;
  void operator()(T* db, const T* g) const {
    MatrixMap<T>(db, 1, out).noalias() += ConstMatrixMap<T>(g, rows, out).colwise().sum();
  }
  void operator()(GraphBackward<T>& b) const {
    b.accumulate(0, expand(reshape(b.grad(), {Index(1), out}), Shape{rows, out}));
  }
};

}  // namespace

template <class T>
TensorT<T> linear(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias) {
  check_linear(x, weight, bias);
  const Index out_features = weight.shape()[0];
  Shape out_shape = x.shape();
  out_shape[out_shape.rank() - 1] = out_features;
  auto out = TensorT<T>::empty(out_shape);
  auto y = out.matrix();
  gemm(y, x.matrix(), weight.matrix().transpose(), Gemm::assign);  // [N,in]·[in,out]
  if (bias.defined()) y.rowwise() += RowVectorMap<T>(bias.data(), out_features);

  // d/dx (xWᵀ+b) = G·W, d/dW = Gᵀ·x, d/db = Σ_rows G   (G = dL/dout, [N,out])
  auto backward = [](auto& b) {
    const Index rows = b.output_shape().rows(), out = b.input_shape(1)[0], in = b.input_shape(1)[1];
    if (b.needs(0)) d::kernel(b, 0, "linear_backward", LinearGradX<T>{rows, out, in}, LinearGradX<T>{rows, out, in},
                              b.grad(), b.input(1));  // [N,out]·[out,in]
    if (b.needs(1)) d::kernel(b, 1, "linear_backward", LinearGradW<T>{rows, out, in}, LinearGradW<T>{rows, out, in},
                              b.grad(), b.input(0));
    if (b.num_inputs() == 3 && b.needs(2))
      d::kernel(b, 2, "linear_backward", LinearGradB<T>{rows, out}, LinearGradB<T>{rows, out}, b.grad());
  };
  if (bias.defined()) return record(out, "linear", {x, weight, bias}, backward);
  return record(out, "linear", {x, weight}, backward);
}

template TensorT<float> linear(const TensorT<float>&, const TensorT<float>&, const TensorT<float>&);
template TensorT<double> linear(const TensorT<double>&, const TensorT<double>&, const TensorT<double>&);

}  // namespace ember
