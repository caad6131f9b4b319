// Soak: memory must stay flat over a long run (not part of the test suite;
// scripts/soak.sh builds and runs it).
//   1. steps SGD steps of a 30-32-32-1 MLP (default 10^6): RSS sampled every
//      steps/10 after a warm-up of steps/10; fails if it grows by more than
//      1 MiB between the first and the last sample.
//   2. a 10^6-node chain built and freed: RSS before, at the peak, after the
//      graph is gone, and after release_cached_memory().
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <ember/ember.hpp>

namespace {

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  const long steps = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const long every = steps / 10 > 0 ? steps / 10 : 1;
  ember::Generator gen(1);
  auto model = ember::mlp({30, 32, 32, 1}, "tanh", ember::Init::xavier_uniform, gen);
  ember::SGD opt(model.parameters(), {.lr = 0.01});
  auto x = ember::Tensor::randn({1, 30}, gen), y = ember::Tensor::rand({1, 1}, gen);
  double first = -1, last = 0, loss = 0;
  std::printf("soak: %ld SGD steps of a 30-32-32-1 MLP, batch 1\n", steps);
  for (long step = 1; step <= steps; ++step) {
    opt.zero_grad();
    auto l = ember::binary_cross_entropy_with_logits(model(x), y);
    l.backward();
    opt.step();
    loss = l.item();
    if (step % every == 0 && step > every) {
      last = rss_mib();
      if (first < 0) first = last;
      std::printf("  step %8ld  RSS %8.2f MiB  loss %.6f\n", step, last, loss);
    }
  }
  const double growth = last - first;
  std::printf("RSS growth after warm-up: %.3f MiB (limit 1 MiB)\n", growth);

  const double before = rss_mib();
  double peak = 0;
  {
    auto w = ember::Tensor::from({0.5f, -0.25f, 1.0f, 2.0f}).requires_grad_();
    ember::Tensor h = w;
    for (int i = 0; i < 1'000'000; ++i) h = ember::tanh(h * 0.999f);
    peak = rss_mib();
    ember::sum(h).backward();
  }
  const double freed = rss_mib();
  const std::size_t released = ember::release_cached_memory();
  const double trimmed = rss_mib();
  std::printf("10^6-node chain of [4] tensors: RSS %.1f MiB before, %.1f at the peak, %.1f after backward freed it, "
              "%.1f after release_cached_memory() (%zu pooled bytes released)\n",
              before, peak, freed, trimmed, released);
  return growth <= 1.0 ? 0 : 1;
}
