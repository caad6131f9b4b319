// Graphs handed between threads: a graph built on one thread may be
// back-propagated on any other; two passes over shared nodes at the same
// time are refused (Note [traversal marks], engine/backward.cpp).
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include <ember/ember.hpp>

#include "../test_helpers.hpp"

using ember::Tensor64;

namespace {

// loss = sum(3 x^2 + x w), so dL/dx = 6x + w and dL/dw = x.
struct Graph {
  Tensor64 x = Tensor64::from({1.0, -2.0, 0.5}).requires_grad_();
  Tensor64 w = Tensor64::from({4.0, 0.25, -1.0}).requires_grad_();
  Tensor64 loss = ember::sum(x * x * 3.0 + x * w);
};

template <class F>
void on_thread(F f) {
  std::thread t(f);
  t.join();
}

}  // namespace

TEST_CASE("concurrency: a retained graph back-propagated again on another thread gives the same gradient") {
  Graph g;
  g.loss.backward(/*retain_graph=*/true);  // on this thread
  on_thread([&] { g.loss.backward(); });    // and again on another: gradients add
  const std::vector<double> x = {1.0, -2.0, 0.5}, w = {4.0, 0.25, -1.0};
  for (int i = 0; i < 3; ++i) {
    CHECK(g.x.grad().at({i}) == doctest::Approx(2 * (6 * x[i] + w[i])));
    CHECK(g.w.grad().at({i}) == doctest::Approx(2 * x[i]));
  }
}

TEST_CASE("concurrency: a leaf with a hook, back-propagated from two threads, accumulates as on one thread") {
  auto run = [](bool second_on_other_thread) {
    Tensor64 x = Tensor64::from({2.0}).requires_grad_();
    int calls = 0;
    x.register_hook([&calls](const Tensor64&) {
      ++calls;
      return Tensor64();
    });
    Tensor64 loss = ember::sum(x * x * 3.0);  // dL/dx = 6x = 12
    loss.backward(true);
    if (second_on_other_thread) on_thread([&] { loss.backward(); });
    else loss.backward();
    CHECK(calls == 2);
    return x.grad().item();
  };
  CHECK(run(false) == doctest::Approx(24.0));
  CHECK(run(true) == doctest::Approx(24.0));
}

TEST_CASE("concurrency: each of two new threads back-propagates a hooked leaf's retained graph once") {
  // Both threads make their first backward call here, so thread-local pass
  // counters would give both passes the same mark (the second pass then saw
  // every node as visited already).
  Tensor64 x = Tensor64::from({2.0}).requires_grad_();
  int calls = 0;
  x.register_hook([&calls](const Tensor64&) {
    ++calls;
    return Tensor64();
  });
  Tensor64 loss = ember::sum(x * x * 3.0);  // dL/dx = 6x = 12 per pass
  on_thread([&] { loss.backward(true); });
  on_thread([&] { loss.backward(true); });
  CHECK(calls == 2);
  CHECK(x.grad().item() == doctest::Approx(24.0));
}

TEST_CASE("concurrency: graphs built by a producer thread and back-propagated by a consumer thread") {
  constexpr int kGraphs = 200;
  std::mutex m;
  std::condition_variable cv;
  std::queue<Graph> ready;
  std::thread producer([&] {
    for (int i = 0; i < kGraphs; ++i) {
      Graph g;
      std::lock_guard lock(m);
      ready.push(std::move(g));
      cv.notify_one();
    }
  });
  int checked = 0;
  for (int i = 0; i < kGraphs; ++i) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return !ready.empty(); });
    Graph g = std::move(ready.front());
    ready.pop();
    lock.unlock();
    g.loss.backward();
    checked += g.x.grad().at({1}) == doctest::Approx(6 * -2.0 + 0.25) && g.w.grad().at({2}) == doctest::Approx(0.5);
  }
  producer.join();
  CHECK(checked == kGraphs);
}

TEST_CASE("concurrency: two models trained on two threads at once match training them one after the other") {
  auto train = [](std::uint64_t seed) {
    ember::Generator gen(seed);
    auto model = ember::mlp<double>({4, 8, 1}, "tanh", ember::Init::xavier_uniform, gen);
    Tensor64 x = Tensor64::randn({16, 4}, gen), y = Tensor64::randn({16, 1}, gen);
    ember::SGDT<double> opt(model.parameters(), {.lr = 0.05});
    for (int step = 0; step < 50; ++step) {
      opt.zero_grad();
      ember::mse_loss(model(x), y).backward();
      opt.step();
    }
    return model.parameters()[0].to_vector();
  };
  const auto a_seq = train(1), b_seq = train(2);
  std::vector<double> a_par, b_par;
  std::thread ta([&] { a_par = train(1); }), tb([&] { b_par = train(2); });
  ta.join();
  tb.join();
  CHECK(a_par == a_seq);
  CHECK(b_par == b_seq);
}

TEST_CASE("concurrency: a second backward through a graph another thread is back-propagating is a GraphError") {
  Graph g;
  Tensor64 h = g.x * 2.0;  // a non-leaf whose hook holds the first pass in the middle of its backward
  Tensor64 loss = ember::sum(h * h);
  std::mutex m;
  std::condition_variable cv;
  bool first_inside = false, second_done = false;
  h.register_hook([&](const Tensor64&) {
    std::unique_lock lock(m);
    first_inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return second_done; });
    return Tensor64();
  });
  std::thread first([&] { loss.backward(true); });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return first_inside; });
  }
  CHECK_THROWS_WITH_SUBSTR(loss.backward(true), ember::GraphError, "another backward pass is running");
  {
    std::lock_guard lock(m);
    second_done = true;
  }
  cv.notify_all();
  first.join();
  // The refused pass changed nothing: the first pass's gradient is exact,
  // d/dx sum((2x)^2) = 8x.
  CHECK(g.x.grad().at({0}) == doctest::Approx(8.0));
  CHECK(g.x.grad().at({1}) == doctest::Approx(-16.0));
  // And once the first pass is over, the graph is usable again from here.
  loss.backward();
  CHECK(g.x.grad().at({0}) == doctest::Approx(16.0));
}

TEST_CASE("concurrency: two threads recording graphs that share an input tensor at the same time") {
  const Tensor64 shared = Tensor64::from({0.5, -1.5, 2.0});  // data both graphs read; needs no grad
  auto work = [&](double scale, std::vector<double>& grad) {
    Tensor64 w = Tensor64::from({scale, scale, scale}).requires_grad_();
    for (int i = 0; i < 200; ++i) {
      w.zero_grad();
      ember::sum(w * shared * shared).backward();  // d/dw = shared^2
    }
    grad = w.grad().to_vector();
  };
  std::vector<double> a, b;
  std::thread ta([&] { work(1.0, a); }), tb([&] { work(2.0, b); });
  ta.join();
  tb.join();
  CHECK(a == std::vector<double>{0.25, 2.25, 4.0});
  CHECK(b == a);
}
