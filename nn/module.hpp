// Modules: layers with named parameters, and containers of layers.
//
// A module owns parameters (leaf tensors with requires_grad) and child
// modules, each under a name. named_parameters() lists them depth first with
// dotted names, own parameters first, then each child's prefixed by the
// child's name: an mlp() lists "0.weight", "0.bias", "2.weight", ... exactly
// like PyTorch's nn.Sequential (whose children are named by index, activations
// included), and named_parameters("layers") gives "layers.0.weight", ..., the
// names of a Sequential held by a PyTorch module as `self.layers`. Checkpoints
// use these names, so they load into the PyTorch model of the same structure.
//
// Buffers are tensors a module keeps and saves but does not train (batch
// norm's running mean and variance): register_buffer() adds one, they never
// require grad and are not in named_parameters(). state_dict() lists both,
// each module's parameters then its buffers, then its children's, under the
// same dotted names: PyTorch's Module.state_dict() order and names, so
//   save_safetensors(path, model.state_dict());  load_into(path, model.state_dict());
// (or save_module / load_module in nn/state.hpp) round-trips every tensor a
// layer needs, and the file loads into the torch.nn model of that structure.
//
// Random streams: a module that draws random numbers as it runs (Dropout's
// mask) registers its Generator with register_generator(), and
// named_generators() lists them depth first with the same dotted names
// ("1.generator" for a Dropout at position 1), so a checkpoint can save and
// restore where each stream stands (io/training_state.hpp).
//
// Like tensors, modules are handles: copying a module shares its parameters
// and children (there is no deep copy). The classes are templates on the
// scalar type with float aliases (Linear, Sequential, ...) and double ones
// (Linear64, ...), as TensorT/Tensor/Tensor64.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../engine/random.hpp"
#include "../engine/tensor.hpp"
#include "../ops/activation.hpp"
#include "init.hpp"

namespace ember {

template <class T>
class LinearT;

template <class T>
class ModuleT {
 public:
  using NamedParameters = std::vector<std::pair<std::string, TensorT<T>>>;

  virtual ~ModuleT() = default;

  virtual TensorT<T> forward(const TensorT<T>& x) = 0;
  TensorT<T> operator()(const TensorT<T>& x) { return forward(x); }

  // --- parameters and children ---------------------------------------------
  NamedParameters named_parameters(std::string_view prefix = "") const;
  std::vector<TensorT<T>> parameters() const;
  // Buffers (see the top of this file), depth first with dotted names.
  NamedParameters named_buffers(std::string_view prefix = "") const;
  std::vector<TensorT<T>> buffers() const;
  // Parameters and buffers: per module its parameters, then its buffers, then
  // its children, as PyTorch's state_dict() (what a checkpoint holds).
  NamedParameters state_dict(std::string_view prefix = "") const;
  // The registered random streams, depth first with dotted names (see the
  // top of this file); the pointers live as long as the modules holding them.
  NamedGenerators named_generators(std::string_view prefix = "") const;
  Index num_parameters() const;  // total number of scalars
  // This module (named `prefix`) and all modules below it, depth first.
  std::vector<std::pair<std::string, ModuleT*>> named_modules(std::string_view prefix = "");
  const std::vector<std::pair<std::string, std::shared_ptr<ModuleT>>>& children() const { return children_; }
  // The Linear layers below this module in forward order for a Sequential
  // (depth first): [0] is the layer next to the input.
  std::vector<LinearT<T>*> linear_layers();

  // Adds a parameter under `name` (non-empty, no '.', unused in this module)
  // and marks it requires_grad. Returns the same handle.
  TensorT<T> register_parameter(std::string name, TensorT<T> param);
  // Adds a buffer under `name` (same rules): a defined tensor that does not
  // require grad (ValueError otherwise). Returns the same handle; update its
  // values in place (a new tensor would not be the registered one).
  TensorT<T> register_buffer(std::string name, TensorT<T> buffer);
  // Adds a random stream under `name` (same rules). The module shares its
  // ownership, so copies of the module (handles) draw from the same stream.
  Generator& register_generator(std::string name, std::shared_ptr<Generator> generator);
  // Adds a child module under `name` (same rules).
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<ModuleT, M>, "register_module: M must derive from ModuleT<T>");
    add_child(std::move(name), module);
    return module;
  }
  template <class M>
    requires std::is_base_of_v<ModuleT<T>, M>
  std::shared_ptr<M> register_module(std::string name, M module) {
    return register_module(std::move(name), std::make_shared<M>(std::move(module)));
  }

  // --- modes and gradients -------------------------------------------------
  // Training mode (the default) or evaluation mode, for this module and all
  // below it. Layers that behave differently (dropout, batch norm) read
  // training(); Linear and activations do not.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }
  bool is_training() const { return training_; }
  void zero_grad();  // zeroes every parameter's existing gradient

  // PyTorch-style printout: "Sequential(\n  (0): Linear(in_features=...)\n ...)".
  std::string str() const;
  virtual std::string type_name() const = 0;
  virtual std::string extra_repr() const { return ""; }

 protected:
  ModuleT() = default;

 private:
  void add_child(std::string name, std::shared_ptr<ModuleT> child);
  void check_name(const std::string& name, const char* what) const;
  enum class What { parameters, buffers, both };
  void collect(std::string_view prefix, What what, NamedParameters& out) const;

  NamedParameters params_;
  NamedParameters buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Generator>>> generators_;
  std::vector<std::pair<std::string, std::shared_ptr<ModuleT>>> children_;
  bool training_ = true;
};

struct LinearOptions {
  Init init = Init::standard;  // PyTorch's nn.Linear default
  double gain = 1;             // for the xavier and kaiming schemes (see calculate_gain)
  bool bias = true;
};

// y = x·Wᵀ + b through the fused linear op; weight [out, in], bias [out].
template <class T>
class LinearT : public ModuleT<T> {
 public:
  LinearT(Index in_features, Index out_features, Generator& gen, LinearOptions options = {});
  TensorT<T> forward(const TensorT<T>& x) override;
  // Draws new values for weight (then bias) from `gen`.
  void reset_parameters(Generator& gen, Init scheme = Init::standard, double gain = 1);

  Index in_features() const { return weight.shape()[1]; }
  Index out_features() const { return weight.shape()[0]; }
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  // Registered as "weight" and "bias". Change their values in place; do not
  // assign a new tensor (the module's parameter list would not see it).
  TensorT<T> weight;
  TensorT<T> bias;  // undefined without bias
};

// An elementwise activation chosen by name (see activation_names()).
template <class T>
class ActivationT : public ModuleT<T> {
 public:
  explicit ActivationT(std::string name);  // ValueError for an unknown name
  TensorT<T> forward(const TensorT<T>& x) override { return fn_(x); }
  const std::string& name() const { return name_; }
  std::string type_name() const override { return "Activation"; }
  std::string extra_repr() const override { return name_; }

 private:
  std::string name_;
  ActivationFn<T> fn_;
};

// Runs its children in order; they are named "0", "1", ... by position.
template <class T>
class SequentialT : public ModuleT<T> {
 public:
  SequentialT() = default;
  template <class... M>
    requires(sizeof...(M) > 0 && (std::is_base_of_v<ModuleT<T>, M> && ...) &&
             !(sizeof...(M) == 1 && (std::is_same_v<M, SequentialT> && ...)))  // not a copy
  explicit SequentialT(M... modules) {
    (add(std::move(modules)), ...);
  }

  SequentialT& add(std::shared_ptr<ModuleT<T>> module);
  template <class M>
    requires std::is_base_of_v<ModuleT<T>, M>
  SequentialT& add(M module) {
    return add(std::shared_ptr<ModuleT<T>>(std::make_shared<M>(std::move(module))));
  }

  TensorT<T> forward(const TensorT<T>& x) override;
  // Every child's output, in order (the last is forward's result): for
  // diagnostics that look at each layer's activations.
  std::vector<TensorT<T>> forward_all(const TensorT<T>& x);

  Index size() const { return static_cast<Index>(this->children().size()); }
  ModuleT<T>& operator[](Index i) const;  // ShapeError when out of range
  std::string type_name() const override { return "Sequential"; }
};

// A multilayer perceptron: Linear(w0→w1), activation, Linear(w1→w2), ...,
// Linear(w[n-2]→w[n-1]) with no activation after the last layer (apply the
// output nonlinearity in the loss). Weights are drawn in order from `gen` by
// `init`, with gain calculate_gain(activation) for every layer (what the
// usual PyTorch loop over modules does); biases are 0 except under
// Init::standard. Parameter names are "0.weight", "0.bias", "2.weight", ...
// (see the top of this file).
//
//   auto model = mlp({30, 32, 32, 1}, "relu", Init::kaiming, gen);
template <class T = float>
SequentialT<T> mlp(const std::vector<Index>& widths, std::string_view activation, Init init, Generator& gen,
                   bool bias = true);

using Module = ModuleT<float>;
using Module64 = ModuleT<double>;
using Linear = LinearT<float>;
using Linear64 = LinearT<double>;
using Activation = ActivationT<float>;
using Activation64 = ActivationT<double>;
using Sequential = SequentialT<float>;
using Sequential64 = SequentialT<double>;

extern template class ModuleT<float>;
extern template class ModuleT<double>;
extern template class LinearT<float>;
extern template class LinearT<double>;
extern template class ActivationT<float>;
extern template class ActivationT<double>;
extern template class SequentialT<float>;
extern template class SequentialT<double>;

}  // namespace ember
