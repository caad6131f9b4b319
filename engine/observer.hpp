// GraphObserver: the engine's one extension point for diagnostics. While an
// observer is installed on a thread (ObserverScope), the engine reports every
// op's forward result and every gradient an op's backward hands to an input.
// With none installed the cost is one empty-list check per op.
#pragma once

#include <span>
#include <vector>

#include "buffer.hpp"

namespace ember {

template <class T>
class TensorT;
template <class T>
struct Node;

template <class T>
class GraphObserver {
 public:
  virtual ~GraphObserver() = default;
  // After op `op` computed `out` from `inputs`, whether or not it recorded.
  virtual void on_forward(const char* /*op*/, std::span<const TensorT<T>> /*inputs*/, const TensorT<T>& /*out*/) {}
  // Before `node`'s backward runs; node.grad holds dL/d(out).
  virtual void on_backward(const Node<T>& /*node*/) {}
  // The gradient `node`'s backward sends to input `input`, before any
  // broadcast reduction (so it may have the output's size).
  virtual void on_input_grad(const Node<T>& /*node*/, int /*input*/, ConstArrayMap<T> /*grad*/) {}
};

// The observers installed on this thread, in installation order. A
// function-local thread_local: GCC 12 rejects an `inline thread_local`
// variable template used for both float and double in one translation unit
// ("redefinition of bool __tls_guard").
template <class T>
inline std::vector<GraphObserver<T>*>& observers() {
  thread_local std::vector<GraphObserver<T>*> list;
  return list;
}

// Installs an observer on this thread for the scope's lifetime.
template <class T>
class ObserverScope {
 public:
  explicit ObserverScope(GraphObserver<T>& o) : observer_(&o) { observers<T>().push_back(observer_); }
  ~ObserverScope() { std::erase(observers<T>(), observer_); }
  ObserverScope(const ObserverScope&) = delete;
  ObserverScope& operator=(const ObserverScope&) = delete;

 private:
  GraphObserver<T>* observer_;
};

}  // namespace ember
