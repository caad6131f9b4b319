// float64 end to end: load_csv<double>, train_test_split, Standardizer64,
// BatchIterator64 and the metrics feed an mlp<double> with no casts.
#include <ember/ember.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <type_traits>

#include "../test_helpers.hpp"

using namespace ember;

namespace {
std::string iris() { return std::string(EMBER_SOURCE_DIR) + "/examples/data/iris.csv"; }
}  // namespace

TEST_CASE("float64 data: load_csv<double> keeps the decimal's double, float keeps its float") {
  const Dataset64 data = load_csv<double>(iris());
  const Dataset data32 = load_csv(iris());
  static_assert(std::is_same_v<decltype(data.features), Tensor64>);
  REQUIRE(data.size() == 150);
  CHECK(data.num_features() == 4);
  CHECK(data.class_names == data32.class_names);
  CHECK(data.labels == data32.labels);
  // the first row of iris.csv is 5.1,3.5,1.4,0.2,0
  CHECK(data.features.data()[0] == 5.1);
  CHECK(data.features.data()[3] == 0.2);
  CHECK(data32.features.data()[0] == 5.1f);
  CHECK(static_cast<double>(data32.features.data()[0]) != 5.1);  // what the float pipeline loses
}

TEST_CASE("float64 data: a value beyond float32 loads in float64 and fails in float32") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("ember_pipeline64_" + std::to_string(::getpid()) + ".csv")).string();
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fputs("1e300,1e-310,0\n2,3,1\n", f);
    std::fclose(f);
  }
  const Dataset64 data = load_csv<double>(path);
  CHECK(data.features.data()[0] == 1e300);
  CHECK(data.features.data()[1] == 1e-310);  // subnormal, kept
  CHECK_THROWS_WITH_SUBSTR(load_csv(path), IoError, ":1:1: \"1e300\" is out of float32 range");
  std::remove(path.c_str());
}

TEST_CASE("float64 data: split, standardize, batch, train mlp<double> on iris, measure") {
  Generator gen(7);
  Split64 split = train_test_split(load_csv<double>(iris()), 0.3, gen);
  CHECK(split.train.size() == 105);
  CHECK(split.test.size() == 45);
  Standardizer64 scaler;
  split.train.features = scaler.fit_transform(split.train.features);
  split.test.features = scaler.transform(split.test.features);
  // standardized in double: each training column has mean 0 and population variance 1 to double precision
  const auto x = split.train.features.matrix();
  for (Index j = 0; j < 4; ++j) {
    const double mean = x.col(j).mean();
    CHECK(std::abs(mean) < 1e-14);
    CHECK((x.col(j).array() - mean).square().mean() == doctest::Approx(1.0).epsilon(1e-13));
  }

  auto model = mlp<double>({4, 16, 3}, "tanh", Init::xavier, gen);
  Adam64 opt(model.parameters(), {.lr = 0.02});
  BatchIterator64 batches(split.train, 16, gen);
  Batch64 batch;
  double first_loss = 0, last_loss = 0;
  for (int epoch = 0; epoch < 30; ++epoch) {
    double total = 0;
    while (batches.next(batch)) {
      auto loss = cross_entropy(model(batch.features), std::span<const Index>(batch.labels));
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += loss.item() * static_cast<double>(batch.labels.size());
    }
    (epoch == 0 ? first_loss : last_loss) = total / static_cast<double>(split.train.size());
  }
  INFO("mean training loss, first epoch ", first_loss, ", last ", last_loss);
  CHECK(last_loss < 0.5 * first_loss);
  NoGradGuard no_grad;
  const Tensor64 logits = model(split.test.features);
  const double acc = accuracy(logits, split.test.labels);
  INFO("test accuracy ", acc);
  CHECK(acc >= 0.9);
  const ConfusionMatrix cm = confusion_matrix(logits, split.test.labels);
  CHECK(cm.total() == 45);
  CHECK(cm.accuracy() == acc);
  // labels as float64 targets
  const Tensor64 targets = labels_to_tensor<double>(split.test.labels);
  CHECK(targets.shape().str() == "[45x1]");
  CHECK(targets.data()[0] == static_cast<double>(split.test.labels[0]));
}
