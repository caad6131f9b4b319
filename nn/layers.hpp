// Layers beside Linear: Dropout, Embedding, Flatten and Residual
// (normalization layers are in norm.hpp). Parameter names are torch.nn's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "../engine/random.hpp"
#include "../ops/indexing.hpp"
#include "module.hpp"

namespace ember {

// Inverted dropout: each element is zeroed with probability p, the others
// scaled by 1/(1-p), so the expected value is x. The mask is drawn from
// `gen` (one uniform per element, in order); training = false or p = 0 is
// the identity, p = 1 gives zeros. p outside [0, 1] is a ValueError.
template <class T>
TensorT<T> dropout(const TensorT<T>& x, double p, Generator& gen, bool training = true);

// torch.nn.Dropout: dropout() in train(), the identity in eval(). The layer
// owns its Generator, seeded by `seed` or by one draw from `gen`, so a run
// is the same on every machine; it is registered as the module's random
// stream "generator" (named_generators(), so checkpoints can save it), and
// copies of the layer share it.
template <class T>
class DropoutT : public ModuleT<T> {
 public:
  explicit DropoutT(double p = 0.5, std::uint64_t seed = 0);
  DropoutT(double p, Generator& gen) : DropoutT(p, gen.next_u64()) {}
  TensorT<T> forward(const TensorT<T>& x) override { return dropout(x, p_, *gen_, this->training()); }
  double p() const { return p_; }
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;

 private:
  double p_;
  std::shared_ptr<Generator> gen_;
};

// torch.nn.Embedding: row i of weight [num_embeddings, embedding_dim] for
// each index i; an index tensor of shape S gives S + [embedding_dim].
// weight starts N(0, 1) (PyTorch's init). Repeated indices add up their rows'
// gradients. The TensorT form takes integral values (what a Sequential
// passes on); an index outside [0, num_embeddings) or not an integer is a
// ValueError naming it.
template <class T>
class EmbeddingT : public ModuleT<T> {
 public:
  EmbeddingT(Index num_embeddings, Index embedding_dim, Generator& gen);
  TensorT<T> forward(const Indices& index);
  TensorT<T> forward(const TensorT<T>& index) override;
  using ModuleT<T>::operator();
  TensorT<T> operator()(const Indices& index) { return forward(index); }
  Index num_embeddings() const { return weight.shape()[0]; }
  Index embedding_dim() const { return weight.shape()[1]; }
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  TensorT<T> weight;  // registered as "weight"
};

// torch.nn.Flatten: flatten(x, start_dim, end_dim), by default every axis
// but the batch axis.
template <class T>
class FlattenT : public ModuleT<T> {
 public:
  explicit FlattenT(int start_dim = 1, int end_dim = -1) : start_(start_dim), end_(end_dim) {}
  TensorT<T> forward(const TensorT<T>& x) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;

 private:
  int start_, end_;
};

// x + block(x). The block is the child "block" (its parameters are
// "block.0.weight", ... for a Sequential), as a PyTorch module holding it as
// self.block. A block whose output shape differs from its input's is a
// ShapeError.
template <class T>
class ResidualT : public ModuleT<T> {
 public:
  explicit ResidualT(std::shared_ptr<ModuleT<T>> block);
  template <class M>
    requires(std::is_base_of_v<ModuleT<T>, M> && !std::is_same_v<M, ResidualT>)
  explicit ResidualT(M block) : ResidualT(std::shared_ptr<ModuleT<T>>(std::make_shared<M>(std::move(block)))) {}
  TensorT<T> forward(const TensorT<T>& x) override;
  ModuleT<T>& block() const { return *block_; }
  std::string type_name() const override { return "Residual"; }

 private:
  std::shared_ptr<ModuleT<T>> block_;
};

using Dropout = DropoutT<float>;
using Dropout64 = DropoutT<double>;
using Embedding = EmbeddingT<float>;
using Embedding64 = EmbeddingT<double>;
using Flatten = FlattenT<float>;
using Flatten64 = FlattenT<double>;
using Residual = ResidualT<float>;
using Residual64 = ResidualT<double>;

extern template class DropoutT<float>;
extern template class DropoutT<double>;
extern template class EmbeddingT<float>;
extern template class EmbeddingT<double>;
extern template class FlattenT<float>;
extern template class FlattenT<double>;
extern template class ResidualT<float>;
extern template class ResidualT<double>;

}  // namespace ember
