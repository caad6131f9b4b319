// libFuzzer target: the safetensors loader on arbitrary bytes. Any ember
// error is an accepted answer; a crash, a sanitizer report, an uncaught
// exception of another type or a hang is a finding.
#include <cstddef>
#include <cstdint>
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
  return 0;
}
