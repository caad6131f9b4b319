// Generator: a seeded random source that gives the same numbers on every run,
// compiler and machine. (std::normal_distribution is implementation-defined,
// so ember draws its own: xoshiro256** bits, 53-bit uniforms, Box-Muller
// normals.)
#pragma once

#include <cstdint>

namespace ember {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0);

  std::uint64_t next_u64();
  double uniform();                          // in [0, 1)
  double uniform(double low, double high);   // in [low, high)
  double normal(double mean = 0.0, double stddev = 1.0);
  std::uint64_t below(std::uint64_t n);      // in [0, n), unbiased; n = 0 is a ValueError

 private:
  std::uint64_t s_[4];
  double spare_normal_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace ember
