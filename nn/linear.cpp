#include "linear.hpp"

#include "../engine/gemm.hpp"
#include "../engine/record.hpp"

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
  auto backward = [](Backward<T>& b) {
    const auto g = b.grad_matrix();
    const auto w = b.input_matrix(1);
    if (b.needs(0)) gemm(b.grad_matrix_of(0, g.rows(), w.cols()), g, w, Gemm::add);  // [N,out]·[out,in]
    if (b.needs(1)) gemm(b.grad_matrix_of(1, w.rows(), w.cols()), g.transpose(), b.input_matrix(0), Gemm::add);
    if (b.num_inputs() == 3 && b.needs(2)) b.grad_matrix_of(2, 1, w.rows()).noalias() += g.colwise().sum();
  };
  if (bias.defined()) return record(out, "linear", {x, weight, bias}, backward);
  return record(out, "linear", {x, weight}, backward);
}

template TensorT<float> linear(const TensorT<float>&, const TensorT<float>&, const TensorT<float>&);
template TensorT<double> linear(const TensorT<double>&, const TensorT<double>&, const TensorT<double>&);

}  // namespace ember
