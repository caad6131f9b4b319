// Data: the shipped CSV files, malformed CSVs (each error by message with
// file:line:column), the seeded split, standardization, mini-batches.
#include <ember/ember.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "../temp_dir.hpp"
#include "../test_helpers.hpp"

using namespace ember;

using ember_test::TempDir;

namespace {

std::string shipped(const std::string& name) { return std::string(EMBER_SOURCE_DIR) + "/examples/data/" + name; }


// Loads `content` as bad.csv and checks the IoError message holds `fragment`.
void check_csv_error(const std::string& content, const std::string& fragment, const CsvOptions& options = {}) {
  TempDir dir;
  const std::string path = dir.write("bad.csv", content);
  INFO("content: ", content);
  CHECK_THROWS_WITH_SUBSTR(load_csv(path, options), IoError, "load_csv: " + path + fragment);
}

// N samples whose only feature is the sample's index, labels i % 3.
Dataset indexed_dataset(Index n) {
  Dataset d;
  d.features = Tensor::empty({n, 1});
  for (Index i = 0; i < n; ++i) {
    d.features.data()[i] = static_cast<float>(i);
    d.labels.push_back(i % 3);
  }
  d.class_names = {"a", "b", "c"};
  return d;
}

std::vector<Index> first_feature(const Dataset& d) {
  std::vector<Index> out;
  for (Index i = 0; i < d.size(); ++i) out.push_back(static_cast<Index>(d.features.matrix()(i, 0)));
  return out;
}

Index count(const std::vector<Index>& v, Index x) { return std::count(v.begin(), v.end(), x); }

}  // namespace

TEST_CASE("load_csv: the shipped data sets have their documented sizes") {
  const Dataset iris = load_csv(shipped("iris.csv"));
  CHECK(iris.features.shape() == Shape{150, 4});
  CHECK(iris.class_names == std::vector<std::string>{"setosa", "versicolor", "virginica"});
  CHECK(count(iris.labels, 0) == 50);
  CHECK(count(iris.labels, 1) == 50);
  CHECK(count(iris.labels, 2) == 50);
  CHECK(iris.features.to_vector()[0] == 5.1f);  // first line: 5.1,3.5,1.4,0.2,0
  CHECK(iris.features.to_vector()[3] == 0.2f);

  const Dataset cancer = load_csv(shipped("breast_cancer.csv"));
  CHECK(cancer.features.shape() == Shape{569, 30});
  CHECK(cancer.class_names == std::vector<std::string>{"malignant", "benign"});
  CHECK(count(cancer.labels, 0) == 212);
  CHECK(count(cancer.labels, 1) == 357);
  CHECK(cancer.features.matrix()(0, 3) == 1001.0f);

  const Dataset digits = load_csv(shipped("digits.csv"));
  CHECK(digits.features.shape() == Shape{1797, 64});
  CHECK(digits.num_classes() == 10);
  CHECK(digits.class_names.front() == "0");
  CHECK(digits.class_names.back() == "9");
  CHECK(digits.features.values().minCoeff() == 0.0f);
  CHECK(digits.features.values().maxCoeff() == 16.0f);
  for (Index c = 0; c < 10; ++c) CHECK(count(digits.labels, c) > 150);
}

TEST_CASE("load_csv: layout details (label column, blank lines, CRLF, spaces, header detection)") {
  TempDir dir;
  SUBCASE("label in the first column") {
    CsvOptions options;
    options.label_column = 0;
    const Dataset d = load_csv(dir.write("a.csv", "0,1.5,2.5\n1,3,4\n"), options);
    CHECK(d.labels == std::vector<Index>{0, 1});
    CHECK(d.features.to_vector() == std::vector<float>{1.5f, 2.5f, 3.0f, 4.0f});
  }
  SUBCASE("blank lines, CRLF, spaces, a leading +, a label written 1.0") {
    const Dataset d = load_csv(dir.write("b.csv", " 1 , +2 ,0\r\n\r\n  \n3,4e0,1.0\r\n\n"));
    CHECK(d.features.to_vector() == std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
    CHECK(d.labels == std::vector<Index>{0, 1});
    CHECK(d.class_names == std::vector<std::string>{"0", "1"});
  }
  SUBCASE("a header with numeric class names is told apart by its field count") {
    const Dataset d = load_csv(dir.write("c.csv", "2,2,0,1\n1,2,0\n3,4,1\n"));
    CHECK(d.size() == 2);
    CHECK(d.class_names == std::vector<std::string>{"0", "1"});
  }
  SUBCASE("a first line of integers with the data's field count is data") {
    const Dataset d = load_csv(dir.write("d.csv", "2,2,1\n3,4,0\n"));
    CHECK(d.size() == 2);
  }
  SUBCASE("CsvHeader::Absent reads every line as a sample, Present forces a header") {
    CsvOptions options;
    options.header = CsvHeader::Present;
    const Dataset d = load_csv(dir.write("e.csv", "1,1\n5,1\n"), options);
    CHECK(d.size() == 1);
    CHECK(d.labels == std::vector<Index>{1});
  }
}

TEST_CASE("load_csv: every malformed file is an IoError naming file:line:column") {
  check_csv_error("1,2,0\n3,abc,1\n", ":2:2: \"abc\" is not a number");
  check_csv_error("1,2,0\n3,1\n", ":2:3: expected 3 fields as on line 1, found 2");
  check_csv_error("1,2,0\n3,1,1,1\n", ":2:4: expected 3 fields as on line 1, found 4");
  check_csv_error("1,2,0.5\n", ":1:3: label \"0.5\" is not an integer");
  check_csv_error("1,2,-1\n", ":1:3: label \"-1\" is negative");
  check_csv_error("1,2,x\n", ":1:3: label \"x\" is not a number");
  check_csv_error("1,2,100000\n", ":1:3: label \"100000\" exceeds the largest supported class index 99999");
  check_csv_error("1,nan,0\n", ":1:2: \"nan\" is not a finite number");
  check_csv_error("1,2,0\n-inf,2,0\n", ":2:1: \"-inf\" is not a finite number");
  check_csv_error("1,2,inf\n", ":1:3: label \"inf\" is not a finite number");
  check_csv_error("1e999,2,0\n", ":1:1: \"1e999\" is out of range");
  check_csv_error("1e39,2,0\n", ":1:1: \"1e39\" is out of float32 range");
  check_csv_error("1,,0\n", ":1:2: empty field");
  check_csv_error("1,2,\n", ":1:3: empty label");
  check_csv_error("1,0x10,0\n", ":1:2: \"0x10\" is not a number");
  check_csv_error("1,2 3,0\n", ":1:2: \"2 3\" is not a number");
  check_csv_error("1,+-2,0\n", ":1:2: \"+-2\" is not a number");
  check_csv_error("1,\x01z\",0\n", ":1:2: \"\\x01z\\\"\" is not a number");  // control bytes escaped
  check_csv_error("1,2,0\n\n\n3,y,1\n", ":4:2: \"y\" is not a number");      // blank lines count
  check_csv_error("1\n2\n", ":1:1: a sample needs at least one feature and a label; found 1 field");
  check_csv_error("3,2,a,b\n1,2,0\n3,4,1\n", ":1:1: header declares 3 samples, the file has 2");
  check_csv_error("2,3,a,b\n1,2,0\n3,4,1\n", ":1:2: header declares 3 features, but line 2 has 2 (plus the label)");
  check_csv_error("2,2,a,b\n1,2,0\n3,4,2\n", ":3:3: label 2 is out of range for the 2 classes the header names");
  check_csv_error("2,2,a,,c\n1,2,0\n", ":1:4: header: empty class name");
  check_csv_error("150,4,setosa,versicolor\n", ":1:3: \"setosa\" is not a number");  // no sample: not a header
  check_csv_error("1,2,0\n1,2,x\n", ":2:3: label \"x\" is not a number");
  check_csv_error("", ": the file is empty");
  check_csv_error(" \n\r\n", ": the file is empty");

  CsvOptions present;
  present.header = CsvHeader::Present;
  check_csv_error("x,2,a\n1,2,0\n", ":1:1: header: n_samples \"x\" is not a non-negative integer", present);
  check_csv_error("1,-2,a\n1,2,0\n", ":1:2: header: n_features \"-2\" is not a non-negative integer", present);
  check_csv_error("7\n1,2,0\n", ":1:1: a header needs n_samples,n_features", present);
  check_csv_error("150,4,setosa,versicolor\n", ": no samples after the header", present);
  CsvOptions absent;
  absent.header = CsvHeader::Absent;
  check_csv_error("2,2,a,b\n1,2,0\n", ":1:3: \"a\" is not a number", absent);
  CsvOptions far_label;
  far_label.label_column = 5;
  check_csv_error("1,2,0\n", ":1:1: label_column 5 is out of range for 3 fields", far_label);

  // Named columns are not the scikit-learn header: the first name is reported.
  check_csv_error("sepal,petal,label\n1,2,0\n", ":1:1: \"sepal\" is not a number");
}

TEST_CASE("load_csv: a UTF-8 byte-order mark is skipped; invisible characters in a field are shown escaped") {
  TempDir dir;
  const Dataset d = load_csv(dir.write("bom.csv", "\xEF\xBB\xBF" "1,2,0\n3,4,1\n"));
  CHECK(d.features.to_vector() == std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
  CHECK(d.labels == std::vector<Index>{0, 1});
  check_csv_error("1,\xEF\xBB\xBF" "2,0\n", ":1:2: \"\\u{FEFF}2\" is not a number");
  check_csv_error("1,2\xC2\xA0,0\n", ":1:2: \"2\\u{00A0}\" is not a number");       // no-break space
  check_csv_error("1,\xE2\x80\x8B" "3,0\n", ":1:2: \"\\u{200B}3\" is not a number");  // zero-width space
  check_csv_error("1,\xFF" "3,0\n", ":1:2: \"\\xff3\" is not a number");              // not UTF-8
  check_csv_error("1,caf\xC3\xA9,0\n", ":1:2: \"caf\xC3\xA9\" is not a number");       // UTF-8 text stays
}

TEST_CASE("quote_text: quotes, escapes invisible bytes and characters, keeps other UTF-8, cuts at the limit") {
  CHECK(quote_text("a\"b\\c", 40) == "\"a\\\"b\\\\c\"");
  CHECK(quote_text("\x01\x7f", 40) == "\"\\x01\\x7f\"");
  CHECK(quote_text("\xEF\xBB\xBFx", 40) == "\"\\u{FEFF}x\"");
  CHECK(quote_text("\xC2\x85", 40) == "\"\\u{0085}\"");                 // a C1 control
  CHECK(quote_text("\xE2\x80\xAE", 40) == "\"\\u{202E}\"");            // right-to-left override
  CHECK(quote_text("\xED\xA0\x80", 40) == "\"\\xed\\xa0\\x80\"");    // a UTF-16 surrogate is not UTF-8
  CHECK(quote_text("\xC3\xA9t\xC3\xA9", 40) == "\"\xC3\xA9t\xC3\xA9\"");
  CHECK(quote_text("abcdef", 3) == "\"abc...\"");
  CHECK(quote_text("ab\xC3\xA9", 3) == "\"ab\\xc3...\"");  // a character cut by the limit shows as bytes
}

TEST_CASE("load_csv: a first line taken for a header says which rule made it one; nan and inf are not names") {
  // 1,2,nan is a sample: nan is a (non-finite) number, not a class name.
  check_csv_error("1,2,nan\n3,4,1\n", ":1:3: label \"nan\" is not a finite number");
  check_csv_error("1,2,inf,0\n3,4,1,1\n", ":1:3: \"inf\" is not a finite number");
  check_csv_error("2,2,a,b\n1,2,0\n3,4,2\n",
                  ":3:3: label 2 is out of range for the 2 classes the header names (line 1 was read as the header "
                  "n_samples,n_features,class names because its first two fields are counts and the others are not "
                  "numbers; pass CsvOptions::header = CsvHeader::Absent to read it as a sample)");
  check_csv_error("2,2,0,1\n1,2,0\n3,4,1\n5,6,0\n",
                  ":1:1: header declares 2 samples, the file has 3 (line 1 was read as the header "
                  "n_samples,n_features,class names because its first two fields are counts and line 2 has "
                  "n_features + 1 = 3 fields; pass CsvOptions::header = CsvHeader::Absent to read it as a sample)");
  check_csv_error("2,3,a,b\n1,2,0\n3,4,1\n",
                  ":1:2: header declares 3 features, but line 2 has 2 (plus the label) (line 1 was read as the header");
  // Forced, the rule is not consulted and not named.
  CsvOptions present;
  present.header = CsvHeader::Present;
  check_csv_error("3,2,a,b\n1,2,0\n3,4,1\n", ":1:1: header declares 3 samples, the file has 2", present);
  TempDir dir;
  CsvOptions absent;
  absent.header = CsvHeader::Absent;
  const Dataset d = load_csv(dir.write("counts.csv", "2,2,1\n1,2,0\n3,4,1\n"), absent);
  CHECK(d.size() == 3);
}

TEST_CASE("load_csv: a value that underflows float32 is an error naming line, column and value, unless allowed") {
  const std::string hint = " underflows float32 to 0; set CsvOptions::allow_underflow to read it as 0";
  check_csv_error("1e-50,2,0\n", ":1:1: \"1e-50\"" + hint);
  check_csv_error("1,2,0\n3,-1e-400,1\n", ":2:2: \"-1e-400\"" + hint);  // below even double's range
  check_csv_error("1,1e999,0\n", ":1:2: \"1e999\" is out of range");
  TempDir dir;
  CsvOptions allow;
  allow.allow_underflow = true;
  const Dataset d = load_csv(dir.write("tiny.csv", "1e-50,-1e-400,1e-40,0\n"), allow);
  const std::vector<float> v = d.features.to_vector();
  CHECK(v[0] == 0.0f);
  CHECK(v[1] == 0.0f);
  CHECK(std::signbit(v[1]));
  CHECK(v[2] == 1e-40f);  // a subnormal float is kept, allowed or not
  CHECK(load_csv(dir.write("sub.csv", "1e-40,0\n")).features.to_vector()[0] == 1e-40f);
}

TEST_CASE("load_csv: lines longer than the 1 MiB read buffer and files of many pieces load whole") {
  TempDir dir;
  std::string wide, rows;
  for (int i = 0; i < 300000; ++i) wide += std::to_string(i % 10) + ",";  // 600 KB per line
  wide += "1\n";
  for (int i = 0; i < 4; ++i) rows += wide;
  for (int i = 0; i < 200000; ++i) rows += std::to_string(i % 7) + "," + std::to_string(i) + ",0\n";
  CHECK_THROWS_WITH_SUBSTR(load_csv(dir.write("mixed.csv", rows)), IoError,
                           ":5:4: expected 300001 fields as on line 1, found 3");
  const Dataset w = load_csv(dir.write("wide.csv", wide + wide + wide));
  CHECK(w.features.shape() == Shape{3, 300000});
  CHECK(w.features.matrix()(2, 299999) == 9.0f);
  std::string many;
  for (int i = 0; i < 200000; ++i) many += std::to_string(i) + ",1\n";
  const Dataset m = load_csv(dir.write("many.csv", many));
  CHECK(m.size() == 200000);
  CHECK(m.features.matrix()(199999, 0) == 199999.0f);
}

TEST_CASE("load_csv: a missing file or a directory is an IoError naming the path") {
  TempDir dir;
  const std::string missing = (dir.path() / "nope.csv").string();
  CHECK_THROWS_WITH_SUBSTR(load_csv(missing), IoError, "load_csv: " + missing + ": cannot open: No such file");
  CHECK_THROWS_WITH_SUBSTR(load_csv(dir.path().string()), IoError, "load_csv: " + dir.path().string() + ": cannot read");
}

TEST_CASE("randperm: a seeded permutation") {
  Generator a(7), b(7), c(8);
  const auto p = randperm(100, a);
  CHECK(p == randperm(100, b));
  CHECK(p != randperm(100, c));
  std::vector<Index> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (Index i = 0; i < 100; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  CHECK(randperm(0, a).empty());
  CHECK_THROWS_WITH_SUBSTR(randperm(-1, a), ValueError, "randperm: n must be non-negative, got -1");
}

TEST_CASE("train_test_split: deterministic, disjoint, covering, sized by the fraction") {
  const Dataset d = indexed_dataset(101);
  Generator g1(42), g2(42), g3(43);
  const Split s1 = train_test_split(d, 0.25, g1), s2 = train_test_split(d, 0.25, g2),
              s3 = train_test_split(d, 0.25, g3);
  CHECK(s1.test.size() == 25);  // round(0.25 * 101)
  CHECK(s1.train.size() == 76);
  CHECK(first_feature(s1.test) == first_feature(s2.test));
  CHECK(first_feature(s1.train) == first_feature(s2.train));
  CHECK(first_feature(s1.test) != first_feature(s3.test));

  std::set<Index> seen;
  for (const auto* part : {&s1.train, &s1.test}) {
    const auto rows = first_feature(*part);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      CHECK(seen.insert(rows[i]).second);     // no sample twice
      CHECK(part->labels[i] == rows[i] % 3);  // labels travel with their rows
    }
    CHECK(part->class_names == d.class_names);
  }
  CHECK(seen.size() == 101);

  Generator g(1);
  CHECK(train_test_split(d, 0.0, g).test.size() == 0);
  CHECK(train_test_split(d, 1.0, g).train.size() == 0);
  CHECK_THROWS_WITH_SUBSTR(train_test_split(d, 1.5, g), ValueError, "test_fraction must be in [0, 1], got 1.5");
  CHECK_THROWS_WITH_SUBSTR(train_test_split(d, std::nan(""), g), ValueError, "test_fraction must be in [0, 1]");
  Dataset broken = d;
  broken.labels.pop_back();
  CHECK_THROWS_WITH_SUBSTR(train_test_split(broken, 0.5, g), ShapeError, "dataset has 101 feature rows but 100 labels");
}

TEST_CASE("subset and gather_rows copy the chosen rows and check indices") {
  const Dataset d = indexed_dataset(5);
  const std::vector<Index> rows{4, 0, 4};
  const Dataset s = subset(d, rows);
  CHECK(first_feature(s) == rows);
  CHECK(s.labels == std::vector<Index>{1, 0, 1});
  CHECK(gather_rows(d.features, std::vector<Index>{}).shape() == Shape{0, 1});
  CHECK_THROWS_WITH_SUBSTR(gather_rows(d.features, std::vector<Index>{5}), ValueError,
                           "gather_rows: index 5 is out of range for 5 rows");
  CHECK_THROWS_WITH_SUBSTR(gather_rows(Tensor::zeros({3}), rows), ShapeError,
                           "gather_rows: features must be [N, F], got [3]");
  CHECK(labels_to_tensor(std::vector<Index>{0, 1, 1}).to_vector() == std::vector<float>{0.0f, 1.0f, 1.0f});
  CHECK(labels_to_tensor(std::vector<Index>{0, 1, 1}).shape() == Shape{3, 1});
}

TEST_CASE("Standardizer: train statistics, applied unchanged to the test split") {
  Standardizer s;
  const Tensor train = Tensor::from({{1.0f, 10.0f, 0.1f}, {3.0f, 10.0f, 0.1f}, {5.0f, 10.0f, 0.1f}});
  const Tensor z = s.fit_transform(train);
  const double std0 = std::sqrt(8.0 / 3.0);  // population std of {1, 3, 5}
  CHECK(s.mean()[0] == doctest::Approx(3.0));
  CHECK(s.scale()[0] == doctest::Approx(std0));
  // Constant columns (10 exactly, and 0.1f whose mean in double is off by
  // rounding) map to exactly 0 with scale 1: no 0/0, no amplified noise.
  CHECK(s.scale()[1] == 1.0);
  CHECK(s.scale()[2] == 1.0);
  for (Index i = 0; i < 3; ++i) {
    CHECK(z.matrix()(i, 1) == 0.0f);
    CHECK(z.matrix()(i, 2) == 0.0f);
  }
  CHECK(z.matrix()(0, 0) == doctest::Approx(-2.0 / std0));

  const Tensor test = s.transform(Tensor::from({{7.0f, 11.0f, 0.0f}}));
  CHECK(test.matrix()(0, 0) == doctest::Approx(4.0 / std0));
  CHECK(test.matrix()(0, 1) == doctest::Approx(1.0));
  CHECK(test.matrix()(0, 2) == doctest::Approx(-0.1));

  Standardizer fresh;
  CHECK_THROWS_WITH_SUBSTR(fresh.transform(train), ValueError, "Standardizer::transform: call fit first");
  CHECK_THROWS_WITH_SUBSTR(s.transform(Tensor::zeros({2, 4})), ShapeError,
                           "Standardizer::transform: features [2x4] have 4 columns, the standardizer was fitted on 3");
  CHECK_THROWS_WITH_SUBSTR(fresh.fit(Tensor::zeros({0, 2})), ValueError,
                           "Standardizer::fit: no samples to fit on ([0x2])");
}

TEST_CASE("Standardizer on breast cancer: train features get mean 0 and std 1") {
  const Dataset d = load_csv(shipped("breast_cancer.csv"));
  Generator g(0);
  Split split = train_test_split(d, 0.2, g);
  Standardizer s;
  split.train.features = s.fit_transform(split.train.features);
  split.test.features = s.transform(split.test.features);
  const Eigen::MatrixXd x = split.train.features.matrix().cast<double>();
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const Eigen::RowVectorXd var = (x.rowwise() - mean).array().square().colwise().mean();
  CHECK(mean.cwiseAbs().maxCoeff() < 1e-5);
  CHECK((var.array() - 1.0).abs().maxCoeff() < 1e-4);
  // The test split uses the train statistics, so its mean is near, not at, 0.
  const Eigen::RowVectorXd test_mean = split.test.features.matrix().cast<double>().colwise().mean();
  CHECK(test_mean.cwiseAbs().maxCoeff() > 1e-3);
  CHECK(test_mean.cwiseAbs().maxCoeff() < 1.0);
}

TEST_CASE("BatchIterator: every sample once per epoch, last batch partial, reshuffled each epoch") {
  const Dataset d = indexed_dataset(10);
  Generator g(3);
  BatchIterator batches(d, 3, g);
  CHECK(batches.num_batches() == 4);
  std::vector<std::vector<Index>> orders;
  for (int epoch = 0; epoch < 3; ++epoch) {
    Batch batch;
    std::vector<Index> order, sizes;
    while (batches.next(batch)) {
      sizes.push_back(static_cast<Index>(batch.indices.size()));
      CHECK(batch.features.shape() == Shape{static_cast<Index>(batch.indices.size()), 1});
      for (std::size_t i = 0; i < batch.indices.size(); ++i) {
        CHECK(batch.features.matrix()(static_cast<Index>(i), 0) == static_cast<float>(batch.indices[i]));
        CHECK(batch.labels[i] == batch.indices[i] % 3);
        order.push_back(batch.indices[i]);
      }
    }
    CHECK(sizes == std::vector<Index>{3, 3, 3, 1});
    std::vector<Index> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<Index>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    orders.push_back(order);
  }
  CHECK(orders[0] != orders[1]);
  CHECK(orders[1] != orders[2]);

  Generator same(3);
  BatchIterator again(d, 3, same);
  Batch batch;
  std::vector<Index> first_epoch;
  while (again.next(batch)) first_epoch.insert(first_epoch.end(), batch.indices.begin(), batch.indices.end());
  CHECK(first_epoch == orders[0]);

  BatchIterator in_order(d, 4, g, /*shuffle=*/false);
  CHECK(in_order.next(batch));
  CHECK(batch.indices == std::vector<Index>{0, 1, 2, 3});

  CHECK_THROWS_WITH_SUBSTR(BatchIterator(d, 0, g), ValueError, "BatchIterator: batch_size must be positive, got 0");
}

namespace {
// The next `n` batches' indices, crossing epoch ends as a training loop does
// (a false from next() ends the epoch, the call after it starts the next).
std::vector<std::vector<Index>> take(BatchIterator& batches, int n) {
  std::vector<std::vector<Index>> out;
  Batch batch;
  while (static_cast<int>(out.size()) < n)
    if (batches.next(batch) || batches.next(batch)) out.push_back(batch.indices);
  return out;
}
}  // namespace

TEST_CASE("BatchIterator: a state saved mid-epoch resumes the same batches in a fresh iterator") {
  const Dataset d = indexed_dataset(10);
  for (const bool shuffle : {true, false}) {
    Generator g(3);
    BatchIterator batches(d, 3, g, shuffle);
    take(batches, 6);  // the second epoch, two batches in
    const BatchIteratorState saved = batches.state_dict();
    CHECK(saved.in_epoch);
    CHECK(saved.position == 6);
    const auto expected = take(batches, 9);

    Generator other(77);
    BatchIterator fresh(d, 3, other, shuffle);
    take(fresh, 1);
    if (shuffle) CHECK(take(fresh, 9) != expected);  // a fresh order: the check below can fail
    fresh.load_state_dict(saved);
    CHECK(fresh.state_dict() == saved);
    CHECK(take(fresh, 9) == expected);
  }
}

TEST_CASE("BatchIterator: a state of other settings or an impossible position is refused, nothing changed") {
  const Dataset d = indexed_dataset(10);
  Generator g(3), h(4);
  BatchIterator batches(d, 3, g);
  take(batches, 2);
  const BatchIteratorState good = batches.state_dict();
  BatchIterator target(d, 3, h);
  take(target, 1);
  const BatchIteratorState before = target.state_dict();
  auto refused = [&](BatchIteratorState s, const std::string& fragment) {
    CHECK_THROWS_WITH_SUBSTR(target.load_state_dict(s), ValueError, "BatchIterator.load_state_dict: " + fragment);
    CHECK(target.state_dict() == before);
  };
  BatchIteratorState s = good;
  s.dataset_size = 11;
  refused(s, "the dataset size is 11 in the state, 10 in this iterator");
  s = good, s.batch_size = 4;
  refused(s, "batch_size is 4 in the state, 3 in this iterator");
  s = good, s.shuffle = false;
  refused(s, "shuffle is false in the state, true in this iterator");
  s = good, s.shard = {1, 2};
  refused(s, "the shard (rank/size) is 1/2 in the state, 0/1 in this iterator");
  s = good, s.position = 5;
  refused(s, "position 5 is not a batch boundary of 10 samples in batches of 3");
  s = good, s.position = 12;
  refused(s, "position 12 is not a batch boundary");
  s = good, s.generator = GeneratorState{};
  refused(s, "a generator state has all four words 0");
  s = good, s.position = 10;  // the epoch's last, short batch handed out: a reachable state
  target.load_state_dict(s);
  CHECK(target.state_dict() == s);
}
