#include "packed_ternary.hpp"

#include <cerrno>

#include <cmath>
#include <cstring>

#include "checkpoint.hpp"

namespace ember {

void save_packed_ternary(const std::string& path, const PackedTernary& w) {
  if (!(std::isfinite(w.scale) && w.scale > 0))
    fail<ValueError>("save_packed_ternary: {}: scale {} must be finite and positive", path, w.scale);
  if (w.bytes.size() != std::size_t(w.out_features * w.row_bytes()))
    fail<ValueError>("save_packed_ternary: {}: {} packed bytes for a [{}x{}] weight, expected {}", path,
                     w.bytes.size(), w.out_features, w.in_features, w.out_features * w.row_bytes());
  const auto* scale = reinterpret_cast<const std::uint8_t*>(&w.scale);
  save_safetensors_bytes(path,
                         {{"packed", "U8", Shape{w.out_features, w.row_bytes()}, w.bytes},
                          {"scale", "F64", Shape{}, {scale, sizeof(double)}}},
                         {{"format", kPackedTernaryFormat}, {"in_features", std::to_string(w.in_features)}});
}

PackedTernary load_packed_ternary(const std::string& path) {
  CheckpointMetadata meta;
  auto blobs = load_safetensors_bytes(path, &meta);
  if (meta["format"] != kPackedTernaryFormat)
    fail<IoError>("load_packed_ternary: {}: metadata format is '{}', expected '{}'", path, meta["format"],
                  kPackedTernaryFormat);
  const SafetensorsBytes *packed = nullptr, *scale = nullptr;
  for (const auto& b : blobs) {
    if (b.name == "packed") packed = &b;
    else if (b.name == "scale") scale = &b;
    else fail<IoError>("load_packed_ternary: {}: unexpected tensor '{}'", path, b.name);
  }
  if (!packed || !scale) fail<IoError>("load_packed_ternary: {}: needs tensors 'packed' and 'scale'", path);
  if (packed->dtype != "U8" || packed->shape.rank() != 2)
    fail<IoError>("load_packed_ternary: {}: 'packed' is {} {}, expected U8 [out, ceil(in/4)]", path, packed->dtype,
                  packed->shape.str());
  if (scale->dtype != "F64" || scale->shape.numel() != 1)
    fail<IoError>("load_packed_ternary: {}: 'scale' is {} {}, expected F64 []", path, scale->dtype, scale->shape.str());
  PackedTernary w;
  char* end = nullptr;
  const std::string& in_text = meta["in_features"];
  errno = 0;
  const long long in = std::strtoll(in_text.c_str(), &end, 10);
  if (in_text.empty() || *end != '\0' || in <= 0 || errno == ERANGE)
    fail<IoError>("load_packed_ternary: {}: metadata in_features '{}' is not a positive integer", path, in_text);
  w.out_features = packed->shape[0];
  w.in_features = Index(in);
  if (in > 4 * packed->shape[1] || packed->shape[1] != w.row_bytes())
    fail<IoError>("load_packed_ternary: {}: 'packed' {} has {} bytes per row; in_features {} needs {}", path,
                  packed->shape.str(), packed->shape[1], in, w.row_bytes());
  std::memcpy(&w.scale, scale->bytes.data(), sizeof(double));
  if (!(std::isfinite(w.scale) && w.scale > 0))
    fail<IoError>("load_packed_ternary: {}: scale {} must be finite and positive", path, w.scale);
  const Index q = w.row_bytes();
  for (Index o = 0; o < w.out_features; ++o)
    for (Index k = 0; k < q; ++k) {
      const std::uint8_t byte = packed->bytes[std::size_t(o * q + k)];
      for (int part = 0; part < 4; ++part) {
        const int c = (byte >> (2 * part)) & 3;
        const bool padding = part * q + k >= w.in_features;
        if (c == 3 || (padding && c != 0))
          fail<IoError>("load_packed_ternary: {}: invalid code {} at row {}, byte {}, bits {}-{}{}", path, c, o, k,
                        2 * part, 2 * part + 1, padding ? " (padding must be 0)" : "");
      }
    }
  w.bytes = std::move(blobs[std::size_t(packed - blobs.data())].bytes);
  return w;
}

}  // namespace ember
