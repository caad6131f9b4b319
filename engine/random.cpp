#include "random.hpp"

#include "error.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace ember {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Generator::Generator(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t Generator::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Generator::uniform(double low, double high) {
  // low + (high - low) * u can round up to `high` itself; keep [low, high).
  const double v = low + (high - low) * uniform();
  return v >= high && high > low ? std::nextafter(high, low) : v;
}

double Generator::normal(double mean, double stddev) {
  if (has_spare_) {
    has_spare_ = false;
    return mean + stddev * spare_normal_;
  }
  // Box-Muller; 1 - u keeps the log argument in (0, 1].
  const double u1 = 1.0 - uniform(), u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * std::numbers::pi * u2;
  spare_normal_ = r * std::sin(theta);
  has_spare_ = true;
  return mean + stddev * r * std::cos(theta);
}

std::uint64_t Generator::below(std::uint64_t n) {
  if (n == 0) fail<ValueError>("Generator::below: the range [0, n) is empty for n = 0");
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);  // reject the biased tail
  std::uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return x % n;
}

GeneratorState Generator::state() const {
  GeneratorState out;
  for (int i = 0; i < 4; ++i) out.words[i] = s_[i];
  out.spare_normal = spare_normal_;
  out.has_spare = has_spare_;
  return out;
}

namespace {
bool all_zero(const GeneratorState& s) { return (s.words[0] | s.words[1] | s.words[2] | s.words[3]) == 0; }
}  // namespace

void Generator::set_state(const GeneratorState& state) {
  if (all_zero(state))
    fail<ValueError>("Generator::set_state: all four xoshiro256** words are 0, a state no generator reaches");
  for (int i = 0; i < 4; ++i) s_[i] = state.words[i];
  spare_normal_ = state.spare_normal;
  has_spare_ = state.has_spare;
}

std::string format_generator_state(const GeneratorState& s) {
  return fmt::format("xoshiro256** {:016x} {:016x} {:016x} {:016x} spare {:016x} {:d}", s.words[0], s.words[1],
                     s.words[2], s.words[3], std::bit_cast<std::uint64_t>(s.spare_normal), s.has_spare ? 1 : 0);
}

std::optional<GeneratorState> parse_generator_state(std::string_view text) {
  // Exactly the layout format_generator_state writes: fixed-width fields.
  constexpr std::string_view kHead = "xoshiro256** ", kSpare = "spare ";
  constexpr std::size_t kLength = kHead.size() + 4 * 17 + kSpare.size() + 17 + 1;
  if (text.size() != kLength || !text.starts_with(kHead)) return std::nullopt;
  std::size_t at = kHead.size();
  auto word = [&](std::uint64_t& out) {
    const char* begin = text.data() + at;
    const auto [end, ec] = std::from_chars(begin, begin + 16, out, 16);
    const bool ok = ec == std::errc() && end == begin + 16 && text[at + 16] == ' ';
    at += 17;
    return ok;
  };
  GeneratorState s;
  for (auto& w : s.words)
    if (!word(w)) return std::nullopt;
  if (text.substr(at, kSpare.size()) != kSpare) return std::nullopt;
  at += kSpare.size();
  std::uint64_t spare_bits = 0;
  if (!word(spare_bits)) return std::nullopt;
  s.spare_normal = std::bit_cast<double>(spare_bits);
  const char flag = text[at];
  if ((flag != '0' && flag != '1') || all_zero(s)) return std::nullopt;
  s.has_spare = flag == '1';
  return s;
}

}  // namespace ember
