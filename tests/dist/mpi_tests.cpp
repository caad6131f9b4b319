// ember::dist on 2 MPI ranks (CTest runs this under mpirun -np 2; every rank
// runs each test case).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <dist/dist.hpp>
#include <ember/ember.hpp>

#include "../test_helpers.hpp"

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
// Dataset64 of the same size used only for its (shared) batch order.
struct Problem {
  Tensor64 x, y;
  ember::Dataset64 order_only;
};
Problem problem(Index n) {
  ember::Generator gen(5);
  Problem p{Tensor64::randn({n, 6}, gen), Tensor64::randn({n, 1}, gen), {}};
  p.order_only.features = Tensor64::zeros({n, 1});
  p.order_only.labels.assign(static_cast<std::size_t>(n), 0);
  p.order_only.class_names = {"0"};
  return p;
}

Tensor64 rows(const Tensor64& t, const std::vector<Index>& idx) { return ember::index_select(t, idx); }

// A 6-16-1 tanh MLP trained by SGD with momentum; with `allreduce`, on this
// rank's shard with gradients averaged by GradientAllreduce. Seeds: the
// initial weights and the batch order.
struct Trainer {
  Trainer(const Problem& p, Index batch, ember::Shard shard, bool allreduce, std::uint64_t init_seed = 11,
          std::uint64_t order_seed = 12)
      : p(p), init(init_seed), order(order_seed),
        model(ember::mlp<double>({6, 16, 1}, "tanh", ember::Init::xavier_uniform, init)),
        opt(model.parameters(), {.lr = 0.05, .momentum = 0.9}),
        batches(p.order_only, batch, order, true, shard) {
    if (allreduce) {
      ember::dist::broadcast_parameters(model.named_parameters());
      average = std::make_unique<ember::dist::GradientAllreduce<double>>(model.named_parameters(), 256);
    }
  }
  void train(int steps) {
    ember::Batch64 b;
    for (int step = 0; step < steps; ++step) {
      if (!batches.next(b)) batches.next(b);
      opt.zero_grad();
      ember::mse_loss(model(rows(p.x, b.indices)), rows(p.y, b.indices)).backward();
      if (average) average->finish();
      opt.step();
    }
  }
  std::vector<double> values() const {
    std::vector<double> all;
    for (const auto& t : model.parameters())
      for (double v : t.to_vector()) all.push_back(v);
    return all;
  }
  ember::RandomStreams<double> streams() { return {.iterators = {{"train", &batches}}}; }

  const Problem& p;
  ember::Generator init, order;
  ember::SequentialT<double> model;
  ember::SGD64 opt;
  ember::BatchIterator64 batches;
  std::unique_ptr<ember::dist::GradientAllreduce<double>> average;
};

std::vector<double> train(const Problem& p, Index batch, ember::Shard shard, bool allreduce, int steps) {
  Trainer t(p, batch, shard, allreduce);
  t.train(steps);
  return t.values();
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
  ember::BatchIterator64 shard(p.order_only, 4, order, true, {ember::dist::rank(), 2});
  ember::Batch64 b;
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

TEST_CASE("dist: each rank saves and resumes its own shard's place; the resumed run equals the uninterrupted one") {
  REQUIRE(ember::dist::size() == 2);
  namespace fs = std::filesystem;
  const int r = ember::dist::rank();
  const ember::Shard shard{r, 2};
  const Problem p = problem(96);  // 6 global batches of 16 an epoch: step 9 is mid-epoch
  Trainer reference(p, 8, shard, true);
  reference.train(18);

  // Rank 0 names a directory for both ranks' files.
  const fs::path dir = ember::dist::broadcast(
      (fs::temp_directory_path() / ("ember_mpi_resume_" + std::to_string(::getpid()))).string());
  if (r == 0) fs::create_directories(dir);
  ember::dist::barrier();
  const auto file = [&](int rank) { return (dir / ("rank" + std::to_string(rank) + ".safetensors")).string(); };
  const std::string plain = (dir / ("rank" + std::to_string(r) + "_no_streams.safetensors")).string();
  {
    Trainer first(p, 8, shard, true);
    first.train(9);
    CHECK(first.batches.state_dict().in_epoch);
    ember::save_training_state(file(r), first.model.state_dict(), first.opt, nullptr, {.step = 9}, first.streams());
    ember::save_training_state(plain, first.model.state_dict(), first.opt, nullptr, {.step = 9});
  }
  ember::dist::barrier();  // both files are written

  // Another rank's file holds another shard: refused, naming it, nothing changed.
  Trainer other(p, 8, shard, true, 99, 98);
  const std::vector<double> before = other.values();
  const auto place = other.batches.state_dict();
  CHECK_THROWS_WITH_SUBSTR(ember::load_training_state(file(1 - r), other.model.state_dict(), other.opt, nullptr,
                                                      other.streams()),
                           ember::IoError, "shard");
  CHECK(other.values() == before);
  CHECK(other.batches.state_dict() == place);

  // Its own file: the resumed run goes on exactly as the uninterrupted one.
  Trainer resumed(p, 8, shard, true, 99, 98);  // other seeds: the file must set the order
  CHECK(ember::load_training_state(file(r), resumed.model.state_dict(), resumed.opt, nullptr, resumed.streams())
            .step == 9);
  resumed.train(9);
  CHECK(resumed.values() == reference.values());  // bit-identical, on every rank
  // Without the iterator's state the batches differ, so the check above can fail.
  Trainer order_lost(p, 8, shard, true, 99, 98);
  ember::load_training_state(plain, order_lost.model.state_dict(), order_lost.opt);
  order_lost.train(9);
  CHECK(order_lost.values() != reference.values());
  ember::dist::barrier();
  if (r == 0) fs::remove_all(dir);
}
