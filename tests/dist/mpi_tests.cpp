// ember::dist on 2 MPI ranks (CTest runs this under mpirun -np 2; every rank
// runs each test case).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <dist/dist.hpp>
#include <ember/ember.hpp>

using ember::Index;
using ember::Tensor64;

namespace {

// MPI for the whole process: initialized before the first test case,
// finalized at exit.
struct Mpi {
  Mpi() {
    int argc = 0;
    char** argv = nullptr;
    env = std::make_unique<ember::dist::Environment>(argc, argv);
  }
  std::unique_ptr<ember::dist::Environment> env;
} mpi;

// A regression data set in float64: the features, and a BatchIterator over a
// float Dataset of the same size used only for its (shared) batch order.
struct Problem {
  Tensor64 x, y;
  ember::Dataset order_only;
};
Problem problem(Index n) {
  ember::Generator gen(5);
  Problem p{Tensor64::randn({n, 6}, gen), Tensor64::randn({n, 1}, gen), {}};
  p.order_only.features = ember::Tensor::zeros({n, 1});
  p.order_only.labels.assign(static_cast<std::size_t>(n), 0);
  p.order_only.class_names = {"0"};
  return p;
}

Tensor64 rows(const Tensor64& t, const std::vector<Index>& idx) { return ember::index_select(t, idx); }

// k SGD steps (momentum) of a 6-16-1 tanh MLP; with `ranks` > 1 on this
// rank's shard, gradients averaged by GradientAllreduce.
std::vector<double> train(const Problem& p, Index batch, ember::Shard shard, bool allreduce, int steps) {
  ember::Generator init(11), order(12);
  auto model = ember::mlp<double>({6, 16, 1}, "tanh", ember::Init::xavier_uniform, init);
  if (allreduce) ember::dist::broadcast_parameters(model.named_parameters());
  ember::SGD64 opt(model.parameters(), {.lr = 0.05, .momentum = 0.9});
  std::unique_ptr<ember::dist::GradientAllreduce<double>> average;
  if (allreduce) average = std::make_unique<ember::dist::GradientAllreduce<double>>(model.named_parameters(), 256);
  ember::BatchIterator batches(p.order_only, batch, order, true, shard);
  ember::Batch b;
  for (int step = 0; step < steps; ++step) {
    if (!batches.next(b)) batches.next(b);
    opt.zero_grad();
    ember::mse_loss(model(rows(p.x, b.indices)), rows(p.y, b.indices)).backward();
    if (average) average->finish();
    opt.step();
  }
  std::vector<double> all;
  for (const auto& t : model.parameters())
    for (double v : t.to_vector()) all.push_back(v);
  return all;
}

}  // namespace

TEST_CASE("dist: data-parallel SGD on 2 ranks equals one process with the global batch (float64, 1e-12)") {
  REQUIRE(ember::dist::size() == 2);
  const Problem p = problem(96);  // 96 = 6 global batches of 16: every shard gets 8
  const std::vector<double> parallel =
      train(p, 8, {ember::dist::rank(), ember::dist::size()}, /*allreduce=*/true, 15);
  const std::vector<double> single = train(p, 16, {}, /*allreduce=*/false, 15);
  REQUIRE(parallel.size() == single.size());
  double worst = 0;
  for (std::size_t i = 0; i < single.size(); ++i)
    worst = std::max(worst, std::abs(parallel[i] - single[i]) / std::max(1.0, std::abs(single[i])));
  INFO("largest relative difference ", worst);
  CHECK(worst <= 1e-12);
  // And training moved the weights: the comparison is not of two inits.
  ember::Generator init(11);
  auto fresh = ember::mlp<double>({6, 16, 1}, "tanh", ember::Init::xavier_uniform, init);
  CHECK(fresh.parameters()[0].to_vector()[0] != single[0]);
}

TEST_CASE("dist: gather and broadcast move strings between ranks") {
  const int r = ember::dist::rank();
  const auto all = ember::dist::gather("rank " + std::to_string(r) + std::string(static_cast<std::size_t>(r) * 3, '!'));
  if (r == 0) CHECK(all == std::vector<std::string>{"rank 0", "rank 1!!!"});
  else CHECK(all.empty());
  CHECK(ember::dist::broadcast(r == 0 ? "from zero" : "ignored") == "from zero");
}

TEST_CASE("dist: broadcast_parameters gives every rank rank 0's values, and shards are disjoint") {
  ember::Generator gen(100 + static_cast<std::uint64_t>(ember::dist::rank()));  // different inits per rank
  auto model = ember::mlp<double>({3, 4, 2}, "relu", ember::Init::kaiming_normal, gen);
  ember::dist::broadcast_parameters(model.named_parameters());
  ember::Generator zero(100);
  auto expected = ember::mlp<double>({3, 4, 2}, "relu", ember::Init::kaiming_normal, zero);
  for (std::size_t i = 0; i < expected.parameters().size(); ++i)
    CHECK(model.parameters()[i].to_vector() == expected.parameters()[i].to_vector());

  // The two shards of an epoch: disjoint, together every sample once.
  const Problem p = problem(50);
  ember::Generator order(3);
  ember::BatchIterator shard(p.order_only, 4, order, true, {ember::dist::rank(), 2});
  ember::Batch b;
  std::string mine;
  while (shard.next(b))
    for (Index i : b.indices) mine += std::to_string(i) + " ";
  const auto all = ember::dist::gather(mine);
  if (ember::dist::rank() == 0) {
    std::vector<int> count(50, 0);
    for (const auto& text : all) {
      std::istringstream in(text);
      for (int i; in >> i;) ++count[static_cast<std::size_t>(i)];
    }
    CHECK(std::count(count.begin(), count.end(), 1) == 50);
  }
}
