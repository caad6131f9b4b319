// Packed ternary weights (ops/ternary.hpp) in safetensors:
//   "packed"  U8  [out_features, ceil(in_features / 4)]   the 2-bit codes, layout in ops/ternary.hpp
//   "scale"   F64 []                                       the real weight is code * scale
//   __metadata__ {"format": "ember-ternary-2bit-quarters", "in_features": "<in>"}
// Loading checks everything before returning: the two names and dtypes,
// the packed shape against in_features, the scale (finite, > 0) and every
// code (0b11 is invalid, padding must be 0); a mismatch is an IoError naming
// the path and what is wrong. Saving is atomic (the old file survives a failure).
#pragma once

#include <string>

#include "../ops/ternary.hpp"

namespace ember {

inline constexpr const char* kPackedTernaryFormat = "ember-ternary-2bit-quarters";

void save_packed_ternary(const std::string& path, const PackedTernary& w);
PackedTernary load_packed_ternary(const std::string& path);

}  // namespace ember
