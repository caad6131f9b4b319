// Step time of an MLP training step with each diagnostic off and on.
//
// Not part of ember_bench (bench/CMakeLists.txt); build it against the
// library of any Release build dir, e.g.:
//
//   cmake -S . -B build-rel -DEMBER_BUILD_EXAMPLES=OFF && make -C build-rel -j2 ember
//   g++ -O3 -march=native -fopenmp -std=c++20 -I. -isystem /usr/include/eigen3 bench/diagnostics_overhead.cpp build-rel/libember.a -lfmt -o /tmp/diagnostics_overhead
//   /tmp/diagnostics_overhead [steps]
//
// Prints the median step time over `steps` steps (default 200) per setting,
// in process CPU time (one thread: wall time on a shared machine measures
// the neighbours).
#include <ember/ember.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <cstdlib>
#include <functional>

using namespace ember;

namespace {

struct Setup {
  Sequential model;
  Tensor x, y;
  SGD opt;
  explicit Setup(Generator& gen, const char* activation)
      : model(mlp<float>({64, 256, 256, 256, 10}, activation, Init::kaiming, gen)),
        x(Tensor::randn({128, 64}, gen)),
        y(Tensor::randn({128, 10}, gen)),
        opt(model.parameters(), {.lr = 1e-3}) {}
};

double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

struct Timing {
  double median = 1e300, mean = 1e300;  // ms per step
};

Timing time_steps(int steps, const std::function<void(std::int64_t)>& step) {
  for (int i = 0; i < 10; ++i) step(i);  // warm up allocator and caches
  std::vector<double> ms;
  for (int i = 0; i < steps; ++i) {
    const double t0 = cpu_ms();
    step(i);
    ms.push_back(cpu_ms() - t0);
  }
  Timing t;
  t.mean = 0;
  for (double v : ms) t.mean += v / steps;
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  t.median = ms[ms.size() / 2];
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  const int steps = argc > 1 ? std::atoi(argv[1]) : 200;
  for (const char* act : {"relu", "sigmoid"}) {
    Generator gen(1);
    Setup s(gen, act);
    auto plain = [&](std::int64_t) {
      s.opt.zero_grad();
      mse_loss(s.model(s.x), s.y).backward();
      s.opt.step();
    };
    diag::MonitorOptions stats_only;
    stats_only.graph = false;
    diag::MonitorOptions all_nodes;
    all_nodes.log_all_nodes = true;
    diag::MonitorOptions every10;
    every10.every = 10;
    diag::FlowMonitor<float> m_stats(stats_only), m_full, m_all(all_nodes), m_every(every10);
    auto monitored = [&](diag::FlowMonitor<float>& m) {
      return [&](std::int64_t step) {
        auto watch = m.watch(step);
        s.opt.zero_grad();
        mse_loss(s.model(s.x), s.y).backward();
        m.record_gradients(s.model.named_parameters());
        s.opt.step();
      };
    };
    diag::DeadUnitTracker<float> tracker;
    GraphObserver<float> empty;  // does nothing: what the engine's hooks cost by themselves
    const std::vector<std::pair<const char*, std::function<void(std::int64_t)>>> settings{
        {"monitors off", plain},
        {"an empty observer (the engine's hook cost)", [&](std::int64_t i) {
           ObserverScope<float> scope(empty);
           plain(i);
         }},
        {"NanGuard", [&](std::int64_t i) {
           diag::NanGuard<float> guard;
           plain(i);
         }},
        {"DeadUnitTracker", [&](std::int64_t i) {
           ObserverScope<float> scope(tracker);
           tracker.begin_batch();
           plain(i);
         }},
        {"FlowMonitor, activation stats only", monitored(m_stats)},
        {"FlowMonitor, default (stats + graph + grads)", monitored(m_full)},
        {"FlowMonitor, log_all_nodes", monitored(m_all)},
        {"FlowMonitor, every = 10 (mean)", monitored(m_every)},
    };
    // Three rounds, interleaved, best of three: a shared machine's noise only
    // ever adds time.
    std::vector<Timing> best(settings.size());
    for (int round = 0; round < 3; ++round)
      for (std::size_t k = 0; k < settings.size(); ++k) {
        const Timing t = time_steps(steps, settings[k].second);
        best[k].median = std::min(best[k].median, t.median);
        best[k].mean = std::min(best[k].mean, t.mean);
      }
    fmt::print("MLP 64-256-256-256-10 {}, batch 128, MSE, SGD; CPU ms per step, best of 3 medians of {} steps\n", act,
               steps);
    for (std::size_t k = 0; k < settings.size(); ++k) {
      const bool mean = k + 1 == settings.size();  // every = 10: the median would be an unmonitored step
      const double ms = mean ? best[k].mean : best[k].median, off = mean ? best[0].mean : best[0].median;
      fmt::print("  {:<44} {:8.3f} ms  {:+6.1f}%\n", settings[k].first, ms, 100.0 * (ms - off) / off);
    }
  }
}
