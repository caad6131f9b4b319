// Classification metrics: predicted classes from logits, accuracy, and a
// confusion matrix that prints as a table.
#pragma once

#include <Eigen/Core>

#include <span>
#include <string>
#include <vector>

#include "../engine/tensor.hpp"

namespace ember {

// The class each row of logits predicts:
//   [N, C] with C >= 2: the argmax of the row (the first one on ties);
//   [N, 1]: a binary classifier's single logit, class 1 when it is > 0.
// A row holding a NaN predicts no class: -1, which matches no label.
template <class T>
std::vector<Index> predict_classes(const TensorT<T>& logits);

// The fraction of samples whose predicted class equals the label, in [0, 1].
// Throws ShapeError when the counts differ, ValueError when there are no
// samples or a label is negative.
template <class T>
double accuracy(const TensorT<T>& logits, std::span<const Index> labels);
double accuracy(std::span<const Index> predictions, std::span<const Index> labels);

using IndexMatrix = Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// counts()(true class, predicted class) = number of samples. Samples without
// a prediction (NaN logits) are counted apart, in unpredicted().
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(Index num_classes);

  // Adds one sample; prediction -1 means "no prediction". Throws ValueError
  // for a label or prediction outside the classes.
  void add(Index label, Index prediction);

  Index num_classes() const { return counts_.rows(); }
  const IndexMatrix& counts() const { return counts_; }
  Index at(Index label, Index prediction) const { return counts_(label, prediction); }
  Index unpredicted() const { return unpredicted_; }
  Index total() const { return counts_.sum() + unpredicted_; }
  double accuracy() const;  // the diagonal over total()

  // A table with a row per true class and a column per predicted class,
  // headed by the class names (or 0, 1, ... when none are given).
  std::string str(std::span<const std::string> class_names = {}) const;

 private:
  IndexMatrix counts_;
  Index unpredicted_ = 0;
};

// From logits as in predict_classes: C classes for [N, C], 2 for [N, 1].
template <class T>
ConfusionMatrix confusion_matrix(const TensorT<T>& logits, std::span<const Index> labels);
ConfusionMatrix confusion_matrix(std::span<const Index> predictions, std::span<const Index> labels, Index num_classes);

}  // namespace ember
