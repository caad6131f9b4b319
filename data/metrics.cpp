#include "metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "../engine/error.hpp"

namespace ember {

namespace {

template <class T>
void check_logits(const TensorT<T>& logits, std::size_t labels, const char* op) {
  if (logits.rank() != 2 || logits.size(1) == 0)
    fail<ShapeError>("{}: logits must be [N, C] or [N, 1], got {}", op, logits.shape().str());
  if (logits.size(0) != static_cast<Index>(labels))
    fail<ShapeError>("{}: logits {} have {} rows but there are {} labels", op, logits.shape().str(), logits.size(0),
                     labels);
}

}  // namespace

template <class T>
std::vector<Index> predict_classes(const TensorT<T>& logits) {
  if (logits.rank() != 2 || logits.size(1) == 0)
    fail<ShapeError>("predict_classes: logits must be [N, C] or [N, 1], got {}", logits.shape().str());
  const Index rows = logits.size(0), cols = logits.size(1);
  std::vector<Index> out(static_cast<std::size_t>(rows));
  for (Index r = 0; r < rows; ++r) {
    const T* row = logits.data() + r * cols;
    Index best = 0;
    bool nan = std::isnan(row[0]);
    for (Index c = 1; c < cols; ++c) {
      nan = nan || std::isnan(row[c]);
      if (row[c] > row[best]) best = c;
    }
    // A binary classifier's single logit z gives P(class 1) = sigmoid(z) > 1/2 exactly when z > 0.
    if (cols == 1) best = row[0] > T(0) ? 1 : 0;
    out[static_cast<std::size_t>(r)] = nan ? -1 : best;
  }
  return out;
}

double accuracy(std::span<const Index> predictions, std::span<const Index> labels) {
  if (predictions.size() != labels.size())
    fail<ShapeError>("accuracy: {} predictions but {} labels", predictions.size(), labels.size());
  if (labels.empty()) fail<ValueError>("accuracy: no samples");
  Index correct = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) fail<ValueError>("accuracy: label {} at index {} is negative", labels[i], i);
    correct += predictions[i] == labels[i];
  }
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

template <class T>
double accuracy(const TensorT<T>& logits, std::span<const Index> labels) {
  check_logits(logits, labels.size(), "accuracy");
  return accuracy(predict_classes(logits), labels);
}

// --- ConfusionMatrix ----------------------------------------------------------

ConfusionMatrix::ConfusionMatrix(Index num_classes) {
  if (num_classes <= 0) fail<ValueError>("ConfusionMatrix: num_classes must be positive, got {}", num_classes);
  counts_ = IndexMatrix::Zero(num_classes, num_classes);
}

void ConfusionMatrix::add(Index label, Index prediction) {
  const Index c = num_classes();
  if (label < 0 || label >= c)
    fail<ValueError>("ConfusionMatrix::add: label {} is out of range for {} classes", label, c);
  if (prediction < -1 || prediction >= c)
    fail<ValueError>("ConfusionMatrix::add: prediction {} is out of range for {} classes", prediction, c);
  if (prediction < 0)
    ++unpredicted_;
  else
    ++counts_(label, prediction);
}

double ConfusionMatrix::accuracy() const {
  const Index n = total();
  return n == 0 ? 0.0 : static_cast<double>(counts_.trace()) / static_cast<double>(n);
}

std::string ConfusionMatrix::str(std::span<const std::string> class_names) const {
  const Index c = num_classes();
  if (!class_names.empty() && static_cast<Index>(class_names.size()) != c)
    fail<ValueError>("ConfusionMatrix::str: {} class names for {} classes", class_names.size(), c);
  std::vector<std::string> names;
  for (Index i = 0; i < c; ++i)
    names.push_back(class_names.empty() ? std::to_string(i) : class_names[static_cast<std::size_t>(i)]);
  const std::string corner = "true\\pred";
  std::size_t label_width = corner.size(), width = 1;
  for (const auto& name : names) {
    label_width = std::max(label_width, name.size());
    width = std::max(width, name.size());
  }
  width = std::max(width, std::to_string(counts_.maxCoeff()).size());
  std::string out = fmt::format("{:<{}}", corner, label_width);
  for (const auto& name : names) out += fmt::format("  {:>{}}", name, width);
  for (Index r = 0; r < c; ++r) {
    out += fmt::format("\n{:<{}}", names[static_cast<std::size_t>(r)], label_width);
    for (Index p = 0; p < c; ++p) out += fmt::format("  {:>{}}", counts_(r, p), width);
  }
  if (unpredicted_ > 0) out += fmt::format("\n({} samples without a prediction: NaN logits)", unpredicted_);
  return out;
}

ConfusionMatrix confusion_matrix(std::span<const Index> predictions, std::span<const Index> labels, Index num_classes) {
  if (predictions.size() != labels.size())
    fail<ShapeError>("confusion_matrix: {} predictions but {} labels", predictions.size(), labels.size());
  ConfusionMatrix matrix(num_classes);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes)
      fail<ValueError>("confusion_matrix: label {} at index {} is out of range for {} classes", labels[i], i,
                       num_classes);
    if (predictions[i] < -1 || predictions[i] >= num_classes)
      fail<ValueError>("confusion_matrix: prediction {} at index {} is out of range for {} classes", predictions[i], i,
                       num_classes);
    matrix.add(labels[i], predictions[i]);
  }
  return matrix;
}

template <class T>
ConfusionMatrix confusion_matrix(const TensorT<T>& logits, std::span<const Index> labels) {
  check_logits(logits, labels.size(), "confusion_matrix");
  return confusion_matrix(predict_classes(logits), labels, logits.size(1) == 1 ? 2 : logits.size(1));
}

#define EMBER_INSTANTIATE(T)                                           \
  template std::vector<Index> predict_classes(const TensorT<T>&);      \
  template double accuracy(const TensorT<T>&, std::span<const Index>); \
  template ConfusionMatrix confusion_matrix(const TensorT<T>&, std::span<const Index>);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
