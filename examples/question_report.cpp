#include "question_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace ember::examples {

Spread Spread::of(const std::vector<double>& values) {
  std::vector<double> v;
  Spread s;
  for (double x : values) {
    if (std::isnan(x)) ++s.missing;
    else v.push_back(x);
  }
  s.count = static_cast<int>(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  const std::size_t h = v.size() / 2;
  s.median = v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
  return s;
}

nlohmann::json Spread::json() const {
  nlohmann::json j;
  j["count"] = count;
  j["missing"] = missing;
  if (count) {
    j["min"] = min;
    j["median"] = median;
    j["max"] = max;
  } else {
    j["min"] = j["median"] = j["max"] = nullptr;
  }
  return j;
}

std::string Spread::text(std::string (*format)(double)) const {
  if (empty()) return "-";
  const std::string lo = format(min), hi = format(max);
  return lo == hi ? lo : lo + "–" + hi;
}

std::string fmt_sci(double v) { return v == 0 ? "0" : fmt::format("{:.1e}", v); }
std::string fmt_percent(double v) { return fmt::format("{:.1f}%", 100 * v); }
std::string fmt_2(double v) { return fmt::format("{:.2f}", v); }
std::string fmt_int(double v) { return fmt::format("{:.0f}", v); }

std::string MarkdownTable::text() const {
  auto line = [](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (const auto& c : cells) s += " " + c + " |";
    return s + "\n";
  };
  std::string s = line(header_);
  s += "|";
  for (std::size_t i = 0; i < header_.size(); ++i) s += i == 0 ? "---|" : "--:|";
  s += "\n";
  for (const auto& r : rows_) s += line(r);
  return s;
}

void MarkdownTable::write(const fs::path& path) const {
  std::ofstream f(path);
  if (!f) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  f << text();
}

namespace {
void scrub(nlohmann::json& j) {
  if (j.is_number_float() && !std::isfinite(j.get<double>())) j = nullptr;
  else if (j.is_structured())
    for (auto& item : j) scrub(item);
}
}  // namespace

void write_summary(const fs::path& path, const nlohmann::json& summary) {
  nlohmann::json j = summary;
  scrub(j);
  std::ofstream f(path);
  if (!f) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  f << j.dump(2) << "\n";
}

int default_jobs() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace ember::examples
