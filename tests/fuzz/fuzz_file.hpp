// The loaders read files: each fuzz input is written to one scratch file per
// process (under TMPDIR), overwritten by the next input.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ember::fuzz {

inline const std::string& write_input(const char* name, const std::uint8_t* data, std::size_t size) {
  static const std::string path = [&] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/ember-fuzz-" + std::to_string(getpid()) + "-" + name;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

}  // namespace ember::fuzz
