// Graph export to Graphviz DOT: ops, shapes and, when known, the norm of the
// gradient on every node and edge, with vanishing paths drawn in red.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "../engine/shape.hpp"
#include "grad_norms.hpp"

namespace ember::diag {

// A graph as plain data. FlowMonitor::snapshot() fills the gradient norms
// from what it saw in backward; snapshot(root) reads the live graph.
struct GraphSnapshot {
  static constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();
  struct Node {
    std::string label;       // the op ("matmul#1" from a monitor), a parameter's name, or "leaf"
    Shape shape;
    bool leaf = false;       // not made by a recorded op
    bool requires_grad = false;
    double grad_norm = kUnknown;  // ||dL/d(this)||
  };
  struct Edge {
    int from = 0;   // the input
    int to = 0;     // the op that consumed it
    int input = 0;  // its position among `to`'s inputs
    double grad_norm = kUnknown;  // ||gradient `to` sent back along this edge||
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;
};

// The graph that produced `root`, walked iteratively (no recursion, any
// depth); nodes[0] is `root`. Leaves found in `names` get their name. The
// walk needs the graph: take it before backward, or after
// backward(retain_graph = true). Gradient norms come from gradients that are
// still stored (leaves, retain_grad()); FlowMonitor records all of them.
template <class T>
GraphSnapshot snapshot(const TensorT<T>& root, const NamedParameters<T>& names = {});

struct DotOptions {
  // An edge or node whose gradient norm is below vanishing_ratio times the
  // largest norm in the graph (or exactly 0) is drawn red.
  double vanishing_ratio = 1e-4;
  std::string name = "ember";  // the digraph's name
};

std::string to_dot(const GraphSnapshot& graph, const DotOptions& options = {});

}  // namespace ember::diag
