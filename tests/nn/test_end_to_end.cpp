// End to end: an MLP trained with the public API on the shipped real data
// sets reaches at least 95% test accuracy, with a fixed seed.
#include <ember/ember.hpp>

#include <string>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

std::string data_path(const char* name) { return std::string(EMBER_SOURCE_DIR) + "/examples/data/" + name; }

// Mini-batch training; returns the test accuracy.
template <class LossFn>
double train(const char* file, const std::vector<Index>& widths, const char* activation, Init init, int epochs,
             double lr, LossFn loss_fn) {
  Generator gen(2024);
  auto split = train_test_split(load_csv(data_path(file)), 0.25, gen);
  Standardizer scaler;
  split.train.features = scaler.fit_transform(split.train.features);
  split.test.features = scaler.transform(split.test.features);

  auto model = mlp(widths, activation, init, gen);
  SGD opt(model.parameters(), {.lr = lr, .momentum = 0.9});
  BatchIterator batches(split.train, 32, gen);
  Batch batch;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    while (batches.next(batch)) {
      auto loss = loss_fn(model(batch.features), batch.labels);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  NoGradGuard no_grad;
  return accuracy(model(split.test.features), split.test.labels);
}

}  // namespace

TEST_CASE("end to end: an MLP reaches 95% test accuracy on breast cancer") {
  const double acc = train("breast_cancer.csv", {30, 32, 32, 1}, "relu", Init::kaiming, 30, 0.01,
                           [](const Tensor& logits, const std::vector<Index>& labels) {
                             return binary_cross_entropy_with_logits(logits, labels_to_tensor(labels));
                           });
  INFO("test accuracy ", acc);
  CHECK(acc >= 0.95);
}

TEST_CASE("end to end: an MLP reaches 95% test accuracy on digits") {
  const double acc = train("digits.csv", {64, 64, 10}, "relu", Init::kaiming, 30, 0.01,
                           [](const Tensor& logits, const std::vector<Index>& labels) {
                             return cross_entropy(logits, std::span<const Index>(labels));
                           });
  INFO("test accuracy ", acc);
  CHECK(acc >= 0.95);
}
