// Optimizer state out and in (state_dict / load_state_dict), for resuming
// training: the layout is described at OptimizerState in optim.hpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string_view>

#include "../engine/error.hpp"
#include "optim.hpp"

namespace ember {

namespace {

std::string quoted(std::string_view s) { return quote_text(s, 60); }

template <class T>
TensorT<T> copy_of(const Buffer<T>& buffer, const Shape& shape) {
  TensorT<T> t = TensorT<T>::empty(shape);
  std::copy(buffer.data(), buffer.data() + buffer.size(), t.data());
  return t;
}

template <class T>
void copy_into(Buffer<T>& buffer, const TensorT<T>& t) {
  std::copy(t.data(), t.data() + t.numel(), buffer.data());
}

template <class T>
const TensorT<T>* find_tensor(const OptimizerState<T>& state, const std::string& name) {
  for (const auto& [n, t] : state.tensors)
    if (n == name) return &t;
  return nullptr;
}

// What an optimizer of one kind expects to find in a state.
struct Layout {
  const char* kind;
  std::size_t num_params;
  StateScalars hyperparameters;                  // must equal the state's
  std::vector<std::string> per_param_scalars;    // "<i>.<name>": non-negative integers
  std::vector<std::string> per_param_tensors;    // "<i>.<name>": the parameter's shape
  bool tensors_required;                         // every "<i>.<name>" present, or any subset
};

// Checks `state` against `layout` and the parameters' shapes; the first
// misfit is a one-line ValueError.
template <class T>
void check_layout(const Layout& layout, const OptimizerState<T>& state, const std::vector<TensorT<T>>& params) {
  const std::string where = fmt::format("{}.load_state_dict", layout.kind);
  if (state.kind != layout.kind)
    fail<ValueError>("{}: the state is from {}, not {}", where, quoted(state.kind), layout.kind);
  const auto scalar = [&](const std::string& key) {
    const auto it = state.scalars.find(key);
    if (it == state.scalars.end()) fail<ValueError>("{}: the state lacks the scalar {}", where, quoted(key));
    return it->second;
  };
  const double count = scalar("num_params");
  if (count != static_cast<double>(layout.num_params))
    fail<ValueError>("{}: the state holds {} parameters, this optimizer {}", where, count, layout.num_params);
  const double lr = scalar("lr");
  if (!(lr >= 0) || !std::isfinite(lr))
    fail<ValueError>("{}: the state's lr {} is not a finite non-negative number", where, lr);

  std::set<std::string> expected{"lr", "num_params"};
  for (const auto& [key, ours] : layout.hyperparameters) {
    expected.insert(key);
    const double theirs = scalar(key);
    if (!(theirs == ours) && !(std::isnan(theirs) && std::isnan(ours)))
      fail<ValueError>("{}: {} is {} in the state, {} in this optimizer", where, key, theirs, ours);
  }
  for (std::size_t i = 0; i < layout.num_params; ++i)
    for (const auto& name : layout.per_param_scalars) {
      const std::string key = fmt::format("{}.{}", i, name);
      expected.insert(key);
      const double v = scalar(key);
      if (!(v >= 0 && v <= 9007199254740992.0 && v == std::floor(v)))
        fail<ValueError>("{}: {} is {}, not a count", where, quoted(key), v);
    }
  for (const auto& [key, value] : state.scalars)
    if (!expected.count(key)) fail<ValueError>("{}: the state has the unexpected scalar {}", where, quoted(key));

  std::set<std::string> seen;
  for (const auto& [name, tensor] : state.tensors) {
    if (!seen.insert(name).second) fail<ValueError>("{}: the state lists the tensor {} twice", where, quoted(name));
    // "<i>.<what>" with i a parameter's position and what a buffer of this kind
    const std::size_t dot = name.find('.');
    std::size_t i = 0;
    const bool digits = dot != std::string::npos && dot > 0 &&
                        std::all_of(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(dot),
                                    [](char c) { return c >= '0' && c <= '9'; }) &&
                        dot < 10;
    if (digits) i = std::stoul(name.substr(0, dot));
    const bool known = digits && name.substr(0, dot) == std::to_string(i) && i < layout.num_params &&
                       std::count(layout.per_param_tensors.begin(), layout.per_param_tensors.end(),
                                  name.substr(dot + 1)) == 1;
    if (!known) fail<ValueError>("{}: the state has the unexpected tensor {}", where, quoted(name));
    if (!tensor.defined()) fail<ValueError>("{}: tensor {} is undefined", where, quoted(name));
    if (!(tensor.shape() == params[i].shape()))
      fail<ValueError>("{}: tensor {} has shape {}, parameter {} has shape {}", where, quoted(name),
                       tensor.shape().str(), i, params[i].shape().str());
  }
  if (layout.tensors_required)
    for (std::size_t i = 0; i < layout.num_params; ++i)
      for (const auto& what : layout.per_param_tensors)
        if (!seen.count(fmt::format("{}.{}", i, what)))
          fail<ValueError>("{}: the state lacks the tensor {}", where, quoted(fmt::format("{}.{}", i, what)));
}

}  // namespace

template <class T>
void OptimizerT<T>::load_state_dict(const OptimizerState<T>& state) {
  check_state_dict(state);
  restore(state);  // cannot fail once the checks passed
}

// --- SGD ---------------------------------------------------------------------

namespace {
Layout sgd_layout(const SGDOptions& o, std::size_t n) {
  Layout layout{"SGD", n,
                {{"momentum", o.momentum},
                 {"dampening", o.dampening},
                 {"weight_decay", o.weight_decay},
                 {"nesterov", o.nesterov ? 1.0 : 0.0}},
                {},
                {},
                false};
  if (o.momentum != 0) layout.per_param_tensors = {"momentum_buffer"};
  return layout;
}
}  // namespace

template <class T>
OptimizerState<T> SGDT<T>::state_dict() const {
  const Layout layout = sgd_layout(options_, this->params_.size());
  OptimizerState<T> state{"SGD", layout.hyperparameters, {}};
  state.scalars["lr"] = this->lr_;
  state.scalars["num_params"] = static_cast<double>(this->params_.size());
  for (std::size_t i = 0; i < momentum_.size(); ++i)
    if (started_[i])
      state.tensors.emplace_back(fmt::format("{}.momentum_buffer", i), copy_of(momentum_[i], this->params_[i].shape()));
  return state;
}

template <class T>
void SGDT<T>::check_state_dict(const OptimizerState<T>& state) const {
  check_layout(sgd_layout(options_, this->params_.size()), state, this->params_);
}

template <class T>
void SGDT<T>::restore(const OptimizerState<T>& state) {
  this->lr_ = state.scalars.at("lr");
  for (std::size_t i = 0; i < momentum_.size(); ++i) {
    const TensorT<T>* buf = find_tensor(state, fmt::format("{}.momentum_buffer", i));
    started_[i] = buf != nullptr;
    if (buf) copy_into(momentum_[i], *buf);
  }
}

// --- Adam / AdamW --------------------------------------------------------------

namespace {
Layout adam_layout(const char* kind, const AdamOptions& o, std::size_t n) {
  return {kind,
          n,
          {{"beta1", o.betas.first}, {"beta2", o.betas.second}, {"eps", o.eps}, {"weight_decay", o.weight_decay}},
          {"step"},
          {"exp_avg", "exp_avg_sq"},
          true};
}
}  // namespace

template <class T>
OptimizerState<T> AdamT<T>::state_dict() const {
  const Layout layout = adam_layout(this->name_, options_, this->params_.size());
  OptimizerState<T> state{this->name_, layout.hyperparameters, {}};
  state.scalars["lr"] = this->lr_;
  state.scalars["num_params"] = static_cast<double>(this->params_.size());
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    const Shape& shape = this->params_[i].shape();
    state.scalars[fmt::format("{}.step", i)] = static_cast<double>(steps_[i]);
    state.tensors.emplace_back(fmt::format("{}.exp_avg", i), copy_of(m_[i], shape));
    state.tensors.emplace_back(fmt::format("{}.exp_avg_sq", i), copy_of(v_[i], shape));
  }
  return state;
}

template <class T>
void AdamT<T>::check_state_dict(const OptimizerState<T>& state) const {
  check_layout(adam_layout(this->name_, options_, this->params_.size()), state, this->params_);
}

template <class T>
void AdamT<T>::restore(const OptimizerState<T>& state) {
  this->lr_ = state.scalars.at("lr");
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    steps_[i] = static_cast<Index>(state.scalars.at(fmt::format("{}.step", i)));
    copy_into(m_[i], *find_tensor(state, fmt::format("{}.exp_avg", i)));
    copy_into(v_[i], *find_tensor(state, fmt::format("{}.exp_avg_sq", i)));
  }
}

#define EMBER_INSTANTIATE(T)                                                        \
  template void OptimizerT<T>::load_state_dict(const OptimizerState<T>&);           \
  template OptimizerState<T> SGDT<T>::state_dict() const;                           \
  template void SGDT<T>::check_state_dict(const OptimizerState<T>&) const;          \
  template void SGDT<T>::restore(const OptimizerState<T>&);                         \
  template OptimizerState<T> AdamT<T>::state_dict() const;                          \
  template void AdamT<T>::check_state_dict(const OptimizerState<T>&) const;         \
  template void AdamT<T>::restore(const OptimizerState<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
