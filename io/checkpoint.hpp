// Checkpoints in the safetensors format, which PyTorch (safetensors.torch),
// numpy and many other tools read (docs/checkpoints.md shows how):
//
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   a JSON object: {"name": {"dtype": "F32", "shape": [2, 3],
//             "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}
//             (ember pads it with spaces so the data starts 8-byte aligned)
//   the rest  the tensors' raw little-endian bytes, row-major; each tensor's
//             [begin, end) is relative to the start of this section, and the
//             ranges tile it exactly: no gap, no overlap, nothing after
//
// Saving is atomic: the file is written under a temporary name in the same
// directory, flushed to disk, then renamed over the target, so a crash or
// error mid-save leaves the previous file intact. Loading validates the
// whole file before it allocates or copies anything, and a truncated,
// corrupted or hostile file throws IoError (one line: function, path, what
// is wrong), never reads out of bounds or allocates more than the file holds.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../engine/tensor.hpp"

namespace ember {

// Tensors with names, in order: what a module's named_parameters() returns.
template <class T>
using NamedTensors = std::vector<std::pair<std::string, TensorT<T>>>;

// The header's optional "__metadata__": free-form strings.
using CheckpointMetadata = std::map<std::string, std::string>;

// Writes the tensors (all F32 for float, F64 for double) in the given order.
// Names must be non-empty, unique, valid UTF-8 and not "__metadata__"
// (ValueError); a file system failure is an IoError naming the path and the
// system's reason.
template <class T>
void save_safetensors(const std::string& path, const NamedTensors<T>& tensors, const CheckpointMetadata& metadata = {});

// Reads every tensor, in the order of their data in the file (the order they
// were saved in). Each must have T's dtype (F32 for float, F64 for double).
// Pass `metadata` to receive the header's "__metadata__".
template <class T = float>
NamedTensors<T> load_safetensors(const std::string& path, CheckpointMetadata* metadata = nullptr);

// Copies a checkpoint's values into a model's parameters, in place:
//   load_into(path, model.named_parameters());
// The file must hold exactly the model's names, each with the parameter's
// shape and dtype; any difference throws IoError listing it, and the
// parameters are left untouched unless everything matches. The names in
// `integral` (buffers: load_module passes a module's named_buffers()) may
// also be I64 or I32 in the file, as PyTorch stores BatchNorm's
// num_batches_tracked; each value must convert to T exactly (|v| <= 2^24
// for float, 2^53 for double), else an IoError names the tensor and value.
// Parameters are always T's float dtype.
template <class T>
void load_into(const std::string& path, const NamedTensors<T>& parameters,
               const std::vector<std::string>& integral = {});

// One tensor's header entry, as validated by the loader.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // "F32", "F64", "I64", "I32" or "U8"
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // byte range within the data section
};

// The validated header alone (no tensor data is read), entries sorted by
// their data offsets.
std::vector<SafetensorsEntry> inspect_safetensors(const std::string& path, CheckpointMetadata* metadata = nullptr);

// Raw bytes under any dtype ember knows ("F32", "F64", "I64", "I32", "U8"), for formats
// that are not one float tensor per name (packed ternary weights,
// ops/ternary.hpp). Saving checks that each blob's byte count is its shape's
// numel times the dtype's size (ValueError) and is atomic like
// save_safetensors; loading validates the header as load_safetensors does
// and returns the tensors in file order, each owning its bytes.
struct SafetensorsBlob {  // what to save: a view of the bytes
  std::string name;
  std::string dtype;
  Shape shape;
  std::span<const std::uint8_t> bytes;
};
struct SafetensorsBytes {  // what was loaded
  std::string name;
  std::string dtype;
  Shape shape;
  std::vector<std::uint8_t> bytes;
};
void save_safetensors_bytes(const std::string& path, const std::vector<SafetensorsBlob>& tensors,
                            const CheckpointMetadata& metadata = {});
std::vector<SafetensorsBytes> load_safetensors_bytes(const std::string& path, CheckpointMetadata* metadata = nullptr);

}  // namespace ember
