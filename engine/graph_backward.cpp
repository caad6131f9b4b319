#include "graph_backward.hpp"

#include "../ops/arithmetic.hpp"
#include "../ops/shape.hpp"

namespace ember {

template <class T>
GraphBackward<T>::GraphBackward(Backward<T>& fast)
    : node_(std::shared_ptr<Node<T>>(), &fast.node()),  // non-owning: the pass owns the node
      grad_(TensorT<T>::from_data(std::span<const T>(fast.grad().data(), std::size_t(fast.grad().size())),
                                  fast.output_shape())),
      fast_(&fast) {}

template <class T>
void GraphBackward<T>::accumulate(int i, const TensorT<T>& g) {
  if (!needs(i)) return;
  if (fast_) return fast_->accumulate(i, g.values());
  const Shape& shape = input_shape(i);
  TensorT<T> fitted = g;
  if (g.shape() == shape) {
  } else if (g.numel() == shape.numel()) {
    fitted = reshape(g, shape);
  } else if (g.shape() == output_shape() && broadcasts_to(shape, output_shape())) {
    fitted = sum_to(g, shape);
  } else {
    fail<GraphError>("{}: backward returned a gradient of shape {} for input {} of shape {} (output {})", op(),
                     g.shape().str(), i, shape.str(), output_shape().str());
  }
  sink_->add(node_->inputs[static_cast<std::size_t>(i)], std::move(fitted));
}

template class GraphBackward<float>;
template class GraphBackward<double>;

}  // namespace ember
