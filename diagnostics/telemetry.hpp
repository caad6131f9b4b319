// Telemetry: a tidy log of (step, layer, metric, value) rows, written as CSV
// that plotting tools read without reshaping, or printed as a compact table.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ember::diag {

// Rows are kept in memory, 24 bytes each (plus each distinct name once).
// By default every row is kept; Telemetry(N) keeps only the rows of the last
// N steps logged (a ring of steps: logging a new step beyond N drops the
// oldest step's rows from the front; steps are expected in logging order), so memory stays bounded in a long run.
class Telemetry {
 public:
  explicit Telemetry(std::size_t keep_steps = 0) : keep_steps_(keep_steps) {}
  std::size_t keep_steps() const { return keep_steps_; }  // 0: all

  struct Row {
    std::int64_t step;
    std::string_view layer;   // valid until the next add()
    std::string_view metric;
    double value;
  };

  void add(std::int64_t step, std::string_view layer, std::string_view metric, double value);
  void clear();

  std::size_t size() const { return rows_.size(); }
  Row row(std::size_t i) const;
  // The last value logged for (step, layer, metric), if any.
  std::optional<double> value(std::int64_t step, std::string_view layer, std::string_view metric) const;
  // (step, value) pairs of one layer's metric, in logging order.
  std::vector<std::pair<std::int64_t, double>> series(std::string_view layer, std::string_view metric) const;
  std::optional<std::int64_t> last_step() const;

  // Header `step,layer,metric,value`, then one row per value. Values print in
  // the shortest form that reads back exactly; NaN as `nan`.
  std::string csv() const;
  void write_csv(const std::string& path) const;  // IoError on failure

  // The rows of one step as aligned tables: one line per layer, one column per
  // metric; layers that log the same metrics share a table.
  std::string table(std::int64_t step) const;
  std::string table() const;  // the last step; "" when empty

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Names = std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>>;
  static std::uint32_t intern(Names& ids, std::vector<std::string>& names, std::string_view s);

  struct Stored {
    std::int64_t step;
    std::uint32_t layer, metric;
    double value;
  };
  std::deque<Stored> rows_;           // grows in blocks: no doubling copies
  std::deque<std::int64_t> steps_;    // the distinct steps in rows_, in logging order (bounded mode)
  std::size_t keep_steps_ = 0;
  Names layer_ids_, metric_ids_;
  std::vector<std::string> layers_, metrics_;  // id -> name
};

// Writes `text` to `path`; IoError naming the path on failure.
void write_text(const std::string& path, std::string_view text);

}  // namespace ember::diag
