// Built instead of torch_impl.cpp when CMake finds no libtorch.
#include "workloads.hpp"

namespace bench {

bool torch_available() { return false; }
std::string torch_description() { return "libtorch not found at configure time"; }
void torch_set_threads(int) {}
std::unique_ptr<Trainer> make_torch_trainer(const MlpSpec&, const MlpInit&) { return nullptr; }
std::unique_ptr<Task> make_torch_activation(const std::string&, const std::vector<float>&, bool) { return nullptr; }
std::unique_ptr<Task> make_torch_chain(int, int) { return nullptr; }
std::unique_ptr<Task> make_torch_tensor_op(const std::string&, const std::vector<float>&, bool) { return nullptr; }
std::unique_ptr<Task> make_torch_layer_norm(const LayerNormInput&, bool) { return nullptr; }
std::unique_ptr<Task> make_torch_conv(const ConvSpec&, const ConvInit&) { return nullptr; }
std::unique_ptr<Task> make_torch_cnn(const CnnInit&) { return nullptr; }
std::unique_ptr<Task> make_torch_matmul(const std::vector<float>&, const std::vector<float>&, int, int, int) {
  return nullptr;
}
std::unique_ptr<Task> make_torch_scalar_chain(int) { return nullptr; }
std::unique_ptr<Task> make_torch_inference(const MlpSpec&, const MlpInit&) { return nullptr; }

}  // namespace bench
