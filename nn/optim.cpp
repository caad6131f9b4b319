#include "optim.hpp"

#include <algorithm>
#include <cmath>

namespace ember {

namespace {

void check_non_negative(const char* optimizer, const char* what, double value) {
  if (!(value >= 0)) fail<ValueError>("{}: {} must be >= 0, got {}", optimizer, what, value);
}

template <class T>
Buffer<T> zeroed(Index n) {
  Buffer<T> b(n);
  b.array().setZero();
  return b;
}

}  // namespace

// --- Optimizer ---------------------------------------------------------------

Optimizer::Optimizer(const char* name, double lr) : name_(name), lr_(lr) { set_lr(lr); }

void Optimizer::set_lr(double lr) {
  check_non_negative(name_, "learning rate", lr);
  lr_ = lr;
}

template <class T>
OptimizerT<T>::OptimizerT(const char* name, std::vector<TensorT<T>> params, double lr)
    : Optimizer(name, lr), params_(std::move(params)) {
  std::vector<const Node<T>*> seen;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const TensorT<T>& p = params_[i];
    if (!p.defined()) fail<ValueError>("{}: parameter {} is an undefined tensor", name, i);
    if (!p.is_leaf())
      fail<ValueError>("{}: parameter {} of shape {} is the output of '{}', not a leaf; an optimizer updates leaves",
                       name, i, p.shape().str(), p.op());
    if (!p.requires_grad())
      fail<ValueError>("{}: parameter {} of shape {} does not require grad, so it would never be updated; call "
                       "requires_grad_() on it or leave it out",
                       name, i, p.shape().str());
    seen.push_back(&p.node());
  }
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end())
    fail<ValueError>("{}: a parameter appears more than once; it would be updated twice per step", name);
}

template <class T>
void OptimizerT<T>::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

// --- SGD ---------------------------------------------------------------------

template <class T>
SGDT<T>::SGDT(std::vector<TensorT<T>> params, SGDOptions options)
    : OptimizerT<T>("SGD", std::move(params), options.lr), options_(options) {
  check_non_negative("SGD", "momentum", options.momentum);
  check_non_negative("SGD", "weight_decay", options.weight_decay);
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0))
    fail<ValueError>("SGD: nesterov needs momentum > 0 and dampening 0, got momentum {} and dampening {}",
                     options.momentum, options.dampening);
  if (options.momentum != 0)
    for (const auto& p : this->params_) momentum_.push_back(zeroed<T>(p.numel()));
  started_.assign(this->params_.size(), 0);
}

template <class T>
void SGDT<T>::step() {
  const T lr = static_cast<T>(this->lr_), wd = static_cast<T>(options_.weight_decay);
  const T mu = static_cast<T>(options_.momentum), damp = static_cast<T>(T(1) - options_.dampening);
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    TensorT<T>& param = this->params_[i];
    if (!param.has_grad()) continue;
    auto p = param.values();
    const auto grad = param.grad_values();
    const auto g = grad + wd * p;  // an expression: read before p changes, element by element
    if (momentum_.empty()) {
      p -= lr * g;
      continue;
    }
    auto buf = momentum_[i].array();
    if (!started_[i]) buf = g;
    else buf = mu * buf + damp * g;
    started_[i] = 1;
    if (options_.nesterov) p -= lr * (g + mu * buf);
    else p -= lr * buf;
  }
}

// --- Adam / AdamW --------------------------------------------------------------

template <class T>
AdamT<T>::AdamT(std::vector<TensorT<T>> params, AdamOptions options)
    : AdamT("Adam", std::move(params), options, false) {}

template <class T>
AdamT<T>::AdamT(const char* name, std::vector<TensorT<T>> params, AdamOptions options, bool decoupled)
    : OptimizerT<T>(name, std::move(params), options.lr), options_(options), decoupled_(decoupled) {
  const auto [beta1, beta2] = options.betas;
  if (!(beta1 >= 0 && beta1 < 1)) fail<ValueError>("{}: beta1 must be in [0, 1), got {}", name, beta1);
  if (!(beta2 >= 0 && beta2 < 1)) fail<ValueError>("{}: beta2 must be in [0, 1), got {}", name, beta2);
  check_non_negative(name, "eps", options.eps);
  check_non_negative(name, "weight_decay", options.weight_decay);
  for (const auto& p : this->params_) {
    m_.push_back(zeroed<T>(p.numel()));
    v_.push_back(zeroed<T>(p.numel()));
  }
  steps_.assign(this->params_.size(), 0);
}

template <class T>
void AdamT<T>::step() {
  const double beta1 = options_.betas.first, beta2 = options_.betas.second;
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2), eps = static_cast<T>(options_.eps);
  const T lr = static_cast<T>(this->lr_), wd = static_cast<T>(options_.weight_decay);
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    TensorT<T>& param = this->params_[i];
    if (!param.has_grad()) continue;
    const double t = static_cast<double>(++steps_[i]);
    const T correction1 = static_cast<T>(1 - std::pow(beta1, t));
    const T sqrt_correction2 = static_cast<T>(std::sqrt(1 - std::pow(beta2, t)));
    auto p = param.values();
    const auto grad = param.grad_values();
    auto m = m_[i].array();
    auto v = v_[i].array();
    if (decoupled_) {
      p *= T(1) - lr * wd;
      m = b1 * m + (T(1) - b1) * grad;
      v = b2 * v + (T(1) - b2) * grad.square();
    } else {
      m = b1 * m + (T(1) - b1) * (grad + wd * p);
      v = b2 * v + (T(1) - b2) * (grad + wd * p).square();
    }
    // lr·m̂/(sqrt(v̂)+eps) with m̂ = m/c1, v̂ = v/c2, written as PyTorch does
    p -= (lr / correction1) * m / (v.sqrt() / sqrt_correction2 + eps);
  }
}

template <class T>
AdamWT<T>::AdamWT(std::vector<TensorT<T>> params, AdamWOptions o)
    : AdamT<T>("AdamW", std::move(params), AdamOptions{o.lr, o.betas, o.eps, o.weight_decay}, true) {}

// --- clipping --------------------------------------------------------------------

template <class T>
double clip_grad_norm(const std::vector<TensorT<T>>& params, double max_norm) {
  if (!(max_norm >= 0)) fail<ValueError>("clip_grad_norm: max_norm must be >= 0, got {}", max_norm);
  double sum_sq = 0;
  for (const auto& p : params)
    if (p.has_grad()) sum_sq += p.node().grad.array().template cast<double>().square().sum();
  const double norm = std::sqrt(sum_sq);
  const double coef = max_norm / (norm + 1e-6);
  if (std::isfinite(norm) && coef < 1)
    for (auto p : params)
      if (p.has_grad()) p.grad_values() *= static_cast<T>(coef);
  return norm;
}

template class OptimizerT<float>;
template class OptimizerT<double>;
template class SGDT<float>;
template class SGDT<double>;
template class AdamT<float>;
template class AdamT<double>;
template class AdamWT<float>;
template class AdamWT<double>;
template double clip_grad_norm(const std::vector<TensorT<float>>&, double);
template double clip_grad_norm(const std::vector<TensorT<double>>&, double);

}  // namespace ember
