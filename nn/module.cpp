#include "module.hpp"

#include <fmt/format.h>

#include "linear.hpp"

namespace ember {

// --- ModuleT -------------------------------------------------------------------

template <class T>
void ModuleT<T>::check_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos)
    fail<ValueError>("{}: name '{}' must be non-empty and contain no '.'", what, name);
  for (const auto& [n, p] : params_)
    if (n == name) fail<ValueError>("{}: name '{}' is already a parameter of this {}", what, name, type_name());
  for (const auto& [n, b] : buffers_)
    if (n == name) fail<ValueError>("{}: name '{}' is already a buffer of this {}", what, name, type_name());
  for (const auto& [n, g] : generators_)
    if (n == name) fail<ValueError>("{}: name '{}' is already a generator of this {}", what, name, type_name());
  for (const auto& [n, c] : children_)
    if (n == name) fail<ValueError>("{}: name '{}' is already a child of this {}", what, name, type_name());
}

template <class T>
TensorT<T> ModuleT<T>::register_parameter(std::string name, TensorT<T> param) {
  check_name(name, "register_parameter");
  if (!param.defined()) fail<ValueError>("register_parameter: parameter '{}' is an undefined tensor", name);
  param.requires_grad_();  // throws GraphError for a non-leaf
  params_.emplace_back(std::move(name), param);
  return param;
}

template <class T>
TensorT<T> ModuleT<T>::register_buffer(std::string name, TensorT<T> buffer) {
  check_name(name, "register_buffer");
  if (!buffer.defined()) fail<ValueError>("register_buffer: buffer '{}' is an undefined tensor", name);
  if (buffer.requires_grad())
    fail<ValueError>("register_buffer: buffer '{}' {} requires grad; a trained tensor is a parameter", name,
                     buffer.shape().str());
  buffers_.emplace_back(std::move(name), buffer);
  return buffer;
}

template <class T>
Generator& ModuleT<T>::register_generator(std::string name, std::shared_ptr<Generator> generator) {
  check_name(name, "register_generator");
  if (!generator) fail<ValueError>("register_generator: generator '{}' is null", name);
  generators_.emplace_back(std::move(name), generator);
  return *generator;
}

template <class T>
NamedGenerators ModuleT<T>::named_generators(std::string_view prefix) const {
  const std::string dotted = prefix.empty() ? std::string() : std::string(prefix) + ".";
  NamedGenerators out;
  for (const auto& [name, g] : generators_) out.emplace_back(dotted + name, g.get());
  for (const auto& [name, child] : children_) {
    NamedGenerators below = child->named_generators(dotted + name);
    out.insert(out.end(), below.begin(), below.end());
  }
  return out;
}

template <class T>
void ModuleT<T>::add_child(std::string name, std::shared_ptr<ModuleT> child) {
  check_name(name, "register_module");
  if (!child) fail<ValueError>("register_module: module '{}' is null", name);
  children_.emplace_back(std::move(name), std::move(child));
}

template <class T>
void ModuleT<T>::collect(std::string_view prefix, What what, NamedParameters& out) const {
  const std::string dotted = prefix.empty() ? std::string() : std::string(prefix) + ".";
  if (what != What::buffers)
    for (const auto& [name, p] : params_) out.emplace_back(dotted + name, p);
  if (what != What::parameters)
    for (const auto& [name, b] : buffers_) out.emplace_back(dotted + name, b);
  for (const auto& [name, child] : children_) child->collect(dotted + name, what, out);
}

template <class T>
typename ModuleT<T>::NamedParameters ModuleT<T>::named_parameters(std::string_view prefix) const {
  NamedParameters out;
  collect(prefix, What::parameters, out);
  return out;
}

template <class T>
typename ModuleT<T>::NamedParameters ModuleT<T>::named_buffers(std::string_view prefix) const {
  NamedParameters out;
  collect(prefix, What::buffers, out);
  return out;
}

template <class T>
std::vector<TensorT<T>> ModuleT<T>::buffers() const {
  std::vector<TensorT<T>> out;
  for (auto& [name, b] : named_buffers()) out.push_back(std::move(b));
  return out;
}

template <class T>
typename ModuleT<T>::NamedParameters ModuleT<T>::state_dict(std::string_view prefix) const {
  NamedParameters out;
  collect(prefix, What::both, out);
  return out;
}

template <class T>
std::vector<TensorT<T>> ModuleT<T>::parameters() const {
  std::vector<TensorT<T>> out;
  for (auto& [name, p] : named_parameters()) out.push_back(std::move(p));
  return out;
}

template <class T>
Index ModuleT<T>::num_parameters() const {
  Index n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

template <class T>
std::vector<std::pair<std::string, ModuleT<T>*>> ModuleT<T>::named_modules(std::string_view prefix) {
  std::vector<std::pair<std::string, ModuleT*>> out{{std::string(prefix), this}};
  const std::string dotted = prefix.empty() ? std::string() : std::string(prefix) + ".";
  for (const auto& [name, child] : children_) {
    auto below = child->named_modules(dotted + name);
    out.insert(out.end(), below.begin(), below.end());
  }
  return out;
}

template <class T>
std::vector<LinearT<T>*> ModuleT<T>::linear_layers() {
  std::vector<LinearT<T>*> out;
  for (const auto& [name, m] : named_modules())
    if (auto* l = dynamic_cast<LinearT<T>*>(m)) out.push_back(l);
  return out;
}

template <class T>
void ModuleT<T>::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

template <class T>
void ModuleT<T>::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

template <class T>
std::string ModuleT<T>::str() const {
  std::string s = type_name() + "(" + extra_repr();
  if (children_.empty()) return s + ")";
  s += "\n";
  for (const auto& [name, child] : children_) {
    std::string inner = child->str();
    for (std::size_t at = 0; (at = inner.find('\n', at)) != std::string::npos; at += 3) inner.insert(at + 1, "  ");
    s += fmt::format("  ({}): {}\n", name, inner);
  }
  return s + ")";
}

// --- LinearT -------------------------------------------------------------------

template <class T>
LinearT<T>::LinearT(Index in_features, Index out_features, Generator& gen, LinearOptions options) {
  if (in_features <= 0 || out_features <= 0)
    fail<ValueError>("Linear: in_features and out_features must be positive, got {} and {}", in_features,
                     out_features);
  weight = this->register_parameter("weight", TensorT<T>::empty({out_features, in_features}));
  if (options.bias) bias = this->register_parameter("bias", TensorT<T>::empty({out_features}));
  reset_parameters(gen, options.init, options.gain);
}

template <class T>
void LinearT<T>::reset_parameters(Generator& gen, Init scheme, double gain) {
  init::layer_(weight, bias, scheme, gen, gain);
}

template <class T>
TensorT<T> LinearT<T>::forward(const TensorT<T>& x) {
  return linear(x, weight, bias);
}

template <class T>
std::string LinearT<T>::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features(), out_features(), bias.defined());
}

// --- ActivationT ----------------------------------------------------------------

template <class T>
ActivationT<T>::ActivationT(std::string name) : name_(std::move(name)), fn_(activation<T>(name_)) {}

// --- SequentialT ----------------------------------------------------------------

template <class T>
SequentialT<T>& SequentialT<T>::add(std::shared_ptr<ModuleT<T>> module) {
  this->register_module(std::to_string(this->children().size()), std::move(module));
  return *this;
}

template <class T>
TensorT<T> SequentialT<T>::forward(const TensorT<T>& x) {
  TensorT<T> h = x;
  for (const auto& [name, child] : this->children()) h = child->forward(h);
  return h;
}

template <class T>
std::vector<TensorT<T>> SequentialT<T>::forward_all(const TensorT<T>& x) {
  std::vector<TensorT<T>> outs;
  outs.reserve(this->children().size());
  TensorT<T> h = x;
  for (const auto& [name, child] : this->children()) outs.push_back(h = child->forward(h));
  return outs;
}

template <class T>
ModuleT<T>& SequentialT<T>::operator[](Index i) const {
  if (i < 0 || i >= size()) fail<ShapeError>("Sequential: index {} is out of range for {} modules", i, size());
  return *this->children()[static_cast<std::size_t>(i)].second;
}

// --- mlp ------------------------------------------------------------------------

template <class T>
SequentialT<T> mlp(const std::vector<Index>& widths, std::string_view activation, Init init, Generator& gen,
                   bool bias) {
  if (widths.size() < 2)
    fail<ValueError>("mlp: needs at least 2 widths (inputs and outputs), got {}", widths.size());
  const ActivationT<T> act{std::string(activation)};  // validates the name first
  const double gain = calculate_gain(activation);
  SequentialT<T> net;
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    net.add(LinearT<T>(widths[i], widths[i + 1], gen, {.init = init, .gain = gain, .bias = bias}));
    if (i + 2 < widths.size()) net.add(act);
  }
  return net;
}

template class ModuleT<float>;
template class ModuleT<double>;
template class LinearT<float>;
template class LinearT<double>;
template class ActivationT<float>;
template class ActivationT<double>;
template class SequentialT<float>;
template class SequentialT<double>;
template SequentialT<float> mlp(const std::vector<Index>&, std::string_view, Init, Generator&, bool);
template SequentialT<double> mlp(const std::vector<Index>&, std::string_view, Init, Generator&, bool);

}  // namespace ember
