#include "bitlinear.hpp"

#include <fmt/format.h>

namespace ember {

template <class T>
BitLinearT<T>::BitLinearT(Index in_features, Index out_features, Generator& gen, Init init, double gain) {
  if (in_features <= 0 || out_features <= 0)
    fail<ValueError>("BitLinear: in_features and out_features must be positive, got {} and {}", in_features,
                     out_features);
  weight = this->register_parameter("weight", TensorT<T>::empty({out_features, in_features}));
  init::layer_(weight, TensorT<T>{}, init, gen, gain);
}

template <class T>
std::string BitLinearT<T>::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias=False", in_features(), out_features());
}

template class BitLinearT<float>;
template class BitLinearT<double>;
template class SwiGLUT<float>;
template class SwiGLUT<double>;

}  // namespace ember
