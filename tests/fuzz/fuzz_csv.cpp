// libFuzzer target: load_csv on arbitrary bytes, with the options taken from
// the first byte (header rule, label column, delimiter).
#include <cstddef>
#include <cstdint>
#include <string>

#include <ember/ember.hpp>

#include "fuzz_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const std::string& path = ember::fuzz::write_input("data.csv", data + 1, size - 1);
  ember::CsvOptions options;
  options.header = flags & 1 ? ember::CsvHeader::Auto : ember::CsvHeader::Present;
  options.label_column = (flags & 2) ? 0 : -1;
  if (flags & 4) options.delimiter = ';';
  try {
    ember::Dataset d = ember::load_csv(path, options);
    (void)d.features.numel();
  } catch (const ember::Error&) {
  }
  return 0;
}
