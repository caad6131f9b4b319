#include "dead_units.hpp"

#include <cstring>

#include "../engine/error.hpp"

namespace ember::diag {

Index DeadUnitReport::dead() const {
  Index n = 0;
  for (const auto& l : layers) n += static_cast<Index>(l.dead.size());
  return n;
}

Index DeadUnitReport::units() const {
  Index n = 0;
  for (const auto& l : layers) n += l.width;
  return n;
}

double DeadUnitReport::fraction() const {
  const Index n = units();
  return n ? static_cast<double>(dead()) / static_cast<double>(n) : 0.0;
}

const DeadUnits* DeadUnitReport::find(std::string_view layer) const {
  for (const auto& l : layers)
    if (l.layer == layer) return &l;
  return nullptr;
}

template <class T>
void DeadUnitTracker<T>::begin_pass() {
  layers_.clear();
  calls_.reset();
}

template <class T>
void DeadUnitTracker<T>::begin_batch() {
  calls_.reset();
}

template <class T>
void DeadUnitTracker<T>::observe(const char* op, int call, const TensorT<T>& out) {
  Layer* layer = nullptr;
  for (auto& l : layers_)
    if (l.call == call && std::strcmp(l.op, op) == 0) layer = &l;
  const Index width = out.shape().cols();
  if (!layer) {
    layers_.push_back({op, call, std::vector<char>(static_cast<std::size_t>(width), 0), 0});
    layer = &layers_.back();
  } else if (static_cast<Index>(layer->alive.size()) != width) {
    fail<ShapeError>("dead_units: layer {} had {} units, now {}; call begin_batch() before each forward pass and "
                     "begin_pass() before another model",
                     layer_name(op, call), layer->alive.size(), width);
  }
  const Index rows = out.shape().rows();
  const T* v = out.data();
  char* alive = layer->alive.data();
  for (Index r = 0; r < rows; ++r, v += width)
    for (Index c = 0; c < width; ++c) alive[c] |= static_cast<char>(v[c] != T(0));  // NaN counts as alive
  layer->samples += rows;
}

template <class T>
void DeadUnitTracker<T>::on_forward(const char* op, std::span<const TensorT<T>>, const TensorT<T>& out) {
  if (is_activation(op)) observe(op, calls_.next(op), out);
}

template <class T>
DeadUnitReport DeadUnitTracker<T>::report() const {
  DeadUnitReport r;
  for (const auto& l : layers_) {
    DeadUnits d{layer_name(l.op, l.call), static_cast<Index>(l.alive.size()), l.samples, {}};
    for (std::size_t c = 0; c < l.alive.size(); ++c)
      if (!l.alive[c]) d.dead.push_back(static_cast<Index>(c));
    r.layers.push_back(std::move(d));
  }
  return r;
}

template <class T>
DeadUnitReport dead_units(const std::type_identity_t<std::function<TensorT<T>(const TensorT<T>&)>>& forward,
                          const TensorT<T>& data, Index batch_size) {
  if (batch_size <= 0) fail<ValueError>("dead_units: batch_size must be positive, got {}", batch_size);
  if (data.rank() == 0) fail<ShapeError>("dead_units: data must have a batch dimension, got shape []");
  const Shape shape = data.shape();
  const Index n = shape[0];
  const Index row = n ? shape.numel() / n : 0;
  DeadUnitTracker<T> tracker;
  ObserverScope<T> scope(tracker);
  NoGradGuard no_grad;
  for (Index start = 0; start < n; start += batch_size) {
    Shape batch = shape;
    batch[0] = std::min(batch_size, n - start);
    tracker.begin_batch();
    forward(TensorT<T>::from_data(std::span<const T>(data.data() + start * row, batch.numel()), batch));
  }
  return tracker.report();
}

template class DeadUnitTracker<float>;
template class DeadUnitTracker<double>;
template DeadUnitReport dead_units<float>(const std::function<Tensor(const Tensor&)>&, const Tensor&, Index);
template DeadUnitReport dead_units<double>(const std::function<Tensor64(const Tensor64&)>&, const Tensor64&, Index);

}  // namespace ember::diag
