// Generator: a seeded random source that gives the same numbers on every run,
// compiler and machine. (std::normal_distribution is implementation-defined,
// so ember draws its own: xoshiro256** bits, 53-bit uniforms, Box-Muller
// normals.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember {

// Everything a Generator holds: restoring it continues the stream
// bit-identically (checkpoints save it, io/training_state.hpp).
struct GeneratorState {
  std::uint64_t words[4] = {0, 0, 0, 0};  // the xoshiro256** state
  double spare_normal = 0.0;              // Box-Muller's second value, pending when has_spare
  bool has_spare = false;
  bool operator==(const GeneratorState&) const = default;
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0);

  std::uint64_t next_u64();
  double uniform();                          // in [0, 1)
  double uniform(double low, double high);   // in [low, high)
  double normal(double mean = 0.0, double stddev = 1.0);
  std::uint64_t below(std::uint64_t n);      // in [0, n), unbiased; n = 0 is a ValueError

  GeneratorState state() const;
  // A ValueError for all-zero words (xoshiro's one state that never leaves
  // zero, which no seed produces); nothing changes then.
  void set_state(const GeneratorState& state);

 private:
  std::uint64_t s_[4];
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

// Generators with names, as a module's named_generators() lists them.
using NamedGenerators = std::vector<std::pair<std::string, Generator*>>;

// A state as one line of text, exact and portable: the four words, the
// spare's IEEE bits and the flag, in hexadecimal,
//   "xoshiro256** 9e3779b97f4a7c15 ... spare 0000000000000000 0"
// parse_generator_state gives nullopt for anything else (or all-zero words).
std::string format_generator_state(const GeneratorState& state);
std::optional<GeneratorState> parse_generator_state(std::string_view text);

}  // namespace ember
