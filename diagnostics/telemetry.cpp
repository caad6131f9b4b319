#include "telemetry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "../engine/error.hpp"

namespace ember::diag {

std::uint32_t Telemetry::intern(Names& ids, std::vector<std::string>& names, std::string_view s) {
  if (auto it = ids.find(s); it != ids.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(names.size());
  ids.emplace(std::string(s), id);
  names.emplace_back(s);
  return id;
}

void Telemetry::add(std::int64_t step, std::string_view layer, std::string_view metric, double value) {
  if (keep_steps_ > 0 && (steps_.empty() || steps_.back() != step)) {
    steps_.push_back(step);
    if (steps_.size() > keep_steps_) {  // forget the oldest step's rows
      const std::int64_t oldest = steps_.front();
      steps_.pop_front();
      while (!rows_.empty() && rows_.front().step == oldest) rows_.pop_front();
    }
  }
  rows_.push_back({step, intern(layer_ids_, layers_, layer), intern(metric_ids_, metrics_, metric), value});
}

void Telemetry::clear() { *this = Telemetry(keep_steps_); }

Telemetry::Row Telemetry::row(std::size_t i) const {
  const Stored& r = rows_.at(i);
  return {r.step, layers_[r.layer], metrics_[r.metric], r.value};
}

std::optional<double> Telemetry::value(std::int64_t step, std::string_view layer, std::string_view metric) const {
  const auto l = layer_ids_.find(layer);
  const auto m = metric_ids_.find(metric);
  if (l == layer_ids_.end() || m == metric_ids_.end()) return std::nullopt;
  for (auto it = rows_.rbegin(); it != rows_.rend(); ++it)
    if (it->step == step && it->layer == l->second && it->metric == m->second) return it->value;
  return std::nullopt;
}

std::vector<std::pair<std::int64_t, double>> Telemetry::series(std::string_view layer, std::string_view metric) const {
  std::vector<std::pair<std::int64_t, double>> out;
  const auto l = layer_ids_.find(layer);
  const auto m = metric_ids_.find(metric);
  if (l == layer_ids_.end() || m == metric_ids_.end()) return out;
  for (const auto& r : rows_)
    if (r.layer == l->second && r.metric == m->second) out.emplace_back(r.step, r.value);
  return out;
}

std::optional<std::int64_t> Telemetry::last_step() const {
  if (rows_.empty()) return std::nullopt;
  return rows_.back().step;
}

namespace {

// RFC 4180 quoting, only when needed.
void append_field(std::string& out, std::string_view s) {
  if (s.find_first_of(",\"\n\r") == std::string_view::npos) {
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

std::string Telemetry::csv() const {
  std::string out = "step,layer,metric,value\n";
  out.reserve(out.size() + rows_.size() * 40);
  for (const auto& r : rows_) {
    fmt::format_to(std::back_inserter(out), "{},", r.step);
    append_field(out, layers_[r.layer]);
    out += ',';
    append_field(out, metrics_[r.metric]);
    fmt::format_to(std::back_inserter(out), ",{}\n", r.value);
  }
  return out;
}

void Telemetry::write_csv(const std::string& path) const { write_text(path, csv()); }

void write_text(const std::string& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) fail<IoError>("write: cannot open '{}' for writing: {}", path, std::strerror(errno));
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) fail<IoError>("write: writing '{}' failed", path);
}

std::string Telemetry::table(std::int64_t step) const {
  // Layers in order of first appearance this step, each with its metrics in
  // logging order (a metric logged twice keeps its last value).
  struct Line {
    std::uint32_t layer;
    std::vector<std::uint32_t> metrics;
    std::vector<double> values;
  };
  std::vector<Line> lines;
  for (const auto& r : rows_) {
    if (r.step != step) continue;
    auto it = std::find_if(lines.begin(), lines.end(), [&](const Line& l) { return l.layer == r.layer; });
    if (it == lines.end()) it = lines.insert(lines.end(), Line{r.layer, {}, {}});
    auto m = std::find(it->metrics.begin(), it->metrics.end(), r.metric);
    if (m == it->metrics.end()) {
      it->metrics.push_back(r.metric);
      it->values.push_back(r.value);
    } else {
      it->values[static_cast<std::size_t>(m - it->metrics.begin())] = r.value;
    }
  }
  if (lines.empty()) return "";

  std::string out = fmt::format("step {}\n", step);
  std::vector<bool> done(lines.size(), false);
  for (std::size_t g = 0; g < lines.size(); ++g) {
    if (done[g]) continue;
    std::vector<const Line*> group;  // every layer with exactly these metrics
    for (std::size_t i = g; i < lines.size(); ++i)
      if (!done[i] && lines[i].metrics == lines[g].metrics) {
        group.push_back(&lines[i]);
        done[i] = true;
      }
    const auto& metrics = lines[g].metrics;
    std::vector<std::vector<std::string>> cells(group.size());
    std::vector<std::size_t> width(metrics.size() + 1, 0);
    width[0] = std::string_view("layer").size();
    for (std::size_t c = 0; c < metrics.size(); ++c) width[c + 1] = metrics_[metrics[c]].size();
    for (std::size_t i = 0; i < group.size(); ++i) {
      cells[i].push_back(layers_[group[i]->layer]);
      for (double v : group[i]->values) cells[i].push_back(fmt::format("{:.3g}", v));
      for (std::size_t c = 0; c < cells[i].size(); ++c) width[c] = std::max(width[c], cells[i][c].size());
    }
    fmt::format_to(std::back_inserter(out), "{:<{}}", "layer", width[0]);
    for (std::size_t c = 0; c < metrics.size(); ++c)
      fmt::format_to(std::back_inserter(out), "  {:>{}}", metrics_[metrics[c]], width[c + 1]);
    out += '\n';
    for (const auto& row : cells) {
      fmt::format_to(std::back_inserter(out), "{:<{}}", row[0], width[0]);
      for (std::size_t c = 1; c < row.size(); ++c) fmt::format_to(std::back_inserter(out), "  {:>{}}", row[c], width[c]);
      out += '\n';
    }
  }
  return out;
}

std::string Telemetry::table() const {
  const auto s = last_step();
  return s ? table(*s) : std::string();
}

}  // namespace ember::diag
