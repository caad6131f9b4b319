// Checkpoint interop for a CNN with batch norm: ember trains
//   Conv2d(1,8,3,p1)-BatchNorm2d(8)-ReLU-MaxPool2d(2)-Conv2d(8,16,3,p1,groups 2)-ReLU-
//   AdaptiveAvgPool2d(1)-Flatten-Linear(16,10)
// a few steps on the 8x8 digits (so the running statistics move), switches to
// eval, saves it with save_module and writes a fixed batch's images and eval
// logits to a second safetensors file. tests/io/interop_cnn.py reads both with
// the numpy recipe of docs/checkpoints.md, runs the forward pass in plain
// numpy and must match the logits to 1e-5 (it prints the max difference).
//
// The files stay in <build>/tests/interop_cnn/ so the script can be rerun:
//   python3 tests/io/interop_cnn.py build/release/tests/interop_cnn
#include <ember/ember.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;
namespace fs = std::filesystem;

namespace {

Sequential make_cnn(Generator& gen) {
  return Sequential{Conv2d(1, 8, 3, gen, {.padding = 1}),
                    BatchNorm2d(8),
                    Activation("relu"),
                    MaxPool2d(2),
                    Conv2d(8, 16, 3, gen, {.padding = 1, .groups = 2}),
                    Activation("relu"),
                    AdaptiveAvgPool2d(1),
                    Flatten(),
                    Linear(16, 10, gen)};
}

// [N, 64] pixels in 0..16 -> [N, 1, 8, 8] in 0..1, as examples/digits_cnn.
Tensor images(const Tensor& features) { return reshape(features * (1.0f / 16.0f), {-1, 1, 8, 8}); }

// Runs `command`, returns its exit status and puts its output in `output`.
int run(const std::string& command, std::string& output) {
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  return ::pclose(pipe);
}

}  // namespace

TEST_CASE("checkpoint interop: numpy reads a trained CNN with BatchNorm2d and its forward pass matches ember's eval logits") {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not installed (Debian: python3-numpy)");
    return;
  }
  const Dataset all = load_csv(std::string(EMBER_SOURCE_DIR) + "/examples/data/digits.csv");
  REQUIRE(all.size() >= 1000);

  Generator gen(13);
  Sequential model = make_cnn(gen);
  // Train mode: 8 Adam steps of 32 images from the first 256, so the batch
  // norm's running mean and variance (and its weight and bias) leave 0 and 1.
  std::vector<Index> first(256);
  for (Index i = 0; i < 256; ++i) first[static_cast<std::size_t>(i)] = i;
  Dataset train{index_select(all.features, first), {all.labels.begin(), all.labels.begin() + 256}, all.class_names};
  Adam opt(model.parameters(), {.lr = 1e-2});
  BatchIterator batches(train, 32, gen);
  Batch batch;
  int steps = 0;
  while (batches.next(batch)) {
    auto loss = cross_entropy(model(images(batch.features)), batch.labels);
    opt.zero_grad();
    loss.backward();
    opt.step();
    ++steps;
  }
  REQUIRE(steps == 8);

  // The buffers are in the state_dict under torch.nn's names and have moved.
  const auto state = model.state_dict();
  std::vector<std::string> names;
  for (const auto& [name, tensor] : state) names.push_back(name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                          "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias",
                                          "8.weight", "8.bias"});
  auto& bn = dynamic_cast<BatchNorm2d&>(model[1]);
  CHECK(bn.num_batches_tracked.item() == 8.0f);
  const auto var = bn.running_var.to_vector();
  const auto mean = bn.running_mean.to_vector();
  bool var_moved = false, mean_moved = false;
  for (std::size_t c = 0; c < var.size(); ++c) {
    var_moved = var_moved || std::abs(var[c] - 1.0f) > 0.05f;
    mean_moved = mean_moved || std::abs(mean[c]) > 0.05f;
  }
  CHECK(var_moved);
  CHECK(mean_moved);

  // Eval: a fixed batch of 16 images that were not trained on.
  model.eval();
  std::vector<Index> rows;
  for (Index i = 1000; i < 1016; ++i) rows.push_back(i);
  const Tensor x = images(index_select(all.features, rows));
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = model(x);
  }
  REQUIRE(logits.shape() == Shape{16, 10});

  const fs::path dir = fs::current_path() / "interop_cnn";
  fs::create_directories(dir);
  save_module((dir / "model.safetensors").string(), model, {{"steps", std::to_string(steps)}});
  save_safetensors((dir / "batch.safetensors").string(), NamedTensors<float>{{"input", x}, {"logits", logits}});

  std::string output;
  const int status = run("/usr/bin/python3 '" + std::string(EMBER_SOURCE_DIR) + "/tests/io/interop_cnn.py' '" +
                             dir.string() + "'",
                         output);
  MESSAGE(output);
  CHECK(status == 0);
  CHECK(output.find("numpy forward matches ember") != std::string::npos);
}
