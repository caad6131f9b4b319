#include "layers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "../ops/arithmetic.hpp"
#include "../ops/layout.hpp"
#include "../ops/shape.hpp"

namespace ember {

// --- dropout ----------------------------------------------------------------------

template <class T>
TensorT<T> dropout(const TensorT<T>& x, double p, Generator& gen, bool training) {
  if (!(p >= 0 && p <= 1)) fail<ValueError>("dropout: p must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  // y = x m with m = 1/(1-p) kept, 0 dropped: the gradient is g m (the mask
  // is a constant of the product node).
  auto mask = TensorT<T>::empty(x.shape());
  T* m = mask.data();
  if (p == 1) {
    std::fill(m, m + mask.numel(), T(0));
  } else {
    const T scale = static_cast<T>(1 / (1 - p));
    for (Index i = 0; i < mask.numel(); ++i) m[i] = gen.uniform() >= p ? scale : T(0);
  }
  return x * mask;
}

template <class T>
DropoutT<T>::DropoutT(double p, std::uint64_t seed) : p_(p), gen_(std::make_shared<Generator>(seed)) {
  if (!(p >= 0 && p <= 1)) fail<ValueError>("Dropout: p must be in [0, 1], got {}", p);
  this->register_generator("generator", gen_);
}

template <class T>
std::string DropoutT<T>::extra_repr() const {
  return fmt::format("p={}", p_);
}

// --- Embedding ----------------------------------------------------------------------

template <class T>
EmbeddingT<T>::EmbeddingT(Index num_embeddings, Index embedding_dim, Generator& gen) {
  if (num_embeddings <= 0 || embedding_dim <= 0)
    fail<ValueError>("Embedding: num_embeddings and embedding_dim must be positive, got {} and {}", num_embeddings,
                     embedding_dim);
  weight = this->register_parameter("weight", TensorT<T>::randn({num_embeddings, embedding_dim}, gen));
}

template <class T>
TensorT<T> EmbeddingT<T>::forward(const Indices& index) {
  const Index n = num_embeddings();
  for (Index i = 0; i < index.numel(); ++i) {
    const Index v = index.values[static_cast<std::size_t>(i)];
    if (v < 0 || v >= n)
      fail<ValueError>("Embedding: index {} (position {} of {}) is out of range for {} embeddings", v, i,
                       index.shape.str(), n);
  }
  if (index.shape.rank() >= Shape::kMaxRank)
    fail<ShapeError>("Embedding: index {} has rank {}; the output would pass ember's maximum rank {}",
                     index.shape.str(), index.shape.rank(), Shape::kMaxRank);
  const TensorT<T> rows = index_select(weight, 0, std::span<const Index>(index.values));
  std::vector<Index> dims(index.shape.dims().begin(), index.shape.dims().end());
  dims.push_back(embedding_dim());
  return reshape(rows, std::span<const Index>(dims));
}

template <class T>
TensorT<T> EmbeddingT<T>::forward(const TensorT<T>& index) {
  std::vector<Index> values(static_cast<std::size_t>(index.numel()));
  const auto v = index.values();
  for (Index i = 0; i < index.numel(); ++i) {
    const T x = v[i];
    if (!(x == std::floor(x)) || std::abs(x) > T(1) / std::numeric_limits<T>::epsilon())
      fail<ValueError>("Embedding: index {} at position {} of {} is not an integer", x, i, index.shape().str());
    values[static_cast<std::size_t>(i)] = static_cast<Index>(x);
  }
  return forward(Indices(std::move(values), index.shape()));
}

template <class T>
std::string EmbeddingT<T>::extra_repr() const {
  return fmt::format("{}, {}", num_embeddings(), embedding_dim());
}

// --- Flatten ------------------------------------------------------------------------

template <class T>
TensorT<T> FlattenT<T>::forward(const TensorT<T>& x) {
  return flatten(x, start_, end_);
}

template <class T>
std::string FlattenT<T>::extra_repr() const {
  return fmt::format("start_dim={}, end_dim={}", start_, end_);
}

// --- Residual -----------------------------------------------------------------------

template <class T>
ResidualT<T>::ResidualT(std::shared_ptr<ModuleT<T>> block) : block_(std::move(block)) {
  this->register_module("block", block_);  // refuses a null block
}

template <class T>
TensorT<T> ResidualT<T>::forward(const TensorT<T>& x) {
  const TensorT<T> y = block_->forward(x);
  if (!(y.shape() == x.shape()))
    fail<ShapeError>("Residual: the block ({}) maps input {} to {}; x + block(x) needs the same shape",
                     block_->type_name(), x.shape().str(), y.shape().str());
  return x + y;
}

template TensorT<float> dropout(const TensorT<float>&, double, Generator&, bool);
template TensorT<double> dropout(const TensorT<double>&, double, Generator&, bool);
template class DropoutT<float>;
template class DropoutT<double>;
template class EmbeddingT<float>;
template class EmbeddingT<double>;
template class FlattenT<float>;
template class FlattenT<double>;
template class ResidualT<float>;
template class ResidualT<double>;

}  // namespace ember
