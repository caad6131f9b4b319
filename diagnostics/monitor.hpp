// FlowMonitor: watches forward and backward passes and records, per step,
// activation statistics, the gradient norm arriving at and leaving every
// recorded node (backward attenuation), parameter gradient norms with
// vanishing/exploding flags, and optionally dead units over a data pass. It
// logs everything into a Telemetry (CSV, terminal table) and exports the
// step's graph to DOT.
//
//   diag::FlowMonitor<float> monitor;
//   for (std::int64_t step = 0; step < steps; ++step) {
//     auto watch = monitor.watch(step);   // installed until the end of this scope
//     auto loss = loss_fn(model.forward(x), y);
//     loss.backward();
//     monitor.record_gradients(model.named_parameters());
//     optimizer.step();
//   }
//   fmt::print("{}", monitor.table());
//   monitor.write_csv("telemetry.csv");
//   diag::write_text("graph.dot", monitor.dot());
//
// Activation layers are named by op and call order within the step's
// forward pass: "sigmoid#3" is the fourth sigmoid call. Every other recorded
// node is named the same way ("matmul#0"). Uninstalled, it costs nothing.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "../engine/observer.hpp"
#include "../engine/tensor.hpp"
#include "activation_stats.hpp"
#include "dead_units.hpp"
#include "dot.hpp"
#include "grad_norms.hpp"
#include "telemetry.hpp"

namespace ember::diag {

struct MonitorOptions {
  ActivationThresholds activation;
  GradientThresholds gradient;
  bool activations = true;     // statistics of every activation call
  bool graph = true;           // the step's graph and per-node gradient norms (flow, snapshot, dot)
  bool log_all_nodes = false;  // telemetry rows for every recorded node, not only activations
  std::int64_t every = 1;      // watch(step) monitors only steps divisible by this
  // The telemetry's memory: 0 keeps every row (24 bytes each, about 0.6 GiB
  // per million steps of 25 rows); N keeps only the last N steps' rows.
  std::size_t keep_steps = 0;
};

struct ActivationRecord {
  std::string layer;  // "sigmoid#0"
  Shape shape;
  ActivationStats stats;
  double grad_out = std::numeric_limits<double>::quiet_NaN();  // ||dL/dH|| once backward reached it
  double grad_in = std::numeric_limits<double>::quiet_NaN();   // ||dL/dy|| it sent to its input
};

// Backward attenuation at one recorded node.
struct NodeFlow {
  std::string name;                 // "matmul#1"
  int seq = 0;                      // forward sequence number within the step (all ops count)
  Shape shape;
  double grad_out = 0;              // ||gradient arriving at its output||; NaN if backward did not reach it
  std::vector<double> grad_in;      // ||gradient sent to input i|| after broadcast reduction; NaN if none
  std::vector<std::string> inputs;  // what input i is: "linear#0", a parameter's name, or "leaf"
  std::vector<bool> from_op;        // input i was made by a recorded op of this step (not a leaf)
  // Largest grad_in / grad_out over the inputs made by ops: how the gradient
  // grows (> 1) or shrinks (< 1) on its way back through this node towards
  // the earlier ops. NaN when every input is a leaf.
  double gain() const;
};

template <class T>
class FlowMonitor : public GraphObserver<T> {
 public:
  // Installs the monitor for one step; ending it ends the step (end_step).
  class [[nodiscard]] Watch {
   public:
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    bool active() const { return scope_.has_value(); }

   private:
    friend class FlowMonitor;
    Watch(FlowMonitor& monitor, bool active);
    FlowMonitor& monitor_;
    std::optional<ObserverScope<T>> scope_;
  };

  explicit FlowMonitor(MonitorOptions options = {});
  FlowMonitor(const FlowMonitor&) = delete;
  FlowMonitor& operator=(const FlowMonitor&) = delete;

  // begin_step(step), and install the monitor on this thread until the Watch
  // ends. A step skipped by options.every installs nothing, logs nothing and
  // keeps the last monitored step's records (activations, flow, dot).
  Watch watch(std::int64_t step);
  // Starts a step: forgets the last step's records (its telemetry stays).
  // Each step should hold one forward pass (and its backward).
  void begin_step(std::int64_t step);
  // Logs the step's activation (and node) rows into the telemetry; once.
  void end_step();
  std::int64_t step() const { return step_; }  // the current (or last monitored) step

  // After backward: gradient norms of `params`, logged for the current step
  // (per parameter, per layer, and a "(model)" row with the total norm, the
  // first/last ratio and the flags). Also names the parameters in the graph.
  GradientReport record_gradients(const NamedParameters<T>& params);
  // Names leaves in flow(), snapshot() and dot() without reading gradients.
  void name_tensors(const NamedParameters<T>& tensors);

  // Dead units over a pass of many steps (e.g. an epoch, or an evaluation run
  // under NoGradGuard with one begin_step per batch). end_pass() logs "dead"
  // and "dead_frac" per layer at the current step.
  void begin_pass();
  DeadUnitReport end_pass();

  // The current step.
  const std::vector<ActivationRecord>& activations() const { return activations_; }
  std::vector<NodeFlow> flow() const;  // recorded nodes, in forward order
  std::string flow_table() const;      // flow() as aligned text
  GraphSnapshot snapshot() const;      // the step's graph with the gradient norms seen in backward
  std::string dot(const DotOptions& options = {}) const { return to_dot(snapshot(), options); }

  // All steps. These call end_step() first.
  Telemetry& telemetry();
  std::string table();  // the last step's rows
  void write_csv(const std::string& path);

  void on_forward(const char* op, std::span<const TensorT<T>> inputs, const TensorT<T>& out) override;
  void on_backward(const Node<T>& node) override;
  void on_input_grad(const Node<T>& node, int input, ConstArrayMap<T> grad) override;

 private:
  struct Entry {
    const Node<T>* raw;
    std::weak_ptr<Node<T>> node;  // also keeps the address from being reused within the step
    const char* op;               // the op; for a leaf or a tensor from before the step, its node's op
    bool traced;                  // made by a recorded op seen in this step
    bool requires_grad;
    Shape shape;
    int seq = -1, call = -1;
    int first_edge = 0, num_edges = 0;
    int activation = -1;  // index into activations_
    double grad_out = std::numeric_limits<double>::quiet_NaN();
  };
  struct Edge {
    int from;
    double norm2 = -1;  // squared norm of the gradient sent; < 0: none
  };
  int find(const Node<T>* n) const;
  int entry_of(const TensorT<T>& t);
  std::string label(int entry) const;

  MonitorOptions options_;
  Telemetry telemetry_;
  std::int64_t step_ = 0;
  bool logging_ = true, logged_ = false;
  int seq_ = 0;
  OpCallCounter calls_;
  std::vector<ActivationRecord> activations_;
  std::vector<Entry> entries_;
  std::vector<Edge> edges_;
  std::unordered_map<const Node<T>*, int> index_;
  int current_ = -1;  // the entry whose backward runs
  Buffer<T> reduced_;  // scratch for a gradient summed back over broadcast dims
  std::unordered_map<const Node<T>*, std::pair<std::weak_ptr<Node<T>>, std::string>> names_;
  DeadUnitTracker<T> tracker_;
  bool pass_ = false;
};

}  // namespace ember::diag
