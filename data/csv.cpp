// load_csv: numeric features plus an integer label column, with every
// malformed field reported by file, line and column.
#include <cerrno>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "../engine/error.hpp"
#include "dataset.hpp"

namespace ember {

namespace {

std::string quote_text(std::string_view s) { return ember::quote_text(s, 40); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class T>
constexpr const char* kDtypeName = sizeof(T) == 4 ? "float32" : "float64";

template <class T>
std::string underflows() {
  return fmt::format(" underflows {} to 0; set CsvOptions::allow_underflow to read it as 0", kDtypeName<T>);
}

// How a field reads as a number.
enum class Number { ok, not_a_number, not_finite, overflows, underflows };

Number read_number(std::string_view s, double& out) {
  std::string_view digits = s;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-' && digits[1] != '+') digits.remove_prefix(1);
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, out, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {  // too large or too small for a double: strtod tells which
    out = std::strtod(std::string(digits).c_str(), nullptr);
    return std::abs(out) > 1 ? Number::overflows : Number::underflows;
  }
  if (ec != std::errc() || ptr != end || s.empty()) return Number::not_a_number;
  if (!std::isfinite(out)) return Number::not_finite;
  return Number::ok;
}

// Why a field is not a usable number, or nullopt when it is one.
template <class T>
std::optional<std::string> parse_number(std::string_view s, double& out) {
  if (s.empty()) return "empty field";
  switch (read_number(s, out)) {
    case Number::ok: return std::nullopt;
    case Number::not_a_number: return quote_text(s) + " is not a number";
    case Number::not_finite: return quote_text(s) + " is not a finite number";
    case Number::overflows: return quote_text(s) + " is out of range";
    case Number::underflows: return quote_text(s) + underflows<T>();
  }
  return std::nullopt;
}

bool parse_count(std::string_view s, Index& out) {
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return !s.empty() && ec == std::errc() && ptr == end && out >= 0;
}

struct Line {
  Index number = 0;  // 1-based, counting blank lines
  std::vector<std::string_view> fields;
};

// A line kept past the next read (the reader's views into its buffer are not).
struct KeptLine {
  Index number = 0;
  std::vector<std::string> text;
  Line view() const { return {number, {text.begin(), text.end()}}; }
};
KeptLine keep(const Line& line) { return {line.number, {line.fields.begin(), line.fields.end()}}; }

// Yields the non-blank lines of a file, split into trimmed fields, reading
// it in 1 MiB pieces: the file is never held whole. A leading UTF-8
// byte-order mark is skipped. The fields are views into the reader's buffer,
// valid until the next call.
class LineReader {
 public:
  LineReader(const std::string& path, char delimiter)
      : path_(path), file_(std::fopen(path.c_str(), "rb"), &std::fclose), delimiter_(delimiter), buffer_(1 << 20) {
    if (!file_) fail<IoError>("load_csv: {}: cannot open: {}", path, std::strerror(errno));
    fill();
    if (std::string_view(buffer_.data(), end_).starts_with("\xEF\xBB\xBF")) begin_ = 3;
  }

  bool next(Line& line) {
    for (;;) {
      const char* data = buffer_.data();
      const void* found = std::memchr(data + begin_, '\n', end_ - begin_);
      if (!found && !eof_) {  // a line across the end of the buffer: read on
        fill();
        continue;
      }
      if (begin_ == end_ && eof_) return false;
      const std::size_t eol = found ? static_cast<std::size_t>(static_cast<const char*>(found) - data) : end_;
      const std::string_view raw(data + begin_, eol - begin_);
      begin_ = found ? eol + 1 : end_;
      ++number_;
      if (trim(raw).empty()) continue;
      line.number = number_;
      line.fields.clear();
      std::size_t start = 0;
      for (;;) {
        const std::size_t comma = raw.find(delimiter_, start);
        line.fields.push_back(trim(raw.substr(start, comma == std::string_view::npos ? raw.npos : comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      return true;
    }
  }

 private:
  // Moves the unread rest to the front (growing the buffer for a line longer
  // than it) and reads more after it.
  void fill() {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    const std::size_t n = std::fread(buffer_.data() + end_, 1, buffer_.size() - end_, file_.get());
    if (std::ferror(file_.get())) fail<IoError>("load_csv: {}: cannot read: {}", path_, std::strerror(errno));
    end_ += n;
    if (n == 0) eof_ = true;
  }

  const std::string& path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  char delimiter_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  Index number_ = 0;
};

// The scikit-learn header `n_samples,n_features,class names...` against a
// first sample: it starts with two counts, a next line follows, and either
// all its further fields are names (not numbers, nor nan or inf), or
// (numeric class names) its field count differs from the next line's, which
// has the n_features + 1 it declares. Returns the rule that matched, for
// error messages, or "" for a sample.
std::string header_rule(const Line& first, const std::optional<Line>& second) {
  Index samples, features;
  if (!second || first.fields.size() < 2 || !parse_count(first.fields[0], samples) ||
      !parse_count(first.fields[1], features))
    return "";
  double value;
  bool all_names = first.fields.size() > 2;
  for (std::size_t i = 2; i < first.fields.size(); ++i)
    all_names = all_names && read_number(first.fields[i], value) == Number::not_a_number;
  if (all_names) return "its first two fields are counts and the others are not numbers";
  const auto next_fields = static_cast<Index>(second->fields.size());
  if (next_fields != static_cast<Index>(first.fields.size()) && next_fields == features + 1)
    return fmt::format("its first two fields are counts and line {} has n_features + 1 = {} fields", second->number,
                       next_fields);
  return "";
}

// A growing array in 4 MiB blocks: appending never moves what it holds
// (a vector's doubling would briefly hold 3x), and drain() hands each block
// back to the system once copied out (blocks this large are mmapped), so
// the final buffer and the blocks together stay near the data's size.
template <class T>
class Blocks {
 public:
  void push_back(T v) {
    if (used_ == kBlock) {
      blocks_.push_back(std::make_unique_for_overwrite<T[]>(kBlock));
      used_ = 0;
    }
    blocks_.back()[used_++] = v;
    ++size_;
  }
  std::size_t size() const { return size_; }
  void drain(T* out) {
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const std::size_t n = b + 1 == blocks_.size() ? used_ : kBlock;
      out = std::copy(blocks_[b].get(), blocks_[b].get() + n, out);
      blocks_[b].reset();
    }
    *this = Blocks();
  }

 private:
  static constexpr std::size_t kBlock = (std::size_t(4) << 20) / sizeof(T);
  std::vector<std::unique_ptr<T[]>> blocks_;
  std::size_t used_ = kBlock, size_ = 0;
};

}  // namespace

template <class T>
DatasetT<T> load_csv(const std::string& path, const CsvOptions& options) {
  // Every error below names the place as file:line:column.
  auto fail_at = [&path](Index line, Index column, const std::string& what) {
    fail<IoError>("load_csv: {}:{}:{}: {}", path, line, column, what);
  };

  LineReader reader(path, options.delimiter);
  Line line;
  if (!reader.next(line)) fail<IoError>("load_csv: {}: the file is empty", path);
  const KeptLine first = keep(line);

  // The optional scikit-learn header: n_samples,n_features,class names...
  bool has_header = options.header == CsvHeader::Present;
  std::optional<KeptLine> pending;  // a line read ahead to decide about the header
  std::string why_header;           // in Auto mode, appended to errors that the header causes
  if (options.header == CsvHeader::Auto) {
    if (reader.next(line)) pending = keep(line);
    const std::string rule = header_rule(first.view(), pending ? std::optional<Line>(pending->view()) : std::nullopt);
    has_header = !rule.empty();
    if (has_header)
      why_header = fmt::format(" (line {} was read as the header n_samples,n_features,class names because {}; pass "
                               "CsvOptions::header = CsvHeader::Absent to read it as a sample)",
                               first.number, rule);
  }
  line = first.view();
  Index declared_samples = -1, declared_features = -1;
  Index header_line = 0;
  std::vector<std::string> class_names;
  if (has_header) {
    header_line = line.number;
    if (line.fields.size() < 2)
      fail_at(line.number, 1, "a header needs n_samples,n_features[,class names...]; found 1 field");
    if (!parse_count(line.fields[0], declared_samples))
      fail_at(line.number, 1,
              fmt::format("header: n_samples {} is not a non-negative integer", quote_text(line.fields[0])));
    if (!parse_count(line.fields[1], declared_features))
      fail_at(line.number, 2,
              fmt::format("header: n_features {} is not a non-negative integer", quote_text(line.fields[1])));
    for (std::size_t i = 2; i < line.fields.size(); ++i) {
      if (line.fields[i].empty()) fail_at(line.number, static_cast<Index>(i + 1), "header: empty class name");
      class_names.emplace_back(line.fields[i]);
    }
  }

  // Rows go into blocks, drained into the final buffers at the end.
  Blocks<T> values;
  Blocks<Index> labels;
  Index columns = 0, label_column = 0, first_data_line = 0, max_label = -1;
  auto parse_row = [&](const Line& row) {
    const auto found = static_cast<Index>(row.fields.size());
    if (columns == 0) {  // the first sample fixes the layout
      if (found < 2) fail_at(row.number, 1, "a sample needs at least one feature and a label; found 1 field");
      columns = found;
      first_data_line = row.number;
      label_column = options.label_column < 0 ? columns + options.label_column : options.label_column;
      if (label_column < 0 || label_column >= columns)
        fail_at(row.number, 1,
                fmt::format("label_column {} is out of range for {} fields", options.label_column, columns));
      if (declared_features >= 0 && declared_features != columns - 1)
        fail_at(header_line, 2,
                fmt::format("header declares {} features, but line {} has {} (plus the label){}", declared_features,
                            row.number, columns - 1, why_header));
    } else if (found != columns) {
      fail_at(row.number, std::min(found, columns) + 1,
              fmt::format("expected {} fields as on line {}, found {}", columns, first_data_line, found));
    }
    for (Index c = 0; c < columns; ++c) {
      const std::string_view field = row.fields[static_cast<std::size_t>(c)];
      if (field.empty()) fail_at(row.number, c + 1, c == label_column ? "empty label" : "empty field");
      double value;
      const bool tiny =
          c != label_column && options.allow_underflow && read_number(field, value) == Number::underflows;
      if (tiny) value = std::copysign(0.0, value);
      else if (auto why = parse_number<T>(field, value)) fail_at(row.number, c + 1, c == label_column ? "label " + *why : *why);
      if (c != label_column) {
        if (std::abs(value) > static_cast<double>(std::numeric_limits<T>::max()))
          fail_at(row.number, c + 1, quote_text(field) + " is out of " + kDtypeName<T> + " range");
        const auto stored = static_cast<T>(value);
        if (stored == 0 && value != 0 && !options.allow_underflow)
          fail_at(row.number, c + 1,
                  quote_text(field) + underflows<T>());
        values.push_back(stored);
        continue;
      }
      if (value != std::floor(value)) fail_at(row.number, c + 1, "label " + quote_text(field) + " is not an integer");
      if (value < 0) fail_at(row.number, c + 1, "label " + quote_text(field) + " is negative");
      if (value > static_cast<double>(kMaxLabel))
        fail_at(row.number, c + 1,
                fmt::format("label {} exceeds the largest supported class index {}", quote_text(field), kMaxLabel));
      const auto label = static_cast<Index>(value);
      if (!class_names.empty() && label >= static_cast<Index>(class_names.size()))
        fail_at(row.number, c + 1,
                fmt::format("label {} is out of range for the {} classes the header names{}", label,
                            class_names.size(), why_header));
      labels.push_back(label);
      max_label = std::max(max_label, label);
    }
  };

  if (!has_header) parse_row(line);
  if (pending) parse_row(pending->view());
  while (reader.next(line)) parse_row(line);

  const auto samples = static_cast<Index>(labels.size());
  if (samples == 0) fail<IoError>("load_csv: {}: no samples after the header", path);
  if (declared_samples >= 0 && declared_samples != samples)
    fail_at(header_line, 1,
            fmt::format("header declares {} samples, the file has {}{}", declared_samples, samples, why_header));
  if (class_names.empty())
    for (Index c = 0; c <= max_label; ++c) class_names.push_back(std::to_string(c));

  DatasetT<T> dataset;
  dataset.features = TensorT<T>::empty({samples, columns - 1});
  values.drain(dataset.features.data());
  dataset.labels.resize(labels.size());
  labels.drain(dataset.labels.data());
  dataset.class_names = std::move(class_names);
  return dataset;
}

template DatasetT<float> load_csv(const std::string&, const CsvOptions&);
template DatasetT<double> load_csv(const std::string&, const CsvOptions&);

}  // namespace ember
