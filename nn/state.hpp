// A module's whole state in one checkpoint: its parameters and its buffers
// (state_dict()), under torch.nn's names, through io/checkpoint.hpp.
//
//   save_module("model.safetensors", model, {{"epoch", "20"}});
//   load_module("model.safetensors", model);   // a fresh model of the same structure
//
// The same rules as save_safetensors / load_into: saving is atomic, and a
// file whose names, shapes or dtypes differ from the model's is an IoError
// that leaves every parameter and buffer untouched. Buffers may also be I64
// or I32 in the file (a PyTorch state_dict's num_batches_tracked is int64)
// when every value converts exactly; ember itself writes them as floats.
#pragma once

#include <string>

#include "../io/checkpoint.hpp"
#include "module.hpp"

namespace ember {

template <class T>
void save_module(const std::string& path, const ModuleT<T>& module, const CheckpointMetadata& metadata = {});

template <class T>
void load_module(const std::string& path, ModuleT<T>& module);

}  // namespace ember
