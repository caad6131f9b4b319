#include "monitor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "../engine/broadcast.hpp"
#include "reduce.hpp"

namespace ember::diag {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

double NodeFlow::gain() const {
  double best = kNaN;
  for (std::size_t i = 0; i < grad_in.size(); ++i) {
    if (!from_op[i] || std::isnan(grad_in[i])) continue;
    const double r = grad_in[i] / grad_out;
    if (std::isnan(best) || r > best) best = r;
  }
  return best;
}

template <class T>
FlowMonitor<T>::Watch::Watch(FlowMonitor& monitor, bool active) : monitor_(monitor) {
  if (active) scope_.emplace(monitor);
}

template <class T>
FlowMonitor<T>::Watch::~Watch() {
  scope_.reset();
  monitor_.end_step();
}

template <class T>
FlowMonitor<T>::FlowMonitor(MonitorOptions options) : options_(options), telemetry_(options.keep_steps) {}

template <class T>
typename FlowMonitor<T>::Watch FlowMonitor<T>::watch(std::int64_t step) {
  const bool monitored = options_.every <= 1 || step % options_.every == 0;
  if (monitored) {
    begin_step(step);
  } else {  // keep the last monitored step's records, log nothing
    end_step();
    logging_ = false;
  }
  return Watch(*this, monitored);
}

template <class T>
void FlowMonitor<T>::begin_step(std::int64_t step) {
  end_step();
  step_ = step;
  logging_ = true;
  logged_ = false;
  seq_ = 0;
  current_ = -1;
  calls_.reset();
  activations_.clear();
  entries_.clear();
  edges_.clear();
  index_.clear();
}

template <class T>
void FlowMonitor<T>::end_step() {
  if (logged_ || !logging_) return;
  logged_ = true;
  auto log = [&](const std::string& layer, const char* metric, double v) { telemetry_.add(step_, layer, metric, v); };
  for (const auto& a : activations_) {
    log(a.layer, "mean", a.stats.mean);
    log(a.layer, "std", a.stats.std);
    log(a.layer, "saturated", a.stats.saturated);
    log(a.layer, "dlocal", a.stats.mean_derivative);
    if (!std::isnan(a.stats.zero_fraction)) log(a.layer, "zeros", a.stats.zero_fraction);
    if (!std::isnan(a.grad_out)) log(a.layer, "grad_out", a.grad_out);
    if (!std::isnan(a.grad_in)) log(a.layer, "grad_in", a.grad_in);
  }
  if (!options_.log_all_nodes) return;
  for (const auto& e : entries_) {
    if (!e.traced || e.activation >= 0 || std::isnan(e.grad_out)) continue;  // activations are logged above
    const std::string name = layer_name(e.op, e.call);
    log(name, "grad_out", e.grad_out);
    for (int k = 0; k < e.num_edges; ++k) {
      const double sq = edges_[static_cast<std::size_t>(e.first_edge + k)].norm2;
      if (sq >= 0) telemetry_.add(step_, name, fmt::format("grad_in.{}", k), std::sqrt(sq));
    }
  }
}

template <class T>
GradientReport FlowMonitor<T>::record_gradients(const NamedParameters<T>& params) {
  name_tensors(params);
  GradientReport r = gradient_report(params, options_.gradient);
  if (!logging_) return r;
  for (const auto& p : r.parameters)
    if (p.param != p.name) telemetry_.add(step_, p.layer, p.param + ".grad_norm", p.norm);
  for (const auto& l : r.layers) telemetry_.add(step_, l.name, "grad_norm", l.norm);
  telemetry_.add(step_, "(model)", "grad_norm", r.total_norm);
  telemetry_.add(step_, "(model)", "first_last_ratio", r.first_last_ratio);
  telemetry_.add(step_, "(model)", "vanishing", r.vanishing ? 1.0 : 0.0);
  telemetry_.add(step_, "(model)", "exploding", r.exploding ? 1.0 : 0.0);
  return r;
}

template <class T>
void FlowMonitor<T>::name_tensors(const NamedParameters<T>& tensors) {
  std::erase_if(names_, [](const auto& kv) { return kv.second.first.expired(); });
  for (const auto& [name, t] : tensors)
    if (t.defined()) names_.insert_or_assign(t.node_ptr().get(), std::pair{std::weak_ptr<Node<T>>(t.node_ptr()), name});
}

template <class T>
void FlowMonitor<T>::begin_pass() {
  tracker_.begin_pass();
  pass_ = true;
}

template <class T>
DeadUnitReport FlowMonitor<T>::end_pass() {
  pass_ = false;
  DeadUnitReport r = tracker_.report();
  for (const auto& l : r.layers) {
    telemetry_.add(step_, l.layer, "dead", static_cast<double>(l.dead.size()));
    telemetry_.add(step_, l.layer, "dead_frac", l.fraction());
  }
  return r;
}

// --- observer hooks ---------------------------------------------------------

template <class T>
int FlowMonitor<T>::find(const Node<T>* n) const {
  const auto it = index_.find(n);
  if (it == index_.end()) return -1;
  // An expired entry's address may now hold another node.
  return entries_[static_cast<std::size_t>(it->second)].node.expired() ? -1 : it->second;
}

template <class T>
int FlowMonitor<T>::entry_of(const TensorT<T>& t) {
  const Node<T>* n = t.node_ptr().get();
  if (const int i = find(n); i >= 0) return i;
  const int i = static_cast<int>(entries_.size());
  entries_.push_back({n, t.node_ptr(), n->op, false, n->requires_grad, n->shape});
  index_[n] = i;
  return i;
}

template <class T>
void FlowMonitor<T>::on_forward(const char* op, std::span<const TensorT<T>> inputs, const TensorT<T>& out) {
  const int seq = seq_++;
  const int call = calls_.next(op);
  int activation = -1;
  if ((options_.activations || pass_) && !inputs.empty() && is_activation(op)) {
    if (options_.activations) {
      activations_.push_back({layer_name(op, call), out.shape(),
                              activation_stats<T>(op, inputs[0], out, options_.activation)});
      activation = static_cast<int>(activations_.size()) - 1;
    }
    if (pass_) tracker_.observe(op, call, out);
  }
  if (!options_.graph || !grad_enabled()) return;
  // record() will make `out` a graph node exactly when an input requires grad.
  if (std::none_of(inputs.begin(), inputs.end(), [](const TensorT<T>& t) { return t.requires_grad(); })) return;
  Entry e{out.node_ptr().get(), out.node_ptr(), op, true, true, out.shape()};
  e.seq = seq;
  e.call = call;
  e.activation = activation;
  e.first_edge = static_cast<int>(edges_.size());
  e.num_edges = static_cast<int>(inputs.size());
  for (const auto& in : inputs) edges_.push_back({entry_of(in)});
  index_[e.raw] = static_cast<int>(entries_.size());
  entries_.push_back(std::move(e));
}

template <class T>
void FlowMonitor<T>::on_backward(const Node<T>& node) {
  current_ = find(&node);
  if (current_ < 0) return;  // made before this step
  Entry& e = entries_[static_cast<std::size_t>(current_)];
  e.grad_out = std::sqrt(detail::squared_norm<T>(std::as_const(node.grad).array()));
  if (e.activation >= 0) activations_[static_cast<std::size_t>(e.activation)].grad_out = e.grad_out;
}

template <class T>
void FlowMonitor<T>::on_input_grad(const Node<T>& node, int input, ConstArrayMap<T> grad) {
  if (current_ < 0 || entries_[static_cast<std::size_t>(current_)].raw != &node) current_ = find(&node);
  if (current_ < 0) return;
  const Entry& e = entries_[static_cast<std::size_t>(current_)];
  if (input < 0 || input >= e.num_edges) return;
  const Shape& to = node.inputs[static_cast<std::size_t>(input)]->shape;
  double sq;
  if (grad.size() == to.numel()) {
    sq = detail::squared_norm<T>(grad);
  } else {  // still output-sized: the norm the input receives is that of the reduced gradient
    if (reduced_.size() != to.numel()) reduced_ = Buffer<T>(to.numel());
    reduced_.array().setZero();
    sum_to(grad.data(), node.shape, reduced_.data(), to);
    sq = detail::squared_norm<T>(std::as_const(reduced_).array());
  }
  // An op that sends an input its gradient in parts: summing squares is exact
  // for orthogonal parts only; built-in ops send each input one gradient.
  Edge& edge = edges_[static_cast<std::size_t>(e.first_edge + input)];
  edge.norm2 = std::max(edge.norm2, 0.0) + sq;
  if (e.activation >= 0 && input == 0)
    activations_[static_cast<std::size_t>(e.activation)].grad_in = std::sqrt(edge.norm2);
}

// --- reports ------------------------------------------------------------------

template <class T>
std::string FlowMonitor<T>::label(int i) const {
  const Entry& e = entries_[static_cast<std::size_t>(i)];
  if (e.traced) return layer_name(e.op, e.call);
  const auto named = names_.find(e.raw);
  if (named != names_.end() && !named->second.first.expired() && !e.node.expired()) return named->second.second;
  return e.op ? fmt::format("{} (earlier)", e.op) : "leaf";
}

template <class T>
std::vector<NodeFlow> FlowMonitor<T>::flow() const {
  std::vector<NodeFlow> out;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (!e.traced) continue;
    NodeFlow f{label(static_cast<int>(i)), e.seq, e.shape, e.grad_out, {}, {}, {}};
    for (int k = 0; k < e.num_edges; ++k) {
      const Edge& edge = edges_[static_cast<std::size_t>(e.first_edge + k)];
      f.grad_in.push_back(edge.norm2 < 0 ? kNaN : std::sqrt(edge.norm2));
      f.inputs.push_back(label(edge.from));
      f.from_op.push_back(entries_[static_cast<std::size_t>(edge.from)].traced);
    }
    out.push_back(std::move(f));
  }
  return out;
}

template <class T>
std::string FlowMonitor<T>::flow_table() const {
  const auto flows = flow();
  std::vector<std::array<std::string, 6>> rows{{"seq", "node", "shape", "|grad out|", "|grad in| (per input)", "gain"}};
  auto num = [](double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.3g}", v); };
  for (const auto& f : flows) {
    std::string ins;
    for (std::size_t i = 0; i < f.grad_in.size(); ++i)
      ins += fmt::format("{}{} <- {}", i ? ", " : "", num(f.grad_in[i]), f.inputs[i]);
    rows.push_back({fmt::format("{}", f.seq), f.name, f.shape.str(), num(f.grad_out), ins, num(f.gain())});
  }
  std::array<std::size_t, 6> w{};
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size(); ++c) w[c] = std::max(w[c], r[c].size());
  std::string out = fmt::format("step {}\n", step_);
  for (const auto& r : rows)
    out += fmt::format("{:>{}}  {:<{}}  {:<{}}  {:>{}}  {:<{}}  {:>{}}\n", r[0], w[0], r[1], w[1], r[2], w[2], r[3], w[3],
                       r[4], w[4], r[5], w[5]);
  return out;
}

template <class T>
GraphSnapshot FlowMonitor<T>::snapshot() const {
  GraphSnapshot g;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    g.nodes.push_back({label(static_cast<int>(i)), e.shape, !e.traced, e.requires_grad, e.traced ? e.grad_out : kNaN});
    for (int k = 0; k < e.num_edges; ++k) {
      const Edge& edge = edges_[static_cast<std::size_t>(e.first_edge + k)];
      g.edges.push_back({edge.from, static_cast<int>(i), k, edge.norm2 < 0 ? kNaN : std::sqrt(edge.norm2)});
    }
  }
  return g;
}

template <class T>
Telemetry& FlowMonitor<T>::telemetry() {
  end_step();
  return telemetry_;
}

template <class T>
std::string FlowMonitor<T>::table() {
  return telemetry().table();
}

template <class T>
void FlowMonitor<T>::write_csv(const std::string& path) {
  telemetry().write_csv(path);
}

template class FlowMonitor<float>;
template class FlowMonitor<double>;

}  // namespace ember::diag
