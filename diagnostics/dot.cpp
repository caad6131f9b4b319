#include "dot.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <unordered_map>
#include <utility>

#include "reduce.hpp"

namespace ember::diag {

template <class T>
GraphSnapshot snapshot(const TensorT<T>& root, const NamedParameters<T>& names) {
  std::unordered_map<const Node<T>*, const std::string*> name_of;
  for (const auto& [name, t] : names)
    if (t.defined()) name_of.emplace(t.node_ptr().get(), &name);

  GraphSnapshot g;
  std::unordered_map<const Node<T>*, int> id;
  auto visit = [&](const Node<T>* n) {  // the node's id, adding it when new
    auto [it, added] = id.emplace(n, static_cast<int>(g.nodes.size()));
    if (added) {
      GraphSnapshot::Node s;
      const auto named = name_of.find(n);
      s.leaf = n->op == nullptr;
      s.label = named != name_of.end() ? *named->second : s.leaf ? "leaf" : n->op;
      s.shape = n->shape;
      s.requires_grad = n->requires_grad;
      if (!n->grad.empty()) s.grad_norm = std::sqrt(detail::squared_norm<T>(std::as_const(n->grad).array()));
      g.nodes.push_back(std::move(s));
    }
    return std::pair{it->second, added};
  };
  std::vector<const Node<T>*> stack{&root.node()};
  visit(stack.back());
  while (!stack.empty()) {
    const Node<T>* n = stack.back();
    stack.pop_back();
    const int to = id.at(n);
    for (std::size_t i = 0; i < n->inputs.size(); ++i) {
      const Node<T>* in = n->inputs[i].get();
      auto [from, added] = visit(in);
      g.edges.push_back({from, to, static_cast<int>(i), GraphSnapshot::kUnknown});
      if (added) stack.push_back(in);
    }
  }
  return g;
}

namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string to_dot(const GraphSnapshot& g, const DotOptions& options) {
  double largest = 0;
  for (const auto& n : g.nodes)
    if (std::isfinite(n.grad_norm)) largest = std::max(largest, n.grad_norm);
  for (const auto& e : g.edges)
    if (std::isfinite(e.grad_norm)) largest = std::max(largest, e.grad_norm);
  const double floor = options.vanishing_ratio * largest;
  auto vanishing = [&](double norm) { return norm == 0 || norm < floor; };  // false for NaN (unknown)

  std::string out = fmt::format("digraph \"{}\" {{\n  node [fontname=\"Helvetica\", fontsize=10];\n"
                                "  edge [fontname=\"Helvetica\", fontsize=9];\n",
                                escape(options.name));
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& n = g.nodes[i];
    std::string label = fmt::format("{}\\n{}", escape(n.label), n.shape.str());
    if (!std::isnan(n.grad_norm)) label += fmt::format("\\n|grad| {:.3g}", n.grad_norm);
    std::string style = n.leaf ? (n.requires_grad ? "shape=box, style=filled, fillcolor=\"#dbe9f6\"" : "shape=box")
                               : "shape=ellipse";
    if (vanishing(n.grad_norm)) style += ", color=red, fontcolor=red, penwidth=2";
    fmt::format_to(std::back_inserter(out), "  n{} [label=\"{}\", {}];\n", i, label, style);
  }
  std::vector<int> arity(g.nodes.size(), 0);
  for (const auto& e : g.edges) arity[static_cast<std::size_t>(e.to)] += 1;
  for (const auto& e : g.edges) {
    std::vector<std::string> attrs;
    if (arity[static_cast<std::size_t>(e.to)] > 1) attrs.push_back(fmt::format("headlabel=\"{}\"", e.input));
    if (!std::isnan(e.grad_norm)) attrs.push_back(fmt::format("label=\"{:.3g}\"", e.grad_norm));
    if (vanishing(e.grad_norm)) attrs.push_back("color=red, fontcolor=red, penwidth=2");
    fmt::format_to(std::back_inserter(out), "  n{} -> n{}", e.from, e.to);
    if (!attrs.empty()) fmt::format_to(std::back_inserter(out), " [{}]", fmt::join(attrs, ", "));
    out += ";\n";
  }
  out += "}\n";
  return out;
}

template GraphSnapshot snapshot<float>(const Tensor&, const NamedParameters<float>&);
template GraphSnapshot snapshot<double>(const Tensor64&, const NamedParameters<double>&);

}  // namespace ember::diag
