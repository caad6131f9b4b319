#include "state.hpp"

namespace ember {

template <class T>
void save_module(const std::string& path, const ModuleT<T>& module, const CheckpointMetadata& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

template <class T>
void load_module(const std::string& path, ModuleT<T>& module) {
  load_into(path, module.state_dict());
}

#define EMBER_INSTANTIATE(T)                                                               \
  template void save_module(const std::string&, const ModuleT<T>&, const CheckpointMetadata&); \
  template void load_module(const std::string&, ModuleT<T>&);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
