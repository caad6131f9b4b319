// load_csv: numeric features plus an integer label column, with every
// malformed field reported by file, line and column.
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "../engine/error.hpp"
#include "dataset.hpp"

namespace ember {

namespace {

std::string read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) fail<IoError>("load_csv: {}: cannot open: {}", path, std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, n);
  if (std::ferror(file.get())) fail<IoError>("load_csv: {}: cannot read: {}", path, std::strerror(errno));
  return text;
}

std::string quote_text(std::string_view s) { return ember::quote_text(s, 40); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Why a field is not a usable number, or nullopt when it is one.
std::optional<std::string> parse_number(std::string_view s, double& out) {
  if (s.empty()) return "empty field";
  std::string_view digits = s;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-' && digits[1] != '+') digits.remove_prefix(1);
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, out, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) return quote_text(s) + " is out of range";
  if (ec != std::errc() || ptr != end) return quote_text(s) + " is not a number";
  if (!std::isfinite(out)) return quote_text(s) + " is not a finite number";
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

// Yields the non-blank lines of a text, split into trimmed fields.
class LineReader {
 public:
  LineReader(std::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {}

  bool next(Line& line) {
    while (pos_ < text_.size()) {
      const std::size_t eol = std::min(text_.find('\n', pos_), text_.size());
      const std::string_view raw = text_.substr(pos_, eol - pos_);
      pos_ = eol + 1;
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
    return false;
  }

 private:
  std::string_view text_;
  char delimiter_;
  std::size_t pos_ = 0;
  Index number_ = 0;
};

// The scikit-learn header `n_samples,n_features,class names...` against a
// first sample: it starts with two counts, a next line follows, and either
// all its further fields are names, or (numeric class names) its field count
// differs from the next line's, which has the n_features + 1 it declares.
bool looks_like_header(const Line& first, const std::optional<Line>& second) {
  Index samples, features;
  if (!second || first.fields.size() < 2 || !parse_count(first.fields[0], samples) ||
      !parse_count(first.fields[1], features))
    return false;
  double value;
  bool all_names = first.fields.size() > 2;
  for (std::size_t i = 2; i < first.fields.size(); ++i) all_names = all_names && parse_number(first.fields[i], value);
  const auto next_fields = static_cast<Index>(second->fields.size());
  return all_names || (next_fields != static_cast<Index>(first.fields.size()) && next_fields == features + 1);
}

}  // namespace

Dataset load_csv(const std::string& path, const CsvOptions& options) {
  const std::string text = read_whole_file(path);
  // Every error below names the place as file:line:column.
  auto fail_at = [&path](Index line, Index column, const std::string& what) {
    fail<IoError>("load_csv: {}:{}:{}: {}", path, line, column, what);
  };

  LineReader reader(text, options.delimiter);
  Line line;
  if (!reader.next(line)) fail<IoError>("load_csv: {}: the file is empty", path);

  // The optional scikit-learn header: n_samples,n_features,class names...
  bool has_header = options.header == CsvHeader::Present;
  std::optional<Line> pending;  // a line read ahead to decide about the header
  if (options.header == CsvHeader::Auto) {
    Line second;
    if (reader.next(second)) pending = second;
    has_header = looks_like_header(line, pending);
  }
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

  std::vector<float> values;
  std::vector<Index> labels;
  values.reserve(text.size() / 4);
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
                fmt::format("header declares {} features, but line {} has {} (plus the label)", declared_features,
                            row.number, columns - 1));
    } else if (found != columns) {
      fail_at(row.number, std::min(found, columns) + 1,
              fmt::format("expected {} fields as on line {}, found {}", columns, first_data_line, found));
    }
    for (Index c = 0; c < columns; ++c) {
      const std::string_view field = row.fields[static_cast<std::size_t>(c)];
      if (field.empty()) fail_at(row.number, c + 1, c == label_column ? "empty label" : "empty field");
      double value;
      if (auto why = parse_number(field, value)) fail_at(row.number, c + 1, c == label_column ? "label " + *why : *why);
      if (c != label_column) {
        if (std::abs(value) > std::numeric_limits<float>::max())
          fail_at(row.number, c + 1, quote_text(field) + " is out of float32 range");
        values.push_back(static_cast<float>(value));
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
                fmt::format("label {} is out of range for the {} classes the header names", label, class_names.size()));
      labels.push_back(label);
      max_label = std::max(max_label, label);
    }
  };

  if (!has_header) parse_row(line);
  if (pending) parse_row(*pending);
  while (reader.next(line)) parse_row(line);

  const auto samples = static_cast<Index>(labels.size());
  if (samples == 0) fail<IoError>("load_csv: {}: no samples after the header", path);
  if (declared_samples >= 0 && declared_samples != samples)
    fail_at(header_line, 1, fmt::format("header declares {} samples, the file has {}", declared_samples, samples));
  if (class_names.empty())
    for (Index c = 0; c <= max_label; ++c) class_names.push_back(std::to_string(c));

  Dataset dataset;
  dataset.features = Tensor::from_data(values, {samples, columns - 1});
  dataset.labels = std::move(labels);
  dataset.class_names = std::move(class_names);
  return dataset;
}

}  // namespace ember
