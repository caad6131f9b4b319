// Data-parallel training with ember::dist: a 784-512-512-10 MLP on random
// MNIST-sized data, each rank on its own shard of every global batch,
// gradients averaged by GradientAllreduce during backward. Prints the median
// step time and the median time finish() waited for communication.
//   data_parallel [--steps 60] [--batch 64]          one process
//   mpirun -np 2 data_parallel [--batch 32]          two ranks (per-rank batch)
#include <dist/dist.hpp>
#include <ember/ember.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "common.hpp"

using namespace ember;
using namespace ember::examples;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return NAN;
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// A digest of the parameters' bits, to check that every rank holds the same.
std::string digest(const ModuleT<float>& model) {
  std::uint64_t h = 1469598103934665603u;
  for (const auto& p : model.parameters())
    for (float v : p.to_vector()) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      h = (h ^ bits) * 1099511628211u;
    }
  return fmt::format("{:016x}", h);
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment mpi(argc, argv);
  CLI::App app{"Data-parallel training of a 784-512-512-10 MLP over MPI ranks (ember::dist)"};
  Options options;
  int steps = 60;
  Index batch = 64;
  add_common_options(app, options, "data_parallel", 42);
  app.add_option("--steps", steps, "Training steps (the first 5 are not timed)")->capture_default_str();
  app.add_option("--batch", batch, "Batch size per rank (the global batch is ranks x this)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick && !app.count("--steps")) steps = 10;
  return dist::run([&] {
    const int rank = dist::rank(), ranks = dist::size();
    prepare_run(options);
    Generator data_gen(options.seed);
    const Index n = 4096;
    Dataset train;
    train.features = Tensor::randn({n, 784}, data_gen);
    for (Index i = 0; i < n; ++i) train.labels.push_back(static_cast<Index>(data_gen.below(10)));
    for (int c = 0; c < 10; ++c) train.class_names.push_back(std::to_string(c));

    Generator init(options.seed + 1), order(options.seed + 2);
    auto model = mlp({784, 512, 512, 10}, "relu", Init::kaiming_normal, init);
    dist::broadcast_parameters(model.named_parameters());
    Adam opt(model.parameters(), {.lr = 1e-3});
    dist::GradientAllreduce<float> allreduce(model.named_parameters());
    BatchIterator batches(train, batch, order, true, {rank, ranks});
    Batch b;
    std::vector<double> step_ms, wait_ms;
    double first_loss = 0, last_loss = 0;
    for (int step = 0; step < steps; ++step) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!batches.next(b)) batches.next(b);
      opt.zero_grad();
      Tensor loss = cross_entropy(model(b.features), b.labels);
      loss.backward();
      allreduce.finish();
      opt.step();
      const double ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (step >= 5) {
        step_ms.push_back(ms);
        wait_ms.push_back(1e3 * allreduce.last_wait_seconds());
      }
      (step == 0 ? first_loss : last_loss) = loss.item();
    }
    const std::string mine = fmt::format("{},{},{}", rank, median(step_ms), median(wait_ms));
    const std::vector<std::string> rows = dist::gather(mine);
    const std::vector<std::string> digests = dist::gather(digest(model));
    if (rank == 0) {
      CsvWriter csv(options.out / "data_parallel.csv", {"ranks", "rank", "batch_per_rank", "median_step_ms",
                                                        "median_allreduce_wait_ms"});
      for (const auto& r : rows) csv.write_line(fmt::format("{},", ranks) + r.substr(0, r.find(',')) +
                                                fmt::format(",{}", batch) + r.substr(r.find(',')));
      fmt::print("784-512-512-10, Adam, {} rank(s) x batch {} (global {}), {} timed steps: median step {:.2f} ms, "
                 "median allreduce wait {:.2f} ms (rank 0); loss {:.3f} -> {:.3f}\n",
                 ranks, batch, ranks * batch, step_ms.size(), median(step_ms), median(wait_ms), first_loss, last_loss);
      if (options.check) {
        if (!(last_loss < first_loss)) {
          fmt::print("FAIL: the loss did not fall\n");
          return 1;
        }
        // Averaged gradients and one optimizer per rank keep the replicas equal.
        if (std::count(digests.begin(), digests.end(), digests[0]) != static_cast<long>(digests.size())) {
          fmt::print("FAIL: the ranks' parameters differ after training\n");
          return 1;
        }
        fmt::print("PASS: loss fell, and all {} rank(s) hold bit-identical parameters\n", ranks);
      }
    }
    return 0;
  });
}
