// Dead units: units of an activation layer that output exactly zero for every
// sample of a whole pass over a data set. A dead relu unit passes no gradient
// and, short of a change in the layer below it, never recovers.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../engine/observer.hpp"
#include "../engine/tensor.hpp"
#include "activation_stats.hpp"

namespace ember::diag {

struct DeadUnits {
  std::string layer;         // "relu#0": the first relu call of each forward pass
  Index width = 0;           // units: the output's last dimension
  Index samples = 0;         // rows seen (all leading dimensions folded)
  std::vector<Index> dead;   // units that were exactly 0 for every sample
  double fraction() const { return width ? static_cast<double>(dead.size()) / static_cast<double>(width) : 0.0; }
};

struct DeadUnitReport {
  std::vector<DeadUnits> layers;  // in forward order
  Index dead() const;             // over all layers
  Index units() const;
  double fraction() const;        // dead() / units()
  const DeadUnits* find(std::string_view layer) const;  // nullptr if absent
};

// Watches every activation call (see is_activation) while installed and
// remembers, per layer and unit, whether it was ever non-zero. Layers are
// named by op and call order within a forward pass, so call begin_batch()
// before each forward pass.
//
//   DeadUnitTracker<float> tracker;
//   { ObserverScope<float> scope(tracker); NoGradGuard no_grad;
//     for (auto& batch : batches) { tracker.begin_batch(); model(batch); } }
//   DeadUnitReport r = tracker.report();
template <class T>
class DeadUnitTracker : public GraphObserver<T> {
 public:
  void begin_pass();   // forget everything seen
  void begin_batch();  // what follows is a new forward pass
  DeadUnitReport report() const;

  // Adds one call of activation layer (op, call) with output `out`; the
  // observer hook below calls it, FlowMonitor reuses it.
  void observe(const char* op, int call, const TensorT<T>& out);
  void on_forward(const char* op, std::span<const TensorT<T>> inputs, const TensorT<T>& out) override;

 private:
  struct Layer {
    const char* op;
    int call;
    std::vector<char> alive;  // per unit: seen non-zero
    Index samples = 0;
  };
  OpCallCounter calls_;
  std::vector<Layer> layers_;
};

// Runs `forward` over `data` in batches of `batch_size` rows (along dim 0)
// under NoGradGuard and reports the dead units of every activation layer.
template <class T>
DeadUnitReport dead_units(const std::type_identity_t<std::function<TensorT<T>(const TensorT<T>&)>>& forward,
                          const TensorT<T>& data, Index batch_size);

}  // namespace ember::diag
