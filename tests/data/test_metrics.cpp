// Metrics: predicted classes, accuracy, the confusion matrix.
#include <ember/ember.hpp>

#include <cmath>
#include <limits>

#include "../test_helpers.hpp"

using namespace ember;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A binary classifier's logits: one column.
Tensor64 column(std::vector<double> values) {
  return Tensor64::from_data(values, {static_cast<Index>(values.size()), 1});
}
}  // namespace

TEST_CASE("predict_classes: argmax for N x C logits, the first maximum on ties, -1 for a NaN row") {
  const auto logits = Tensor::from({{0.1f, 2.0f, -1.0f}, {5.0f, 5.0f, 1.0f}, {-3.0f, -2.0f, -1.0f}, {1.0f, NAN, 0.0f}});
  CHECK(predict_classes(logits) == std::vector<Index>{1, 0, 2, -1});
  CHECK(predict_classes(Tensor64::from({{-kInf, kInf}})) == std::vector<Index>{1});
}

TEST_CASE("predict_classes: a single logit per row is class 1 exactly when it is > 0") {
  const auto logits = column({0.0, 1e-300, -1e-300, kInf, -kInf, kNaN, 3.0});
  CHECK(predict_classes(logits) == std::vector<Index>{0, 1, 0, 1, 0, -1, 1});
}

TEST_CASE("accuracy: the fraction of correct predictions") {
  const auto logits = Tensor::from({{0.1f, 2.0f}, {3.0f, 1.0f}, {0.0f, 1.0f}, {1.0f, 0.0f}});
  CHECK(accuracy(logits, std::vector<Index>{1, 0, 1, 1}) == 0.75);
  CHECK(accuracy(logits, std::vector<Index>{0, 1, 0, 1}) == 0.0);
  const auto binary = column({2.0, -1.0, 0.5, kNaN, -0.5});
  CHECK(accuracy(binary, std::vector<Index>{1, 0, 0, 0, 0}) == 0.6);  // the NaN row counts as wrong
  CHECK(accuracy(std::vector<Index>{2, 1, 0}, std::vector<Index>{2, 1, 1}) == doctest::Approx(2.0 / 3.0));
}

TEST_CASE("accuracy: errors name the shapes and values") {
  const auto logits = Tensor::zeros({3, 2});
  CHECK_THROWS_WITH_SUBSTR(accuracy(logits, std::vector<Index>{0, 1}), ShapeError,
                           "accuracy: logits [3x2] have 3 rows but there are 2 labels");
  CHECK_THROWS_WITH_SUBSTR(accuracy(Tensor::zeros({3}), std::vector<Index>{0, 1, 0}), ShapeError,
                           "accuracy: logits must be [N, C] or [N, 1], got [3]");
  CHECK_THROWS_WITH_SUBSTR(accuracy(Tensor::zeros({0, 2}), std::vector<Index>{}), ValueError, "accuracy: no samples");
  CHECK_THROWS_WITH_SUBSTR(accuracy(logits, std::vector<Index>{0, -1, 0}), ValueError,
                           "accuracy: label -1 at index 1 is negative");
  CHECK_THROWS_WITH_SUBSTR(accuracy(std::vector<Index>{0}, std::vector<Index>{0, 1}), ShapeError,
                           "accuracy: 1 predictions but 2 labels");
  CHECK_THROWS_WITH_SUBSTR(predict_classes(Tensor::zeros({2, 0})), ShapeError, "predict_classes: logits must be");
}

TEST_CASE("confusion_matrix: counts by true and predicted class") {
  const std::vector<Index> labels{0, 0, 1, 1, 2, 2, 2};
  const std::vector<Index> predicted{0, 1, 1, 1, 2, 0, -1};
  const ConfusionMatrix m = confusion_matrix(predicted, labels, 3);
  IndexMatrix expected(3, 3);
  expected << 1, 1, 0,  //
      0, 2, 0,          //
      1, 0, 1;
  CHECK(m.counts() == expected);
  CHECK(m.at(2, 0) == 1);
  CHECK(m.unpredicted() == 1);
  CHECK(m.total() == 7);
  CHECK(m.accuracy() == doctest::Approx(accuracy(predicted, labels)));
  CHECK(m.str(std::vector<std::string>{"cat", "dog", "bird"}) ==
        "true\\pred   cat   dog  bird\n"
        "cat           1     1     0\n"
        "dog           0     2     0\n"
        "bird          1     0     1\n"
        "(1 samples without a prediction: NaN logits)");
  CHECK(confusion_matrix(std::vector<Index>{1}, std::vector<Index>{0}, 2).str() ==
        "true\\pred  0  1\n"
        "0          0  1\n"
        "1          0  0");
}

TEST_CASE("confusion_matrix: from logits, multi-class and binary") {
  const auto logits = Tensor::from({{0.1f, 2.0f, 0.0f}, {3.0f, 1.0f, 0.0f}, {0.0f, 1.0f, 4.0f}});
  const ConfusionMatrix m = confusion_matrix(logits, std::vector<Index>{1, 1, 2});
  CHECK(m.num_classes() == 3);
  CHECK(m.at(1, 1) == 1);
  CHECK(m.at(1, 0) == 1);
  CHECK(m.at(2, 2) == 1);
  CHECK(m.total() == 3);

  const ConfusionMatrix b = confusion_matrix(column({2.0, -1.0, 0.5, -0.5}), std::vector<Index>{1, 1, 0, 0});
  IndexMatrix expected(2, 2);
  expected << 1, 1,  //
      1, 1;
  CHECK(b.counts() == expected);
  CHECK(b.accuracy() == 0.5);
}

TEST_CASE("confusion_matrix: errors") {
  CHECK_THROWS_WITH_SUBSTR(confusion_matrix(std::vector<Index>{0, 1}, std::vector<Index>{0, 3}, 3), ValueError,
                           "confusion_matrix: label 3 at index 1 is out of range for 3 classes");
  CHECK_THROWS_WITH_SUBSTR(confusion_matrix(std::vector<Index>{0, -2}, std::vector<Index>{0, 1}, 3), ValueError,
                           "confusion_matrix: prediction -2 at index 1 is out of range for 3 classes");
  CHECK_THROWS_WITH_SUBSTR(confusion_matrix(std::vector<Index>{0}, std::vector<Index>{0, 1}, 3), ShapeError,
                           "confusion_matrix: 1 predictions but 2 labels");
  CHECK_THROWS_WITH_SUBSTR(confusion_matrix(Tensor::zeros({2, 3}), std::vector<Index>{0}), ShapeError,
                           "confusion_matrix: logits [2x3] have 2 rows but there are 1 labels");
  CHECK_THROWS_WITH_SUBSTR(ConfusionMatrix(0), ValueError, "ConfusionMatrix: num_classes must be positive, got 0");
  ConfusionMatrix m(2);
  CHECK_THROWS_WITH_SUBSTR(m.add(2, 0), ValueError, "ConfusionMatrix::add: label 2 is out of range for 2 classes");
  CHECK_THROWS_WITH_SUBSTR(m.str(std::vector<std::string>{"a"}), ValueError,
                           "ConfusionMatrix::str: 1 class names for 2 classes");
}
