// Graph export: snapshots of the live graph (iterative walk) and of a
// monitored step, and their DOT text, checked by parsing it back.
#include <ember/ember.hpp>

#include <map>
#include <regex>

#include "../test_helpers.hpp"
#include "net.hpp"

using namespace ember;
using namespace ember::diag;

namespace {

// The DOT text read back: node id -> label, and edges with their attributes.
struct ParsedDot {
  std::map<int, std::string> labels;
  std::map<int, std::string> node_attrs;
  struct Edge {
    int from, to;
    std::string attrs;
  };
  std::vector<Edge> edges;
};

ParsedDot parse(const std::string& dot) {
  ParsedDot p;
  static const std::regex node(R"re(^  n(\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$)re");
  static const std::regex edge(R"re(^  n(\d+) -> n(\d+)(?: \[(.*)\])?;$)re");
  std::istringstream in(dot);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, node)) {
      p.labels[std::stoi(m[1])] = m[2];
      p.node_attrs[std::stoi(m[1])] = m[3];
    } else if (std::regex_match(line, m, edge)) {
      p.edges.push_back({std::stoi(m[1]), std::stoi(m[2]), m[3]});
    }
  }
  return p;
}

}  // namespace

TEST_CASE("snapshot: the live graph with shapes, names and one edge per input") {
  auto x = Tensor64::ones({2, 3});
  auto w = Tensor64::ones({3, 4}).requires_grad_();
  auto b = Tensor64::ones({4}).requires_grad_();
  auto loss = sum(sigmoid(matmul(x, w) + b));
  auto g = snapshot(loss, NamedParameters<double>{{"fc.weight", w}, {"fc.bias", b}});
  REQUIRE(g.nodes.size() == 7);  // sum sigmoid add matmul x w b
  CHECK(g.edges.size() == 6);
  CHECK(g.nodes[0].label == "sum");
  CHECK(g.nodes[0].shape == Shape{});

  const std::string dot = to_dot(g);
  CHECK(dot.starts_with("digraph \"ember\" {"));
  CHECK(dot.ends_with("}\n"));
  auto p = parse(dot);
  REQUIRE(p.labels.size() == 7);
  REQUIRE(p.edges.size() == 6);
  std::map<std::string, int> id;
  for (auto& [i, label] : p.labels) id[label.substr(0, label.find("\\n"))] = i;
  for (const char* s : {"sum", "sigmoid", "add", "matmul", "leaf", "fc.weight", "fc.bias"}) CHECK_MESSAGE(id.count(s), s);
  CHECK(p.labels[id["matmul"]] == "matmul\\n[2x4]");
  CHECK(p.labels[id["fc.weight"]] == "fc.weight\\n[3x4]");
  auto has_edge = [&](const char* from, const char* to) {
    for (auto& e : p.edges)
      if (e.from == id[from] && e.to == id[to]) return true;
    return false;
  };
  CHECK(has_edge("leaf", "matmul"));
  CHECK(has_edge("fc.weight", "matmul"));
  CHECK(has_edge("matmul", "add"));
  CHECK(has_edge("fc.bias", "add"));
  CHECK(has_edge("add", "sigmoid"));
  CHECK(has_edge("sigmoid", "sum"));
  CHECK(p.node_attrs[id["fc.weight"]].find("fillcolor") != std::string::npos);  // a parameter
  CHECK(p.node_attrs[id["leaf"]].find("fillcolor") == std::string::npos);       // data
}

TEST_CASE("snapshot: a shared input is one node with an edge per use; the walk is iterative") {
  auto x = Tensor64::from({2.0}).requires_grad_();
  auto y = x * x;  // x used twice by one op
  auto g = snapshot(y);
  CHECK(g.nodes.size() == 2);
  REQUIRE(g.edges.size() == 2);
  CHECK(g.edges[0].input == 0);
  CHECK(g.edges[1].input == 1);
  CHECK(to_dot(g).find("headlabel=\"1\"") != std::string::npos);

  auto deep = x;
  for (int i = 0; i < 50000; ++i) deep = deep * 1.0;  // deeper than any recursion would survive
  auto d = snapshot(deep);
  CHECK(d.nodes.size() == 50001);
  CHECK(d.edges.size() == 50000);
}

TEST_CASE("FlowMonitor::dot: gradient norms on nodes and edges, vanishing paths in red") {
  Generator gen(42);
  test_net::Mlp<float> net({8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8}, "sigmoid", gen);
  FlowMonitor<float> m;
  {
    auto watch = m.watch(0);
    mean(pow(net.forward(Tensor::randn({16, 8}, gen)) - Tensor::rand({16, 8}, gen), 2.f)).backward();
    m.record_gradients(net.params);
  }
  auto g = m.snapshot();
  // 10 x (matmul, add, sigmoid) + sub + pow + mean = 33 ops; 20 parameters + x + target = 22 leaves.
  CHECK(g.nodes.size() == 55);
  CHECK(g.edges.size() == 10 * 5 + 2 + 1 + 1);
  const std::string dot = m.dot();
  auto p = parse(dot);
  CHECK(p.labels.size() == 55);
  CHECK(p.edges.size() == 54);
  int red = 0, labelled = 0;
  for (auto& e : p.edges) {
    red += e.attrs.find("color=red") != std::string::npos;
    labelled += e.attrs.starts_with("label=") || e.attrs.find(", label=") != std::string::npos;
  }
  CHECK(labelled == 52);  // every edge but those into x and the target, which need no gradient
  CHECK(red > 0);
  // The first layer's weight gradient is red, the last layer's is not.
  auto edge_from = [&](const std::string& label_start) -> std::string {
    for (auto& [i, label] : p.labels)
      if (label.starts_with(label_start))
        for (auto& e : p.edges)
          if (e.from == i) return e.attrs;
    return "";
  };
  CHECK(edge_from("layers.0.weight").find("color=red") != std::string::npos);
  CHECK(edge_from("layers.9.weight").find("color=red") == std::string::npos);
  CHECK(p.labels.begin()->second.find("|grad|") == std::string::npos);  // a leaf: no norm of its own
  bool mean_has_norm = false;
  for (auto& [i, label] : p.labels) mean_has_norm |= label.starts_with("mean#0") && label.ends_with("|grad| 1");
  CHECK(mean_has_norm);
}

TEST_CASE("to_dot: labels are escaped and the threshold is an option") {
  GraphSnapshot g;
  g.nodes.push_back({"a \"quoted\" op", Shape{2}, false, true, 1.0});
  g.nodes.push_back({"leaf", Shape{2}, true, true, GraphSnapshot::kUnknown});
  g.edges.push_back({1, 0, 0, 1e-3});
  const std::string dot = to_dot(g);
  CHECK(dot.find("a \\\"quoted\\\" op") != std::string::npos);
  CHECK(dot.find("color=red") == std::string::npos);  // 1e-3 is not below 1e-4 x 1
  DotOptions strict;
  strict.vanishing_ratio = 1e-2;
  CHECK(to_dot(g, strict).find("n1 -> n0 [label=\"0.001\", color=red") != std::string::npos);
}
