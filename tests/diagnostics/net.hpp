// A small multilayer perceptron for the diagnostics tests, built from
// matmul + add + an activation, with its parameters as (name, tensor) pairs.
#pragma once

#include <ember/ember.hpp>

#include <cmath>
#include <string>

namespace test_net {

using namespace ember;

template <class T>
struct Mlp {
  std::vector<std::pair<std::string, TensorT<T>>> params;  // layers.i.weight [in,out], layers.i.bias [out]
  ActivationFn<T> act;

  // widths = {in, hidden..., out}; standard init U(+-1/sqrt(fan_in)) for weight and bias.
  Mlp(std::vector<Index> widths, const char* activation_name, Generator& gen) : act(activation<T>(activation_name)) {
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
      const T bound = T(1) / std::sqrt(T(widths[i]));
      params.emplace_back("layers." + std::to_string(i) + ".weight",
                          TensorT<T>::rand({widths[i], widths[i + 1]}, gen, -bound, bound).requires_grad_());
      params.emplace_back("layers." + std::to_string(i) + ".bias",
                          TensorT<T>::rand({widths[i + 1]}, gen, -bound, bound).requires_grad_());
    }
  }
  // Every layer, the last included, is followed by the activation.
  TensorT<T> forward(TensorT<T> x) const {
    for (std::size_t i = 0; i < params.size(); i += 2) x = act(matmul(x, params[i].second) + params[i + 1].second);
    return x;
  }
  void zero_grad() {
    for (auto& [name, p] : params)
      if (p.has_grad()) p.zero_grad();
  }
};

}  // namespace test_net
