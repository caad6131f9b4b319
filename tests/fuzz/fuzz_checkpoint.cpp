// libFuzzer target: the safetensors loader on arbitrary bytes. Any ember
// error is an accepted answer; a crash, a sanitizer report, an uncaught
// exception of another type or a hang is a finding.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <ember/ember.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = ember::fuzz::write_input("checkpoint.safetensors", data, size);
  try {
    ember::CheckpointMetadata meta;
    (void)ember::inspect_safetensors(path, &meta);
  } catch (const ember::Error&) {
  }
  try {
    for (auto& [name, t] : ember::load_safetensors<float>(path)) (void)ember::sum(t, 0);  // empty axes cost nothing
  } catch (const ember::Error&) {
  }
  try {
    (void)ember::load_safetensors<double>(path);
  } catch (const ember::Error&) {
  }
  // The training-state reader on top: metadata parsing and the optimizer's
  // and schedule's checks see the same hostile bytes.
  try {
    static ember::Generator gen(0);
    static auto model = ember::mlp({2, 3, 2}, "tanh", ember::Init::xavier, gen);
    static ember::Adam opt(model.parameters());
    static auto warmup = std::make_shared<ember::LinearLR>(opt, 0.5, 1.0, 2);
    static auto cosine = std::make_shared<ember::CosineAnnealingLR>(opt, 4);
    static ember::SequentialLR schedule(opt, {warmup, cosine}, {2});
    (void)ember::load_training_state(path, model.named_parameters(), opt, &schedule);
  } catch (const ember::Error&) {
  }
  return 0;
}
