// Checkpoints: bit-exact round trips, load_into's checks, atomic saves, and
// a corpus of damaged files that must each give an IoError.
#include <ember/ember.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "../temp_dir.hpp"
#include "../test_helpers.hpp"

using namespace ember;
namespace fs = std::filesystem;

using ember_test::TempDir;

namespace {


std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

template <class T>
bool bit_equal(const TensorT<T>& a, const TensorT<T>& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(T)) == 0;
}

// Tensors of rank 0 to 3, one of them empty, with values a lossy format
// would change: -0, infinities, NaN, subnormals, and random bits.
template <class T>
NamedTensors<T> sample_tensors() {
  Generator g(11);
  using L = std::numeric_limits<T>;
  NamedTensors<T> out;
  out.emplace_back("scalar", TensorT<T>::scalar(T(-0.0)));
  out.emplace_back("layers.0.weight", TensorT<T>::randn({4, 3}, g));
  out.emplace_back("layers.0.bias",
                   TensorT<T>::from({L::infinity(), -L::infinity(), L::quiet_NaN(), L::denorm_min(), L::max()}));
  out.emplace_back("empty", TensorT<T>::zeros({0, 3}));
  out.emplace_back("cube", TensorT<T>::rand({2, 3, 4}, g, T(-1), T(1)));
  return out;
}

// A file with `header` as its JSON and `data` after it; the declared header
// length is the real one unless given.
std::string make_file(const std::string& header, const std::string& data, std::optional<std::uint64_t> length = {}) {
  const std::uint64_t n = length.value_or(header.size());
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  return bytes + header + data;
}

// Calls `load` and checks it throws an IoError of one line that starts with
// `prefix` and holds `fragment`.
template <class F>
void check_io_error(F load, const std::string& prefix, const std::string& fragment) {
  try {
    load();
    FAIL_CHECK("no IoError; expected one with: ", fragment);
  } catch (const IoError& e) {
    const std::string message = e.what();
    INFO("message: ", message);
    CHECK(message.rfind(prefix, 0) == 0);
    CHECK(message.find(fragment) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

// Loads a damaged file through all three readers; each must throw an IoError
// naming the reader and the path, whose message holds `fragment`.
void check_damaged(const std::string& bytes, const std::string& fragment) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  INFO("file bytes: ", bytes.size());
  check_io_error([&] { load_safetensors<float>(path); }, "load_safetensors: " + path + ": ", fragment);
  check_io_error([&] { inspect_safetensors(path); }, "inspect_safetensors: " + path + ": ", fragment);
  NamedTensors<float> model{{"w", Tensor::zeros({2})}};
  check_io_error([&] { load_into(path, model); }, "load_into: " + path + ": ", fragment);
}

// One tensor entry as JSON.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": " + offsets +
         "}";
}

}  // namespace

TEST_CASE("save/load_safetensors: a bit-exact round trip in F32 and F64, ranks 0 to 3") {
  TempDir dir;
  auto round_trip = [&](auto tag) {
    using T = decltype(tag);
    const auto saved = sample_tensors<T>();
    const std::string path = dir.file(sizeof(T) == 4 ? "f32.safetensors" : "f64.safetensors");
    save_safetensors(path, saved, {{"format", "ember"}, {"epoch", "3"}});
    CheckpointMetadata metadata;
    const auto loaded = load_safetensors<T>(path, &metadata);
    REQUIRE(loaded.size() == saved.size());
    for (std::size_t i = 0; i < saved.size(); ++i) {
      CHECK(loaded[i].first == saved[i].first);  // saved order kept
      CHECK(bit_equal(loaded[i].second, saved[i].second));
    }
    CHECK(metadata == CheckpointMetadata{{"format", "ember"}, {"epoch", "3"}});

    // The layout: little-endian length, data 8-byte aligned, dtype named.
    const std::string bytes = read_bytes(path);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
    CHECK((8 + n) % 8 == 0);
    CHECK(bytes[8] == '{');
    const auto entries = inspect_safetensors(path);
    CHECK(entries[1].name == "layers.0.weight");
    CHECK(entries[1].dtype == (sizeof(T) == 4 ? "F32" : "F64"));
    CHECK(entries[1].shape == Shape{4, 3});
    CHECK(entries.back().end == bytes.size() - 8 - n);
  };
  round_trip(float{});
  round_trip(double{});
  CHECK(dir.entries() == 2);  // no temporary files left behind
}

TEST_CASE("save_safetensors: an empty list and the overwrite of an existing file") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  save_safetensors(path, NamedTensors<float>{});
  CHECK(load_safetensors<float>(path).empty());
  save_safetensors(path, NamedTensors<float>{{"a", Tensor::from({1.0f, 2.0f})}});
  CHECK(load_safetensors<float>(path)[0].second.to_vector() == std::vector<float>{1.0f, 2.0f});
}

TEST_CASE("save_safetensors: bad names are a ValueError and leave the old file") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  save_safetensors(path, NamedTensors<float>{{"a", Tensor::ones({2})}});
  const std::string before = read_bytes(path);
  const auto t = Tensor::zeros({1});
  CHECK_THROWS_WITH_SUBSTR(save_safetensors(path, NamedTensors<float>{{"a", t}, {"a", t}}), ValueError,
                           "save_safetensors: " + path + ": the name \"a\" appears twice");
  CHECK_THROWS_WITH_SUBSTR(save_safetensors(path, NamedTensors<float>{{"", t}}), ValueError,
                           "a tensor has an empty name");
  CHECK_THROWS_WITH_SUBSTR(save_safetensors(path, NamedTensors<float>{{"__metadata__", t}}), ValueError,
                           "the name \"__metadata__\" is reserved");
  CHECK_THROWS_WITH_SUBSTR(save_safetensors(path, NamedTensors<float>{{"u", Tensor()}}), ValueError,
                           "tensor \"u\" is undefined");
  CHECK_THROWS_WITH_SUBSTR(save_safetensors(path, NamedTensors<float>{{"\xff", t}}), ValueError, "is not valid UTF-8");
  CHECK(read_bytes(path) == before);
  CHECK(dir.entries() == 1);
}

TEST_CASE("save_safetensors: a failed save keeps the previous file and removes the temporary") {
  TempDir dir;
  const NamedTensors<float> old_values{{"w", Tensor::full({256}, 1.0f)}};
  const NamedTensors<float> new_values{{"w", Tensor::full({1 << 16}, 2.0f)}};

  SUBCASE("the target is a directory") {
    const std::string target = dir.file("is_a_dir");
    fs::create_directory(target);
    CHECK_THROWS_WITH_SUBSTR(save_safetensors(target, new_values), IoError,
                             "save_safetensors: " + target + ": cannot replace: Is a directory");
    CHECK(fs::is_directory(target));
    CHECK(dir.entries() == 1);
  }
  SUBCASE("the directory does not exist") {
    const std::string target = dir.file("missing/m.safetensors");
    CHECK_THROWS_WITH_SUBSTR(save_safetensors(target, new_values), IoError,
                             "save_safetensors: " + target + ": cannot create the temporary file");
    CHECK_THROWS_WITH_SUBSTR(save_safetensors(target, new_values), IoError, "No such file or directory");
  }
  SUBCASE("a write fails midway (file size limit)") {
    const std::string path = dir.file("m.safetensors");
    save_safetensors(path, old_values);
    const std::string before = read_bytes(path);
    // Writes past RLIMIT_FSIZE fail with EFBIG (once SIGXFSZ is ignored).
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto* previous_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    bool threw = false;
    try {
      save_safetensors(path, new_values);
    } catch (const IoError& e) {
      threw = true;
      CHECK(std::string(e.what()).find("save_safetensors: " + path + ": cannot write: File too large") !=
            std::string::npos);
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::signal(SIGXFSZ, previous_handler);
    CHECK(threw);
    CHECK(read_bytes(path) == before);
    CHECK(dir.entries() == 1);
    CHECK(load_safetensors<float>(path)[0].second.to_vector() == std::vector<float>(256, 1.0f));
  }
  SUBCASE("the directory is not writable (not testable as root)") {
    if (::geteuid() == 0) {
      MESSAGE("skipped: root can write to any directory");
      return;
    }
    const std::string path = dir.file("m.safetensors");
    save_safetensors(path, old_values);
    fs::permissions(dir.path(), fs::perms::owner_write, fs::perm_options::remove);
    CHECK_THROWS_WITH_SUBSTR(save_safetensors(path, new_values), IoError, "Permission denied");
    fs::permissions(dir.path(), fs::perms::owner_write, fs::perm_options::add);
    CHECK(load_safetensors<float>(path)[0].second.to_vector() == std::vector<float>(256, 1.0f));
  }
}

TEST_CASE("load_into: copies values into the model's parameters in place") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  Generator g(5);
  const NamedTensors<float> trained{{"layers.0.weight", Tensor::randn({3, 2}, g)},
                                    {"layers.0.bias", Tensor::randn({2}, g)}};
  save_safetensors(path, trained);
  auto weight = Tensor::zeros({3, 2}).requires_grad_();
  auto bias = Tensor::zeros({2}).requires_grad_();
  load_into(path, NamedTensors<float>{{"layers.0.bias", bias}, {"layers.0.weight", weight}});  // any order
  CHECK(bit_equal(weight, trained[0].second));
  CHECK(bit_equal(bias, trained[1].second));
  CHECK(weight.requires_grad());
}

TEST_CASE("load_into: names, shapes and dtypes must match the model, which stays untouched otherwise") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  save_safetensors(path, NamedTensors<float>{{"a", Tensor::ones({2, 3})}, {"b", Tensor::ones({3})}});
  auto a = Tensor::zeros({2, 3});
  auto b = Tensor::zeros({3});
  CHECK_THROWS_WITH_SUBSTR(
      load_into(path, NamedTensors<float>{{"a", a}}), IoError,
      "load_into: " + path + ": the file's names differ from the model's: missing none; unexpected \"b\"");
  CHECK_THROWS_WITH_SUBSTR(load_into(path, NamedTensors<float>{{"a", a}, {"b", b}, {"c", b}}), IoError,
                           "differ from the model's: missing \"c\"");
  CHECK_THROWS_WITH_SUBSTR(load_into(path, NamedTensors<float>{{"a", a}, {"x", b}}), IoError,
                           "missing \"x\"; unexpected \"b\"");
  CHECK_THROWS_WITH_SUBSTR(load_into(path, NamedTensors<float>{{"a", Tensor::zeros({3, 2})}, {"b", b}}), IoError,
                           "load_into: " + path + ": tensor \"a\" has shape [2x3] in the file, [3x2] in the model");
  CHECK_THROWS_WITH_SUBSTR(
      load_into(path, NamedTensors<double>{{"a", Tensor64::zeros({2, 3})}, {"b", Tensor64::zeros({3})}}), IoError,
      "tensor \"a\" is F32 in the file, F64 in the model");
  CHECK_THROWS_WITH_SUBSTR(load_into(path, NamedTensors<float>{{"a", a}, {"a", a}}), ValueError,
                           "the model lists the parameter \"a\" twice");
  CHECK(a.values().maxCoeff() == 0.0f);
  CHECK(b.values().maxCoeff() == 0.0f);
  CHECK_THROWS_WITH_SUBSTR(load_safetensors<double>(path), IoError, "tensor \"a\" is F32, but F64 was requested");
}

TEST_CASE("load_safetensors: a missing file or a directory") {
  TempDir dir;
  CHECK_THROWS_WITH_SUBSTR(load_safetensors<float>(dir.file("nope")), IoError,
                           "cannot open: No such file or directory");
  CHECK_THROWS_WITH_SUBSTR(load_safetensors<float>(dir.path().string()), IoError, ": not a regular file");
}

TEST_CASE("load_safetensors: truncated at every byte, the file is an IoError") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  save_safetensors(path, NamedTensors<float>{{"w", Tensor::from({1.0f, 2.0f})}, {"b", Tensor::full({1, 1}, 3.0f)}});
  const std::string full = read_bytes(path);
  const std::string cut = dir.file("cut.safetensors");
  for (std::size_t n = 0; n < full.size(); ++n) {
    write_bytes(cut, full.substr(0, n));
    INFO("truncated to ", n, " of ", full.size(), " bytes");
    CHECK_THROWS_AS(load_safetensors<float>(cut), IoError);
  }
  // A file cut inside the length field or the header says so precisely.
  check_damaged(full.substr(0, 5), "file is 5 bytes, too short for the 8-byte header length");
  const std::uint64_t header_length = static_cast<unsigned char>(full[0]) + 256u * static_cast<unsigned char>(full[1]);
  check_damaged(full.substr(0, 20),
                fmt::format("header length {} exceeds the 12 bytes after the length field", header_length));
}

TEST_CASE("load_safetensors: a damaged header length") {
  const std::string header = "{" + entry("w", "F32", "[2]", "[0, 8]") + "}";
  const std::string data(8, '\0');
  check_damaged(make_file(header, data, header.size() + 1),
                fmt::format("header holds a NUL byte at offset {}", 8 + header.size()));
  check_damaged(make_file(header, data, header.size() - 1), "header is not valid JSON");
  check_damaged(make_file(header, data, 0), "header does not start with '{'");
  check_damaged(make_file(header, data, header.size() + 9), "exceeds the");
  check_damaged(make_file(header, data, 99'999'999), "header length 99999999 exceeds the");
  check_damaged(make_file(header, data, 100'000'001), "header length 100000001 exceeds the limit of 100000000 bytes");
  check_damaged(make_file(header, data, std::numeric_limits<std::uint64_t>::max()),
                "header length 18446744073709551615 exceeds");
}

TEST_CASE("load_safetensors: malformed JSON") {
  const std::string data(8, '\0');
  check_damaged(make_file("{", ""), "header is not valid JSON");
  check_damaged(make_file("{\"w\": }", ""), "header is not valid JSON");
  check_damaged(make_file("{} trailing", ""), "header is not valid JSON");
  check_damaged(make_file("{/* c */}", ""), "header is not valid JSON");
  check_damaged(make_file("{\"\xff\": 1}", ""), "header is not valid JSON");
  check_damaged(make_file(std::string("{\"a\0\": 1}", 9), ""), "header holds a NUL byte at offset 11");
  check_damaged(make_file(std::string("{}\0 garbage", 11), ""), "header holds a NUL byte at offset 10");
  check_damaged(make_file("[1, 2]", ""), "header does not start with '{'");
  check_damaged(make_file("not json", ""), "header does not start with '{'");
  check_damaged(make_file("{\"w\": 1}", ""), "tensor \"w\": entry is not a JSON object");
  check_damaged(make_file("{\"w\": {\"x\": {\"y\": [1]}}}", ""), "header nests deeper than the 3 levels of the format");
  check_damaged(make_file(std::string(10000, '[') + std::string(10000, ']'), ""), "header does not start with '{'");
  check_damaged(make_file("{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}", ""), "nests deeper");
  check_damaged(make_file("{" + entry("w", "F32", "[2]", "[0, 8]") + ", " + entry("w", "F32", "[2]", "[8, 16]") + "}",
                          std::string(16, '\0')),
                "header repeats the key \"w\"");
  check_damaged(make_file("{\"w\\nx\": 1}", ""), "tensor \"w\\x0ax\": entry is not a JSON object");  // one line
}

TEST_CASE("load_safetensors: wrong entries (dtype, fields, metadata)") {
  const std::string data(8, '\0');
  auto one = [&](const std::string& e) { return make_file("{" + e + "}", data); };
  check_damaged(one(entry("w", "F16", "[4]", "[0, 8]")),
                "tensor \"w\": dtype \"F16\" is not supported (ember reads F32, F64, I64, I32 and U8)");
  // I64 is read (for integer buffers, load_into), but is not a float tensor.
  {
    TempDir dir;
    const std::string path = dir.file("i64.safetensors");
    write_bytes(path, one(entry("w", "I64", "[1]", "[0, 8]")));
    CHECK(inspect_safetensors(path).at(0).dtype == "I64");
    check_io_error([&] { load_safetensors<float>(path); }, "load_safetensors: " + path + ": ",
                   "tensor \"w\" is I64, but F32 was requested");
  }
  check_damaged(one("\"w\": {\"dtype\": 4, \"shape\": [2], \"data_offsets\": [0, 8]}"),
                "tensor \"w\": dtype is not a string");
  check_damaged(one("\"w\": {\"shape\": [2], \"data_offsets\": [0, 8]}"), "tensor \"w\": missing field \"dtype\"");
  check_damaged(one("\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}"), "missing field \"shape\"");
  check_damaged(one("\"w\": {\"dtype\": \"F32\", \"shape\": [2]}"), "missing field \"data_offsets\"");
  check_damaged(one("\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8], \"x\": 1}"),
                "tensor \"w\": unknown field \"x\"");
  check_damaged(make_file("{\"__metadata__\": [1]}", ""), "__metadata__ is not a JSON object");
  check_damaged(make_file("{\"__metadata__\": {\"k\": 1}}", ""), "__metadata__ value of \"k\" is not a string");
}

TEST_CASE("load_safetensors: shapes that do not match their bytes, and huge shapes") {
  const std::string data(8, '\0');
  auto one = [&](const std::string& shape, const std::string& offsets = "[0, 8]") {
    return make_file("{" + entry("w", "F32", shape, offsets) + "}", data);
  };
  check_damaged(one("[3]"), "tensor \"w\": shape [3] of F32 takes 12 bytes, data_offsets [0, 8] hold 8");
  check_damaged(one("[]"), "shape [] of F32 takes 4 bytes, data_offsets [0, 8] hold 8");
  check_damaged(one("[-2]"), "tensor \"w\": shape [-2] holds -2, not a non-negative integer");
  check_damaged(one("[2.0]"), "holds 2.0, not a non-negative integer");
  check_damaged(one("[\"2\"]"), "not a non-negative integer");
  check_damaged(one("2"), "tensor \"w\": shape is not an array");
  check_damaged(one("[1, 1, 1, 1, 1, 1, 2]"), "shape has rank 7, ember supports up to 6");
  check_damaged(one("[4294967296, 4294967296]"),
                "shape [4294967296x4294967296] has more than 2^63 - 1 elements (zero dimensions aside)");
  check_damaged(one("[9223372036854775808]"), "has more than 2^63 - 1 elements");
  check_damaged(one("[4611686018427387904]"), "shape [4611686018427387904] of F32 takes more than 2^64 bytes");
  // Empty, yet a reduction over its other axes would loop 2^63 times.
  check_damaged(one("[4611686018427387904, 2, 0]", "[0, 0]"),
                "shape [4611686018427387904x2x0] has more than 2^63 - 1 elements (zero dimensions aside)");
  check_damaged(one("[18446744073709551616]"), "not a non-negative integer");            // beyond uint64
  check_damaged(one("[1000000000000]"), "takes 4000000000000 bytes, data_offsets [0, 8] hold 8");
  check_damaged(one("[0, 1000000000000]", "[0, 0]"), "bytes [0, 8) at the end of the data section belong to no tensor");
}

TEST_CASE("load_safetensors: byte ranges out of bounds, reversed, overlapping or leaving gaps") {
  auto file = [](const std::string& entries, std::size_t data_bytes) {
    return make_file("{" + entries + "}", std::string(data_bytes, '\0'));
  };
  check_damaged(file(entry("w", "F32", "[2]", "[0, 8]"), 4),
                "tensor \"w\": data_offsets [0, 8] exceed the 4-byte data section");
  check_damaged(file(entry("w", "F32", "[2]", "[8, 16]"), 8), "data_offsets [8, 16] exceed the 8-byte data section");
  check_damaged(file(entry("w", "F32", "[0]", "[8, 0]"), 8), "data_offsets [8, 0] end before they begin");
  check_damaged(file(entry("w", "F32", "[2]", "[0, 18446744073709551615]"), 8), "exceed the 8-byte data section");
  check_damaged(file(entry("w", "F32", "[2]", "[0]"), 8),
                "data_offsets [0] is not [begin, end] with non-negative integers");
  check_damaged(file(entry("w", "F32", "[2]", "[0, 8, 8]"), 8), "is not [begin, end]");
  check_damaged(file(entry("w", "F32", "[2]", "[-8, 0]"), 8), "is not [begin, end]");
  check_damaged(file(entry("w", "F32", "[2]", "{\"a\": 1}"), 8), "is not [begin, end]");
  check_damaged(file(entry("a", "F32", "[2]", "[0, 8]") + ", " + entry("b", "F32", "[2]", "[4, 12]"), 12),
                "tensors \"a\" [0, 8] and \"b\" [4, 12] overlap");
  check_damaged(file(entry("a", "F32", "[2]", "[0, 8]") + ", " + entry("b", "F32", "[2]", "[0, 8]"), 8),
                "tensors \"a\" [0, 8] and \"b\" [0, 8] overlap");
  check_damaged(file(entry("a", "F32", "[2]", "[0, 8]") + ", " + entry("b", "F32", "[2]", "[12, 20]"), 20),
                "bytes [8, 12) of the data section, before tensor \"b\", belong to no tensor");
  check_damaged(file(entry("a", "F32", "[2]", "[4, 12]"), 12), "bytes [0, 4) of the data section, before tensor \"a\"");
  check_damaged(file(entry("a", "F32", "[2]", "[0, 8]"), 9),
                "bytes [8, 9) at the end of the data section belong to no tensor");
  check_damaged(file("", 3), "bytes [0, 3) at the end of the data section belong to no tensor");
}

TEST_CASE("load_safetensors: a valid hand-written file (spec example layout) loads") {
  TempDir dir;
  const std::string path = dir.file("hand.safetensors");
  // Two tensors in reverse name order, an empty tensor, padding spaces.
  const float values[3] = {1.5f, -2.0f, 0.25f};
  std::string data(reinterpret_cast<const char*>(values), sizeof values);
  write_bytes(path, make_file("{" + entry("z", "F32", "[1]", "[0, 4]") + ", " + entry("a", "F32", "[2, 1]", "[4, 12]") +
                                  ", " + entry("e", "F32", "[0, 5]", "[12, 12]") + "}    ",
                              data));
  const auto loaded = load_safetensors<float>(path);
  REQUIRE(loaded.size() == 3);
  CHECK(loaded[0].first == "z");  // in data order
  CHECK(loaded[0].second.to_vector() == std::vector<float>{1.5f});
  CHECK(loaded[1].second.shape() == Shape{2, 1});
  CHECK(loaded[1].second.to_vector() == std::vector<float>{-2.0f, 0.25f});
  CHECK(loaded[2].second.shape() == Shape{0, 5});
}

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

// Runs docs/read_checkpoint.py --values on `path`: one line per tensor,
// name, numpy dtype, shape, then every value as Python's repr.
std::vector<std::vector<std::string>> numpy_read(const std::string& path) {
  const std::string command =
      "/usr/bin/python3 '" + std::string(EMBER_SOURCE_DIR) + "/docs/read_checkpoint.py' --values '" + path + "'";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  CHECK(::pclose(pipe) == 0);
  std::vector<std::vector<std::string>> lines;
  for (const auto& line : split(output, '\n')) lines.push_back(split(line, '\t'));
  return lines;
}

template <class T>
void check_numpy_reads(const std::string& path) {
  const auto saved = sample_tensors<T>();
  save_safetensors(path, saved);
  const auto lines = numpy_read(path);
  REQUIRE(lines.size() == saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    const auto& [name, tensor] = saved[i];
    const auto& fields = lines[i];
    REQUIRE(fields.size() == 3 + static_cast<std::size_t>(tensor.numel()));
    CHECK(fields[0] == name);
    CHECK(fields[1] == (sizeof(T) == 4 ? "float32" : "float64"));
    std::string shape = "[";
    for (const Index d : tensor.shape().dims()) shape += (shape.size() > 1 ? ", " : "") + std::to_string(d);
    CHECK(fields[2] == shape + "]");
    for (Index k = 0; k < tensor.numel(); ++k) {
      const std::string& text = fields[3 + static_cast<std::size_t>(k)];
      double value = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      REQUIRE(ec == std::errc());
      const double expected = tensor.data()[k];
      INFO(name, "[", k, "]: numpy ", text, ", ember ", expected);
      if (std::isnan(expected))
        CHECK(std::isnan(value));
      else
        CHECK((value == expected && std::signbit(value) == std::signbit(expected)));
    }
  }
}

}  // namespace

TEST_CASE("numpy reads an ember checkpoint with the recipe of docs/read_checkpoint.py") {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not installed (Debian: python3-numpy)");
    return;
  }
  TempDir dir;
  check_numpy_reads<float>(dir.file("f32.safetensors"));
  check_numpy_reads<double>(dir.file("f64.safetensors"));
}
