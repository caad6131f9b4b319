// Node: one value in the dynamic graph, and Backward: what an op's backward
// closure sees.
//
// Every tensor handle points at a Node. A node made by an op that recorded
// itself also holds its inputs and a backward closure. Closures capture plain
// values only (scalars, shapes, index lists); they read input and output
// values through the Backward context, so no closure ever owns a node and the
// graph has no reference cycles.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "broadcast.hpp"
#include "buffer.hpp"
#include "elementwise.hpp"
#include "error.hpp"
#include "input_list.hpp"
#include "observer.hpp"
#include "shape.hpp"

namespace ember {

template <class T>
class TensorT;
template <class T>
class Backward;
template <class T>
class GraphBackward;
template <class T>
struct Node;

namespace detail {
// Runs a closure written for GraphBackward only (tensor ops) inside a
// first-order pass: graph_backward.hpp.
template <class T, class F>
void run_graph_eagerly(F& f, Backward<T>& b);
}  // namespace detail

// An op's backward closure, stored once and callable two ways (Note [one
// derivative], graph_backward.hpp): with Backward<T>, the first-order fast
// path over Eigen maps; with GraphBackward<T>, the create_graph path over
// tensors, where the gradients are graph nodes. A generic closure
// ([](auto& b) {...}) serves both. A closure taking Backward<T>& only is
// first order: differentiating its gradient again is a GraphError. One taking
// GraphBackward<T>& only also runs in a first-order pass, on tensors with
// recording off. Small closures live inside the node, larger ones on the heap.
template <class T>
class BackwardFn {
 public:
  BackwardFn() = default;
  ~BackwardFn() { reset(); }
  BackwardFn(const BackwardFn&) = delete;
  BackwardFn& operator=(const BackwardFn&) = delete;
  BackwardFn& operator=(std::nullptr_t) {
    reset();
    return *this;
  }

  template <class F>
  void emplace(F&& f) {
    using D = std::decay_t<F>;
    constexpr bool fast = std::is_invocable_v<D&, Backward<T>&>;
    constexpr bool graph = std::is_invocable_v<D&, GraphBackward<T>&>;
    static_assert(fast || graph, "a backward closure takes Backward<T>&, GraphBackward<T>& or auto&");
    reset();
    constexpr bool small = sizeof(D) <= sizeof(storage_) && alignof(D) <= alignof(std::max_align_t) &&
                           std::is_nothrow_move_constructible_v<D>;
    if constexpr (small) object_ = new (storage_) D(std::forward<F>(f));
    else object_ = new D(std::forward<F>(f));
    static constexpr Table table{
        [](void* o, Backward<T>& b) {
          if constexpr (fast) (*static_cast<D*>(o))(b);
          else detail::run_graph_eagerly<T>(*static_cast<D*>(o), b);
        },
        graph ? static_cast<void (*)(void*, GraphBackward<T>&)>([](void* o, GraphBackward<T>& b) {
          if constexpr (graph) (*static_cast<D*>(o))(b);
        })
              : nullptr,
        [](void* o) {
          if constexpr (small) static_cast<D*>(o)->~D();
          else delete static_cast<D*>(o);
        }};
    table_ = &table;
  }

  explicit operator bool() const { return table_ != nullptr; }
  // True when the closure runs on tensors, so its gradients can be recorded.
  bool differentiable() const { return table_ && table_->graph; }
  void operator()(Backward<T>& b) const { table_->fast(object_, b); }
  void operator()(GraphBackward<T>& b) const { table_->graph(object_, b); }

 private:
  struct Table {
    void (*fast)(void*, Backward<T>&);
    void (*graph)(void*, GraphBackward<T>&);
    void (*destroy)(void*);
  };
  void reset() {
    if (table_) table_->destroy(object_);
    table_ = nullptr;
    object_ = nullptr;
  }
  alignas(std::max_align_t) unsigned char storage_[32];
  void* object_ = nullptr;
  const Table* table_ = nullptr;
};

template <class T>
struct Node {
  using Ptr = std::shared_ptr<Node>;
  using Hook = std::function<TensorT<T>(const TensorT<T>&)>;

  explicit Node(const Shape& s) : shape(s), value(allocate(s)) {}
  ~Node();  // iterative: a chain of a million nodes tears down without recursion
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // What backward's traversal reads first, together at the front.
  const char* op = nullptr;    // the op that made this node; nullptr for a leaf
  InputList<Ptr> inputs;       // recorded nodes only; cleared when the graph is freed
  std::atomic<std::uint64_t> visit{0};  // the backward pass that claimed it (Note [traversal marks], backward.cpp)
  std::uint32_t pending = 0;   // consumers whose backward has not run yet (the recorded pass)
  // Note [depth order]. 0 for a leaf, else 1 + the largest depth among the
  // inputs, set when the op records the node. Every consumer of a node is
  // deeper than the node, so taking the deepest waiting node first is a
  // reverse topological order: when a node is taken, each consumer on a path
  // from the root has run (a consumer not yet taken would be deeper, or wait
  // behind a deeper node on its path that is). The first-order pass needs no
  // count of consumers and so no separate walk over the graph before it.
  std::uint32_t depth = 0;
  // Note [versions]. A backward reads the values its forward used, so
  // writes in between must be caught. `version` counts the times the values
  // were handed out for writing (TensorT's non-const values(), data(),
  // matrix(); the optimizers' updates); record() saves each input's version
  // and resets the output's. C++ cannot tell a write through those maps from
  // a read, so a moved version alone proves nothing: while some live node
  // may read the values (`saved_by` recorded consumers, or this node's own
  // backward), the first non-const access takes a hash of them (`snapshot`),
  // and a backward that finds the version moved compares the hash. Only
  // values that really changed are an error; a read through a non-const
  // handle costs one hash, and nothing is hashed in a plain training step.
  std::uint32_t version = 0;
  std::uint32_t saved_version = 0;  // this node's version when its op recorded it
  // The version most recently saved by this node or a consumer, and the live
  // recorded nodes holding this one as an input. Atomic (relaxed loads and
  // stores, no read-modify-write: free on x86) because two threads may record
  // graphs that share a tensor; a lost update under such a race can only
  // cost an extra hash or a refused backward, never a wrong gradient.
  std::atomic<std::uint32_t> last_saved{0};
  std::atomic<std::uint32_t> saved_by{0};
  // `snapshot` hashes the values, unchanged from version snapshot_since to
  // snapshot_version (both included).
  std::uint32_t snapshot_since = ~0u, snapshot_version = ~0u;
  std::uint64_t snapshot = 0;
  bool requires_grad = false;
  bool retain_grad = false;    // keep a non-leaf's gradient after backward
  bool graph_freed = false;    // backward ran without retain_graph
  // The backward is deliberately not the derivative of the forward (a
  // straight-through estimator); gradcheck reports such ops instead of
  // comparing them with finite differences.
  bool surrogate_gradient = false;

  Shape shape;
  Buffer<T> value;
  Buffer<T> grad;  // empty until a gradient arrives
  // The gradient as a graph node, when the last backward into this node had
  // create_graph (same values as `grad`); dropped by any other write to grad.
  std::shared_ptr<Node> grad_graph;
  BackwardFn<T> backward;
  std::unique_ptr<std::vector<Hook>> hooks;  // see TensorT::register_hook; null when none (the usual case)

  bool is_leaf() const { return op == nullptr; }

  // Called before the values are handed out for writing (Note [versions]).
  void will_write() {
    const bool watched = saved_by.load(std::memory_order_relaxed) != 0 || backward;
    if (watched && version == last_saved.load(std::memory_order_relaxed) && snapshot_version != version) {
      const std::uint64_t h = hash_values();
      // Values equal to the snapshot's extend its range (a tensor read,
      // reused by another op, read again); others start a new one.
      if (h != snapshot || snapshot_version == ~0u) snapshot_since = version;
      snapshot = h;
      snapshot_version = version;
    }
    ++version;
  }
  // True when the values are the ones this node had at version `saved`.
  bool unchanged_since(std::uint32_t saved) const {
    return version == saved ||
           (snapshot_since <= saved && saved <= snapshot_version && hash_values() == snapshot);
  }
  void add_consumer() { saved_by.store(saved_by.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void drop_consumer() { saved_by.store(saved_by.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed); }
  // Drops the inputs, telling each it has one consumer fewer.
  void release_inputs() {
    for (auto& p : inputs)
      if (p) p->drop_consumer();
    inputs.clear();
  }

  std::uint64_t hash_values() const {
    // Four independent multiply-xor lanes over the raw bytes: fast, and any
    // changed bit changes the result with overwhelming probability.
    const auto* bytes = reinterpret_cast<const unsigned char*>(value.data());
    const std::size_t n = static_cast<std::size_t>(value.size()) * sizeof(T);
    std::uint64_t lane[4] = {0x9e3779b97f4a7c15u, 0xc2b2ae3d27d4eb4fu, 0x165667b19e3779f9u, 0x27d4eb2f165667c5u};
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32)
      for (int k = 0; k < 4; ++k) {
        std::uint64_t w;
        std::memcpy(&w, bytes + i + 8 * k, 8);
        lane[k] = (lane[k] ^ w) * 0x100000001b3u;
        lane[k] ^= lane[k] >> 29;
      }
    std::uint64_t h = lane[0] ^ (lane[1] << 1) ^ (lane[2] << 2) ^ (lane[3] << 3) ^ n;
    for (; i < n; ++i) h = (h ^ bytes[i]) * 0x100000001b3u;
    return h;
  }

 private:
  static Buffer<T> allocate(const Shape& s) {
    const Index n = s.numel();
    constexpr std::uint64_t max_elements = (std::uint64_t(1) << 62) / sizeof(T);  // far beyond any address space
    try {
      if (static_cast<std::uint64_t>(n) > max_elements) throw std::bad_alloc();
      return Buffer<T>(n);
    } catch (const std::bad_alloc&) {
      fail<ValueError>("tensor: cannot allocate {} bytes for a tensor of shape {} ({} elements of {} bytes): out of "
                       "memory",
                       static_cast<unsigned __int128>(n) * sizeof(T), s.str(), n, sizeof(T));
    }
  }
};

// The values a backward reads must be the ones the forward used (Note [versions]).
template <class T>
const Node<T>& checked_input_of(const Node<T>& node, int i) {
  const Node<T>& input = *node.inputs[static_cast<std::size_t>(i)];
  const std::uint32_t saved = node.inputs.version(static_cast<std::size_t>(i));
  if (!input.unchanged_since(saved))
    fail<GraphError>("{}: input {} (shape {}) was modified in place after it was used (version {}, saved at {}); "
                     "recompute the forward after changing it, or change a copy (detach())",
                     node.op, i, input.shape.str(), input.version, saved);
  return input;
}
template <class T>
const Node<T>& checked_output_of(const Node<T>& node) {
  if (!node.unchanged_since(node.saved_version))
    fail<GraphError>("{}: its output (shape {}) was modified in place after it was computed (version {}, saved at "
                     "{}); change a copy (detach()) instead",
                     node.op, node.shape.str(), node.version, node.saved_version);
  return node;
}

// The view an op's backward closure gets of its node. `grad()` is dL/d(out);
// the closure adds each input's gradient with `accumulate`.
template <class T>
class Backward {
 public:
  explicit Backward(Node<T>& node) : node_(node) {}
  Node<T>& node() const { return node_; }

  const char* op() const { return node_.op; }
  const Shape& output_shape() const { return node_.shape; }
  ConstArrayMap<T> grad() const { return std::as_const(node_.grad).array(); }
  ConstMatrixMap<T> grad_matrix() const { return matrix(node_.grad.data(), node_.shape); }
  ConstArrayMap<T> output() const { return std::as_const(checked_output().value).array(); }
  ConstMatrixMap<T> output_matrix() const { return matrix(checked_output().value.data(), node_.shape); }

  int num_inputs() const { return static_cast<int>(node_.inputs.size()); }
  const Shape& input_shape(int i) const { return in(i).shape; }
  ConstArrayMap<T> input(int i) const { return std::as_const(checked_input(i).value).array(); }
  ConstMatrixMap<T> input_matrix(int i) const { return matrix(checked_input(i).value.data(), in(i).shape); }
  bool needs(int i) const { return in(i).requires_grad; }

  // Adds `g` to input i's gradient. `g` has either the input's number of
  // elements, or the output's when the input was broadcast: then the engine
  // sums the broadcast dimensions back to the input's shape. Any other size
  // is a GraphError naming the op. Does nothing when input i needs no grad.
  template <class Derived>
  void accumulate(int i, const Eigen::ArrayBase<Derived>& g) {
    if (!in(i).requires_grad) return;
    if (observers<T>().empty()) return add(i, g);
    Buffer<T> evaluated(g.size());
    evaluated.array() = g;
    report(i, evaluated);
    add(i, std::as_const(evaluated).array());
  }

  // Input i's gradient buffer as a [rows x cols] row-major matrix, zeroed if
  // it is new, for ops that accumulate a product into it in place
  // (`m.noalias() += a * b`). rows*cols must equal the input's size, and
  // input i must require grad.
  MatrixMap<T> grad_matrix_of(int i, Index rows, Index cols) {
    Node<T>& input = in(i);
    if (!input.requires_grad)
      fail<GraphError>("{}: backward asked for the gradient matrix of input {}, which does not require grad (test "
                       "needs({}) first)",
                       node_.op, i, i);
    if (rows * cols != input.shape.numel())
      fail<GraphError>("{}: backward asked for a [{}x{}] gradient of input {} with shape {}", node_.op, rows, cols, i,
                       input.shape.str());
    Buffer<T>* target = &input.grad;
    if (!observers<T>().empty()) {  // hand out a scratch buffer so finish() can report it
      scratch_.emplace_back(i, Buffer<T>());
      target = &scratch_.back().second;
    }
    if (target->empty()) {
      *target = Buffer<T>(input.shape.numel());
      target->array().setZero();
    }
    return {target->data(), rows, cols};
  }

  // Called by the engine after the op's backward returns.
  void finish() {
    for (auto& [i, buffer] : scratch_) {
      report(i, buffer);
      add(i, std::as_const(buffer).array());
    }
    scratch_.clear();
  }

 private:
  template <class Derived>
  void add(int i, const Eigen::ArrayBase<Derived>& g) {
    Node<T>& input = in(i);
    const Index n = input.shape.numel();
    if (g.size() == n) {
      if (input.grad.empty()) {
        input.grad = Buffer<T>(n);
        store_elementwise(input.grad.data(), n, g, Store::assign);
      } else {
        store_elementwise(input.grad.data(), n, g, Store::add);
      }
    } else if (g.size() == node_.shape.numel() && broadcasts_to(input.shape, node_.shape)) {
      Buffer<T> full(g.size());
      full.array() = g;
      if (input.grad.empty()) {
        input.grad = Buffer<T>(n);
        input.grad.array().setZero();
      }
      sum_to(full.data(), node_.shape, input.grad.data(), input.shape);
    } else {
      fail<GraphError>("{}: backward returned {} gradient values for input {} of shape {} (output {})", node_.op,
                       g.size(), i, input.shape.str(), node_.shape.str());
    }
  }
  void report(int i, const Buffer<T>& g) {
    for (auto* o : observers<T>()) o->on_input_grad(node_, i, g.array());
  }

  const Node<T>& checked_input(int i) const { return checked_input_of(node_, i); }
  const Node<T>& checked_output() const { return checked_output_of(node_); }

  std::vector<std::pair<int, Buffer<T>>> scratch_;
  Node<T>& in(int i) const { return *node_.inputs[static_cast<std::size_t>(i)]; }
  static ConstMatrixMap<T> matrix(const T* data, const Shape& s) { return {data, s.rows(), s.cols()}; }

  Node<T>& node_;
};

}  // namespace ember
