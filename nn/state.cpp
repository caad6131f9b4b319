#include "state.hpp"

namespace ember {

template <class T>
void save_module(const std::string& path, const ModuleT<T>& module, const CheckpointMetadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

template <class T>
void load_module(const std::string& path, ModuleT<T>& module) {
  std::vector<std::string> buffers;  // may be integers in the file (PyTorch's num_batches_tracked)
  for (const auto& [name, b] : module.named_buffers()) buffers.push_back(name);
  load_into(path, module.state_dict(), buffers);
}

#define EMBER_INSTANTIATE(T)                                                               \
  template void save_module(const std::string&, const ModuleT<T>&, const CheckpointMetadata&); \
  template void load_module(const std::string&, ModuleT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
