// Data sets for classification: a numeric CSV loader, a seeded train/test
// split, standardization fitted on the training split, and a shuffling
// mini-batch iterator. Inputs need no gradient, so everything here works on
// plain values and records nothing in the graph.
//
// Everything is a template on the scalar type, as tensors are, with float
// names (Dataset, Standardizer, BatchIterator, ...) and double ones
// (Dataset64, Standardizer64, BatchIterator64, ...): a float64 pipeline is
//   Dataset64 data = load_csv<double>(path);
// and then the same calls as in float, with no casts.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "../engine/random.hpp"
#include "../engine/tensor.hpp"

namespace ember {

// N samples of F numeric features, each with a class label.
template <class T = float>
struct DatasetT {
  TensorT<T> features;                   // [N, F]
  std::vector<Index> labels;             // N class indices in [0, num_classes())
  std::vector<std::string> class_names;  // from the file's header, else "0", "1", ...

  Index size() const { return static_cast<Index>(labels.size()); }
  Index num_features() const { return features.defined() ? features.size(1) : 0; }
  Index num_classes() const { return static_cast<Index>(class_names.size()); }
};

// Whether a CSV file starts with a scikit-learn style header line
// `n_samples,n_features,class_name_0,class_name_1,...`.
enum class CsvHeader {
  Auto,     // a header when another line follows, the first two fields are
            // non-negative integers, and either all further fields are
            // non-numeric (class names) or the field count differs from the
            // next line's while that one has the n_features + 1 declared
  Present,  // the first line is such a header
  Absent,   // every line is a sample
};

struct CsvOptions {
  int label_column = -1;  // 0-based; negative counts from the back (-1: the last column)
  CsvHeader header = CsvHeader::Auto;
  char delimiter = ',';
  // A nonzero feature value too small for float32 (|x| < 7e-46, such as
  // 1e-50; for load_csv<double>, too small for a double) is an IoError
  // naming line, column and value; with this set it reads as 0 (signed).
  // Subnormal values (down to 1.4e-45 in float32) are kept.
  bool allow_underflow = false;
};

// Loads numeric features plus an integer label column. Blank lines are
// skipped, "\r\n" line ends accepted, fields may carry surrounding spaces.
// A header's declared sample and feature counts are checked, and its class
// names bound the labels. Without a header there are max(label) + 1 classes
// named "0", "1", ... Labels are non-negative integers ("2" or "2.0") up to
// kMaxLabel. Anything malformed throws IoError with a one-line message that
// names the file, line and column:
//   load_csv: iris.csv:12:3: "abc" is not a number
// A leading UTF-8 byte-order mark is skipped. The file is read in pieces
// and the values kept in blocks: the peak memory is about 1.1x the loaded
// data (tests/soak/soak_csv.cpp measures it). load_csv<double> keeps every
// value as the double the text denotes (load_csv rounds it to float32, and
// a value beyond float32's range is an error).
template <class T = float>
DatasetT<T> load_csv(const std::string& path, const CsvOptions& options = {});
inline constexpr Index kMaxLabel = 99'999;

// A random permutation of 0 .. n-1 (Fisher-Yates), reproducible from the seed.
std::vector<Index> randperm(Index n, Generator& generator);

// The rows `indices` of a [N, F] tensor, copied (a plain row gather, no graph).
template <class T>
TensorT<T> gather_rows(const TensorT<T>& features, std::span<const Index> indices);
// The samples `indices` of a dataset, in that order; class names are kept.
template <class T>
DatasetT<T> subset(const DatasetT<T>& dataset, std::span<const Index> indices);

// Labels as a [N, 1] column of 0, 1, ... (targets for BCE or MSE);
// labels_to_tensor<double> for a float64 model.
template <class T = float>
TensorT<T> labels_to_tensor(std::span<const Index> labels);

// A seeded shuffle split: round(test_fraction * N) samples go to the test
// set, the rest to the training set; no sample is in both.
template <class T = float>
struct SplitT {
  DatasetT<T> train;
  DatasetT<T> test;
};
template <class T>
SplitT<T> train_test_split(const DatasetT<T>& dataset, double test_fraction, Generator& generator);

// Per-feature standardization, (x - mean) / std, with the population std
// (as scikit-learn's StandardScaler). Fit it on the training split only and
// apply the same statistics to the test split. A constant feature (all
// values equal) keeps scale 1, so it becomes exactly 0 rather than 0/0.
// The statistics are computed in double for either T.
template <class T = float>
class StandardizerT {
 public:
  void fit(const TensorT<T>& features);                    // features: [N, F], N >= 1
  TensorT<T> transform(const TensorT<T>& features) const;  // a new [M, F] tensor
  TensorT<T> fit_transform(const TensorT<T>& features);

  bool fitted() const { return !mean_.empty(); }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& scale() const { return scale_; }  // the std, or 1 for a constant feature

 private:
  std::vector<double> mean_, scale_;
};

// One mini-batch: the features and labels of the samples `indices`.
template <class T = float>
struct BatchT {
  TensorT<T> features;         // [B, F]
  std::vector<Index> labels;   // B labels
  std::vector<Index> indices;  // the samples' rows in the dataset
};

// Walks a dataset in mini-batches, one epoch at a time:
//   BatchIterator batches(train, 32, gen);
//   Batch batch;
//   for (int epoch = 0; epoch < epochs; ++epoch)
//     while (batches.next(batch)) { ... }
// Each epoch draws a fresh order from `generator` (when shuffling) and
// visits every sample exactly once; the last batch may be smaller. The
// iterator keeps a handle on the dataset's values and a reference to the
// generator, which must outlive it.
//
// Data-parallel training: with `shard` = {rank, size} every rank draws the
// same order (give each rank a generator with the same seed), epochs advance
// in global batches of size * batch_size, and each rank takes its own
// consecutive share of each global batch: rank r gets elements
// [r m / size, (r + 1) m / size) of a global batch of m samples. The shards
// are disjoint and cover every sample, and the ranks' batches together are
// exactly the batches of an unsharded iterator with batch size
// size * batch_size (only the epoch's last global batch can split unevenly).
struct Shard {
  int rank = 0;
  int size = 1;
  bool operator==(const Shard&) const = default;
};

// Where a BatchIterator stands, for checkpoints (io/training_state.hpp):
// enough to rebuild the epoch's order exactly, so a resumed run sees the
// batches an uninterrupted one would, also mid-epoch. The order itself is
// not kept: it is drawn again from the generator's state before the epoch.
struct BatchIteratorState {
  Index dataset_size = 0;  // the iterator's settings: a state loads only into
  Index batch_size = 0;    // an iterator built with the same ones
  bool shuffle = true;
  Shard shard;
  bool in_epoch = false;           // the epoch's order is drawn and being walked
  Index position = 0;              // samples of that order handed out, by all ranks
  GeneratorState epoch_generator;  // the generator before that order was drawn
  GeneratorState generator;        // the generator now
  bool operator==(const BatchIteratorState&) const = default;
};

template <class T = float>
class BatchIteratorT {
 public:
  BatchIteratorT(DatasetT<T> dataset, Index batch_size, Generator& generator, bool shuffle = true, Shard shard = {});

  // Fills `batch` with the next batch of the epoch and returns true; at the
  // end of the epoch returns false, and the call after that starts a new one.
  bool next(BatchT<T>& batch);

  Index batch_size() const { return batch_size_; }
  Index num_batches() const {  // per epoch
    const Index global = batch_size_ * shard_.size;
    return (dataset_.size() + global - 1) / global;
  }

  // The iterator's place (with its generator's state), and putting it back.
  // check_state_dict throws a ValueError naming the first misfit (other
  // settings, a position no run reaches); load_state_dict checks first and
  // changes nothing on a misfit. Loading sets the generator, which other
  // users of the same generator then see too.
  BatchIteratorState state_dict() const;
  void check_state_dict(const BatchIteratorState& state) const;
  void load_state_dict(const BatchIteratorState& state);

 private:
  DatasetT<T> dataset_;
  Index batch_size_;
  Generator* generator_;
  bool shuffle_;
  Shard shard_;
  std::vector<Index> order_;
  Index position_ = 0;
  bool in_epoch_ = false;
  GeneratorState epoch_generator_;  // the generator before order_ was drawn
};

using Dataset = DatasetT<float>;
using Dataset64 = DatasetT<double>;
using Split = SplitT<float>;
using Split64 = SplitT<double>;
using Standardizer = StandardizerT<float>;
using Standardizer64 = StandardizerT<double>;
using Batch = BatchT<float>;
using Batch64 = BatchT<double>;
using BatchIterator = BatchIteratorT<float>;
using BatchIterator64 = BatchIteratorT<double>;

extern template class StandardizerT<float>;
extern template class StandardizerT<double>;
extern template class BatchIteratorT<float>;
extern template class BatchIteratorT<double>;

}  // namespace ember
