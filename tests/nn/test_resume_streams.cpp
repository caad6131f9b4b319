// Resumable training with random streams: a model with Dropout fed by a
// shuffling BatchIterator, 10 steps (mid-epoch), save, load into fresh
// objects seeded otherwise, 10 more steps — bit-identical to 20
// uninterrupted steps, and not without the streams; damaged or mismatched
// stream state is a one-line IoError that changes nothing.
#include <ember/ember.hpp>

#include <unistd.h>

#include <filesystem>
#include <memory>

#include "../temp_dir.hpp"
#include "../test_helpers.hpp"

using namespace ember;
namespace fs = std::filesystem;

using ember_test::TempDir;

namespace {


// 30 samples of 4 features in 3 classes, the same for every run.
Dataset make_data(Index n = 30) {
  Generator gen(2024);
  Dataset d;
  d.features = Tensor::randn({n, 4}, gen);
  for (Index i = 0; i < n; ++i) d.labels.push_back(i % 3);
  d.class_names = {"a", "b", "c"};
  return d;
}

// A run: the model (Dropout inside), its optimizer, the shuffled batches and
// the generator they shuffle with. Seeds: model init, dropout, data order.
struct Run {
  std::unique_ptr<Generator> data_gen;
  Sequential model;
  std::unique_ptr<SGD> opt;
  std::unique_ptr<BatchIterator> batches;

  Run(std::uint64_t model_seed, std::uint64_t dropout_seed, std::uint64_t data_seed, Index batch_size = 8,
      Index n = 30)
      : data_gen(std::make_unique<Generator>(data_seed)) {
    Generator gen(model_seed);
    model.add(Linear(4, 16, gen)).add(Activation("tanh")).add(Dropout(0.4, dropout_seed)).add(Linear(16, 3, gen));
    opt = std::make_unique<SGD>(model.parameters(), SGDOptions{.lr = 0.1, .momentum = 0.9});
    batches = std::make_unique<BatchIterator>(make_data(n), batch_size, *data_gen);
  }
  RandomStreams<float> streams() {
    return {.generators = model.named_generators(), .iterators = {{"train", batches.get()}}};
  }

  void train(int steps) {
    Batch batch;
    for (int s = 0; s < steps; ++s) {
      if (!batches->next(batch)) batches->next(batch);  // an epoch ended: start the next
      auto loss = cross_entropy(model(batch.features), std::span<const Index>(batch.labels));
      opt->zero_grad();
      loss.backward();
      opt->step();
    }
  }
  std::vector<std::vector<float>> values() const {
    std::vector<std::vector<float>> out;
    for (const auto& p : model.parameters()) out.push_back(p.to_vector());
    return out;
  }
  // Everything a load could change, for "nothing changed" checks.
  std::string dump() const {
    std::string out;
    for (const auto& v : values())
      for (float x : v) out += fmt::format("{} ", x);
    for (const auto& [name, g] : model.named_generators()) out += format_generator_state(g->state());
    const BatchIteratorState s = batches->state_dict();
    out += fmt::format(" {} {} {}", s.in_epoch, s.position, format_generator_state(s.generator));
    out += format_generator_state(s.epoch_generator) + format_generator_state(data_gen->state());
    const auto o = opt->state_dict();
    for (const auto& [k, v] : o.scalars) out += fmt::format(" {}={}", k, v);
    for (const auto& [n, t] : o.tensors)
      for (float x : t.to_vector()) out += fmt::format(" {}:{}", n, x);
    return out;
  }
};

// A copy of `from` with its metadata edited by `edit`.
template <class Edit>
void rewrite(const std::string& from, const std::string& to, Edit edit) {
  CheckpointMetadata meta;
  const auto tensors = load_safetensors_bytes(from, &meta);
  edit(meta);
  std::vector<SafetensorsBlob> blobs;
  for (const auto& t : tensors) blobs.push_back({t.name, t.dtype, t.shape, t.bytes});
  save_safetensors_bytes(to, blobs, meta);
}

}  // namespace

TEST_CASE("resume streams: Dropout and a shuffling BatchIterator, mid-epoch, bit-identical to an uninterrupted run") {
  Run reference(1, 7, 3);
  reference.train(20);

  TempDir dir;
  const std::string path = dir.file("run.safetensors");
  const std::string no_streams = dir.file("no_streams.safetensors");
  const std::string dropout_only = dir.file("dropout_only.safetensors");
  const std::string data_only = dir.file("data_only.safetensors");
  {
    Run first(1, 7, 3);
    first.train(10);  // 4 batches an epoch: the third epoch, two batches in
    CHECK(first.batches->state_dict().in_epoch);
    CHECK(first.batches->state_dict().position == 16);
    save_training_state(path, first.model.state_dict(), *first.opt, nullptr, {.step = 10}, first.streams());
    save_training_state(no_streams, first.model.state_dict(), *first.opt, nullptr, {.step = 10});
    save_training_state(dropout_only, first.model.state_dict(), *first.opt, nullptr, {.step = 10},
                        {.generators = first.model.named_generators()});
    save_training_state(data_only, first.model.state_dict(), *first.opt, nullptr, {.step = 10},
                        {.iterators = {{"train", first.batches.get()}}});
  }
  CheckpointMetadata meta;
  inspect_safetensors(path, &meta);
  CHECK(meta.count("rng.2.generator"));
  CHECK(meta.at("data.train.position") == "16");
  CHECK(meta.at("data.train.in_epoch") == "1");

  Run resumed(99, 123, 555);  // other seeds everywhere: the file must set them all
  CHECK(load_training_state(path, resumed.model.state_dict(), *resumed.opt, nullptr, resumed.streams()).step == 10);
  resumed.train(10);
  CHECK(resumed.values() == reference.values());  // bit-identical
  CHECK(resumed.dump() == reference.dump());

  // The test can fail: leaving out either stream, or both, gives other parameters.
  Run plain(99, 123, 555);
  load_training_state(no_streams, plain.model.state_dict(), *plain.opt);
  plain.train(10);
  CHECK(plain.values() != reference.values());
  Run masks(99, 123, 555);
  load_training_state(dropout_only, masks.model.state_dict(), *masks.opt, nullptr,
                      {.generators = masks.model.named_generators()});
  masks.train(10);
  CHECK(masks.values() != reference.values());
  Run data(99, 123, 555);
  load_training_state(data_only, data.model.state_dict(), *data.opt, nullptr,
                      {.iterators = {{"train", data.batches.get()}}});
  data.train(10);
  CHECK(data.values() != reference.values());
}

TEST_CASE("resume streams: missing, unknown, damaged or mismatched stream state is one IoError, nothing changed") {
  TempDir dir;
  const std::string path = dir.file("run.safetensors");
  {
    Run first(1, 7, 3);
    first.train(10);
    save_training_state(path, first.model.state_dict(), *first.opt, nullptr, {.step = 10}, first.streams());
  }
  auto refused = [&](const std::string& file, Run& run, const RandomStreams<float>& streams,
                     const std::string& fragment) {
    run.train(1);  // some state of its own
    const std::string before = run.dump();
    CHECK_THROWS_WITH_SUBSTR(load_training_state(file, run.model.state_dict(), *run.opt, nullptr, streams), IoError,
                             "load_training_state: " + file + ": " + fragment);
    CHECK(run.dump() == before);
  };

  Run run(99, 123, 555);
  refused(path, run, {}, "the file holds the random stream \"2.generator\"; pass that generator to load it into");
  refused(path, run, {.generators = run.model.named_generators()},
          "the file holds the iterator \"train\"; pass that iterator to load it into");
  Generator extra(5);
  RandomStreams<float> more = run.streams();
  more.generators.emplace_back("extra", &extra);
  refused(path, run, more, "the file lacks the random stream \"rng.extra\"");
  RandomStreams<float> renamed = run.streams();
  renamed.iterators[0].first = "valid";
  refused(path, run, renamed, "the file lacks the iterator \"data.valid\"");

  // Other settings of the data: a dataset of 29 samples, batches of 6.
  Run smaller(99, 123, 555, 8, 29);
  refused(path, smaller, smaller.streams(),
          "iterator \"train\": BatchIterator.load_state_dict: the dataset size is 30 in the state, 29 in this iterator");
  Run wider(99, 123, 555, 6);
  refused(path, wider, wider.streams(),
          "iterator \"train\": BatchIterator.load_state_dict: batch_size is 8 in the state, 6 in this iterator");

  // Damaged metadata.
  auto damaged = [&](const std::string& key, const char* value, const std::string& fragment) {
    const std::string file = dir.file("damaged.safetensors");
    rewrite(path, file, [&](CheckpointMetadata& m) {
      if (value) m[key] = value;
      else m.erase(key);
    });
    Run fresh(99, 123, 555);
    refused(file, fresh, fresh.streams(), fragment);
  };
  damaged("rng.2.generator", "xoshiro256** 0",
          "metadata \"rng.2.generator\" = \"xoshiro256** 0\" is not a generator state");
  damaged("rng.2.generator",
          "xoshiro256** 0000000000000000 0000000000000000 0000000000000000 0000000000000000 spare 0000000000000000 0",
          "metadata \"rng.2.generator\" = ");
  damaged("data.train.rng", nullptr, "the metadata lacks \"data.train.rng\"");
  damaged("data.train.epoch_rng", "x", "metadata \"data.train.epoch_rng\" = \"x\" is not a generator state");
  damaged("data.train.position", "-3", "metadata \"data.train.position\" = \"-3\" is not a non-negative integer");
  damaged("data.train.position", "5",
          "iterator \"train\": BatchIterator.load_state_dict: position 5 is not a batch boundary of 30 samples in "
          "batches of 8");
  damaged("data.train.shuffle", "yes", "metadata \"data.train.shuffle\" = \"yes\" is not 0 or 1");
  damaged("data.train.shard", "0", "metadata \"data.train.shard\" = \"0\" is not \"rank/size\"");
  damaged("data.train.colour", "red", "unexpected metadata key \"data.train.colour\"");
  damaged("data.train", "1", "unexpected metadata key \"data.train\"");

  // Names passed twice are the caller's mistake: a ValueError, also nothing changed.
  Run twice(99, 123, 555);
  RandomStreams<float> doubled = twice.streams();
  doubled.iterators.push_back(doubled.iterators[0]);
  const std::string before = twice.dump();
  CHECK_THROWS_WITH_SUBSTR(load_training_state(path, twice.model.state_dict(), *twice.opt, nullptr, doubled),
                           ValueError, "load_training_state: " + path + ": the iterators list \"train\" twice");
  CHECK(twice.dump() == before);
}
