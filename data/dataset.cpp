// Splitting, standardization and mini-batches (load_csv is in csv.cpp).
#include "dataset.hpp"

#include <cmath>
#include <cstring>
#include <numeric>

#include "../engine/error.hpp"

namespace ember {

namespace {

template <class T>
void check_dataset(const DatasetT<T>& d, const char* op) {
  if (!d.features.defined() || d.features.rank() != 2)
    fail<ShapeError>("{}: dataset features must be [N, F], got {}", op,
                     d.features.defined() ? d.features.shape().str() : "an undefined tensor");
  if (d.features.size(0) != d.size())
    fail<ShapeError>("{}: dataset has {} feature rows but {} labels", op, d.features.size(0), d.size());
}

template <class T>
void check_features(const TensorT<T>& features, const char* op) {
  if (!features.defined() || features.rank() != 2)
    fail<ShapeError>("{}: features must be [N, F], got {}", op,
                     features.defined() ? features.shape().str() : "an undefined tensor");
}

}  // namespace

std::vector<Index> randperm(Index n, Generator& generator) {
  if (n < 0) fail<ValueError>("randperm: n must be non-negative, got {}", n);
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  for (Index i = n - 1; i > 0; --i)
    std::swap(order[static_cast<std::size_t>(i)], order[generator.below(static_cast<std::uint64_t>(i) + 1)]);
  return order;
}

template <class T>
TensorT<T> gather_rows(const TensorT<T>& features, std::span<const Index> indices) {
  check_features(features, "gather_rows");
  const Index rows = features.size(0), cols = features.size(1);
  TensorT<T> out = TensorT<T>::empty({static_cast<Index>(indices.size()), cols});
  const T* src = features.data();
  T* dst = out.data();
  for (const Index i : indices) {
    if (i < 0 || i >= rows) fail<ValueError>("gather_rows: index {} is out of range for {} rows", i, rows);
    std::memcpy(dst, src + i * cols, static_cast<std::size_t>(cols) * sizeof(T));
    dst += cols;
  }
  return out;
}

template <class T>
DatasetT<T> subset(const DatasetT<T>& dataset, std::span<const Index> indices) {
  check_dataset(dataset, "subset");
  DatasetT<T> out;
  out.features = gather_rows(dataset.features, indices);  // checks every index
  out.labels.reserve(indices.size());
  for (const Index i : indices) out.labels.push_back(dataset.labels[static_cast<std::size_t>(i)]);
  out.class_names = dataset.class_names;
  return out;
}

template <class T>
TensorT<T> labels_to_tensor(std::span<const Index> labels) {
  TensorT<T> out = TensorT<T>::empty({static_cast<Index>(labels.size()), 1});
  for (std::size_t i = 0; i < labels.size(); ++i) out.data()[i] = static_cast<T>(labels[i]);
  return out;
}

template <class T>
SplitT<T> train_test_split(const DatasetT<T>& dataset, double test_fraction, Generator& generator) {
  check_dataset(dataset, "train_test_split");
  if (!(test_fraction >= 0.0 && test_fraction <= 1.0))
    fail<ValueError>("train_test_split: test_fraction must be in [0, 1], got {}", test_fraction);
  const std::vector<Index> order = randperm(dataset.size(), generator);
  const auto n_test = static_cast<std::ptrdiff_t>(std::llround(test_fraction * static_cast<double>(dataset.size())));
  const std::span<const Index> all(order);
  return {subset(dataset, all.subspan(static_cast<std::size_t>(n_test))),
          subset(dataset, all.first(static_cast<std::size_t>(n_test)))};
}

// --- Standardizer -----------------------------------------------------------

template <class T>
void StandardizerT<T>::fit(const TensorT<T>& features) {
  check_features(features, "Standardizer::fit");
  if (features.size(0) == 0) fail<ValueError>("Standardizer::fit: no samples to fit on ({})", features.shape().str());
  const Eigen::MatrixXd x = features.matrix().template cast<double>();
  const Eigen::RowVectorXd mean = x.colwise().mean();
  // Two passes: the mean first, then the squared deviations from it.
  const Eigen::RowVectorXd var = (x.rowwise() - mean).array().square().colwise().mean();
  const Eigen::RowVectorXd low = x.colwise().minCoeff(), high = x.colwise().maxCoeff();
  const auto f = static_cast<std::size_t>(x.cols());
  mean_.resize(f);
  scale_.resize(f);
  for (std::size_t j = 0; j < f; ++j) {
    const auto c = static_cast<Eigen::Index>(j);
    // A constant column's computed mean can be off by an ulp and its
    // variance tiny but non-zero; dividing by that would blow rounding noise
    // up to order 1, so such a column maps to exactly 0 instead.
    const bool constant = low(c) == high(c);
    mean_[j] = constant ? low(c) : mean(c);
    scale_[j] = constant ? 1.0 : std::sqrt(var(c));
  }
}

template <class T>
TensorT<T> StandardizerT<T>::transform(const TensorT<T>& features) const {
  check_features(features, "Standardizer::transform");
  if (!fitted()) fail<ValueError>("Standardizer::transform: call fit first");
  const auto f = static_cast<Index>(mean_.size());
  if (features.size(1) != f)
    fail<ShapeError>("Standardizer::transform: features {} have {} columns, the standardizer was fitted on {}",
                     features.shape().str(), features.size(1), f);
  const Eigen::Map<const Eigen::RowVectorXd> mean(mean_.data(), f), scale(scale_.data(), f);
  TensorT<T> out = TensorT<T>::empty(features.shape());
  out.matrix() = ((features.matrix().template cast<double>().rowwise() - mean).array().rowwise() / scale.array())
                     .template cast<T>()
                     .matrix();
  return out;
}

template <class T>
TensorT<T> StandardizerT<T>::fit_transform(const TensorT<T>& features) {
  fit(features);
  return transform(features);
}

// --- BatchIterator ----------------------------------------------------------

template <class T>
BatchIteratorT<T>::BatchIteratorT(DatasetT<T> dataset, Index batch_size, Generator& generator, bool shuffle,
                                  Shard shard)
    : dataset_(std::move(dataset)), batch_size_(batch_size), generator_(&generator), shuffle_(shuffle), shard_(shard) {
  check_dataset(dataset_, "BatchIterator");
  if (batch_size <= 0) fail<ValueError>("BatchIterator: batch_size must be positive, got {}", batch_size);
  if (shard.size < 1 || shard.rank < 0 || shard.rank >= shard.size)
    fail<ValueError>("BatchIterator: shard rank {} of size {} is not a rank in 0..size-1", shard.rank, shard.size);
}

template <class T>
bool BatchIteratorT<T>::next(BatchT<T>& batch) {
  if (!in_epoch_) {
    epoch_generator_ = generator_->state();
    if (shuffle_) {
      order_ = randperm(dataset_.size(), *generator_);
    } else {
      order_.resize(static_cast<std::size_t>(dataset_.size()));
      std::iota(order_.begin(), order_.end(), Index{0});
    }
    position_ = 0;
    in_epoch_ = true;
  }
  if (position_ >= dataset_.size()) {
    in_epoch_ = false;
    return false;
  }
  // This rank's share of the global batch (all of it without sharding).
  const Index global = std::min(batch_size_ * shard_.size, dataset_.size() - position_);
  const Index begin = global * shard_.rank / shard_.size, end = global * (shard_.rank + 1) / shard_.size;
  const std::span<const Index> indices(order_.data() + position_ + begin, static_cast<std::size_t>(end - begin));
  position_ += global;
  batch.features = gather_rows(dataset_.features, indices);
  batch.indices.assign(indices.begin(), indices.end());
  batch.labels.resize(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i)
    batch.labels[i] = dataset_.labels[static_cast<std::size_t>(indices[i])];
  return true;
}

template <class T>
BatchIteratorState BatchIteratorT<T>::state_dict() const {
  const GeneratorState now = generator_->state();
  return {.dataset_size = dataset_.size(),
          .batch_size = batch_size_,
          .shuffle = shuffle_,
          .shard = shard_,
          .in_epoch = in_epoch_,
          .position = in_epoch_ ? position_ : 0,
          .epoch_generator = in_epoch_ ? epoch_generator_ : now,
          .generator = now};
}

template <class T>
void BatchIteratorT<T>::check_state_dict(const BatchIteratorState& s) const {
  auto differs = [](const char* what, auto saved, auto mine) {
    fail<ValueError>("BatchIterator.load_state_dict: {} is {} in the state, {} in this iterator", what, saved, mine);
  };
  if (s.dataset_size != dataset_.size()) differs("the dataset size", s.dataset_size, dataset_.size());
  if (s.batch_size != batch_size_) differs("batch_size", s.batch_size, batch_size_);
  if (s.shuffle != shuffle_) differs("shuffle", s.shuffle, shuffle_);
  if (s.shard.rank != shard_.rank || s.shard.size != shard_.size)
    differs("the shard (rank/size)", fmt::format("{}/{}", s.shard.rank, s.shard.size),
            fmt::format("{}/{}", shard_.rank, shard_.size));
  // next() hands out whole global batches, the last one possibly short.
  const Index global = batch_size_ * shard_.size;
  if (s.in_epoch && (s.position < 0 || s.position > dataset_.size() ||
                     (s.position % global != 0 && s.position != dataset_.size())))
    fail<ValueError>(
        "BatchIterator.load_state_dict: position {} is not a batch boundary of {} samples in batches of {}",
        s.position, dataset_.size(), global);
  for (const GeneratorState* g : {&s.epoch_generator, &s.generator})
    if ((g->words[0] | g->words[1] | g->words[2] | g->words[3]) == 0)
      fail<ValueError>("BatchIterator.load_state_dict: a generator state has all four words 0");
}

template <class T>
void BatchIteratorT<T>::load_state_dict(const BatchIteratorState& s) {
  check_state_dict(s);
  std::vector<Index> order;
  if (s.in_epoch && shuffle_) {
    Generator replay;
    replay.set_state(s.epoch_generator);
    order = randperm(dataset_.size(), replay);  // the draw next() made at the epoch's start
  } else if (s.in_epoch) {
    order.resize(static_cast<std::size_t>(dataset_.size()));
    std::iota(order.begin(), order.end(), Index{0});
  }
  generator_->set_state(s.generator);
  order_ = std::move(order);
  in_epoch_ = s.in_epoch;
  position_ = s.in_epoch ? s.position : 0;
  epoch_generator_ = s.epoch_generator;
}

#define EMBER_INSTANTIATE(T)                                                                 \
  template TensorT<T> gather_rows(const TensorT<T>&, std::span<const Index>);               \
  template DatasetT<T> subset(const DatasetT<T>&, std::span<const Index>);                  \
  template TensorT<T> labels_to_tensor(std::span<const Index>);                             \
  template SplitT<T> train_test_split(const DatasetT<T>&, double, Generator&);              \
  template class StandardizerT<T>;                                                          \
  template class BatchIteratorT<T>;
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
