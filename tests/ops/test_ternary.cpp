// ops/ternary.cpp and io/packed_ternary.cpp: the 2-bit layout (a row packed
// by hand), the add/subtract product against the float product of the same
// integers (exact), inference against BitLinear's forward, the safetensors
// round trip, and bad input.
#include <ember/ember.hpp>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

Tensor64 random_ternary(Generator& gen, Index out, Index in) {
  auto t = Tensor64::empty({out, in});
  for (Index i = 0; i < t.numel(); ++i) t.data()[i] = double(gen.below(3)) - 1.0;
  return t;
}

std::string temp_path(const char* name) { return std::string("/tmp/ember_test_ternary_") + name + ".safetensors"; }

}  // namespace

TEST_CASE("pack_ternary: the documented layout, by hand, and unpack inverts it for every width") {
  // in = 5: Q = 2 bytes per row, quarters {0,1} {2,3} {4} {}.
  // j=0 (+1) byte 0 bits 0-1 = 01; j=1 (-1) byte 1 bits 0-1 = 10; j=2 (0) byte 0 bits 2-3;
  // j=3 (+1) byte 1 bits 2-3 = 01; j=4 (-1) byte 0 bits 4-5 = 10  ->  byte 0 = 0b00100001, byte 1 = 0b00000110
  const auto p = pack_ternary(Tensor64::from({{1.0, -1.0, 0.0, 1.0, -1.0}}), 0.5);
  CHECK(p.row_bytes() == 2);
  CHECK(p.bytes == std::vector<std::uint8_t>{0x21, 0x06});
  CHECK(dequantize_ternary<double>(p).to_vector() == std::vector<double>{0.5, -0.5, 0.0, 0.5, -0.5});
  Generator gen(31);
  for (Index in = 1; in <= 13; ++in) {
    INFO("in = ", in);
    const auto t = random_ternary(gen, 3, in);
    const auto q = pack_ternary(t, 1.0);
    CHECK(q.bytes.size() == std::size_t(3 * ((in + 3) / 4)));
    CHECK(unpack_ternary<double>(q).to_vector() == t.to_vector());
  }
  // 16x smaller than float32 at 2 bits (plus one scale)
  const auto big = pack_ternary(random_ternary(gen, 64, 256), 1.0);
  CHECK(big.bytes.size() * 16 == std::size_t(64 * 256 * 4));
}

TEST_CASE("ternary_accumulate: equals the float product of the same integers, exactly, past the int16 blocks") {
  Generator gen(32);
  for (const Index in : {Index(7), Index(64), Index(2101)}) {
    INFO("in = ", in);
    const Index rows = 3, out = 5;
    const auto t = random_ternary(gen, out, in);
    std::vector<std::int8_t> x(std::size_t(rows * in));
    auto xf = Tensor64::empty({rows, in});
    for (Index i = 0; i < rows * in; ++i) {
      // row 0 all +127 against row 1 all -127: the worst case for the int16 partial sums
      const int v = i / in == 0 ? 127 : i / in == 1 ? -127 : int(gen.below(255)) - 127;
      x[std::size_t(i)] = std::int8_t(v);
      xf.data()[i] = v;
    }
    std::vector<std::int32_t> acc(std::size_t(rows * out));
    ternary_accumulate(x.data(), rows, pack_ternary(t, 1.0), acc.data());
    const auto want = matmul(xf, transpose(t));  // integers below 2^53: exact in double
    for (Index i = 0; i < rows * out; ++i) CHECK(double(acc[std::size_t(i)]) == want.data()[i]);
    // one row at a time takes the other path (quarters decoded on the fly): the same integers
    for (Index r = 0; r < rows; ++r) {
      std::vector<std::int32_t> one(static_cast<std::size_t>(out));
      ternary_accumulate(x.data() + r * in, 1, pack_ternary(t, 1.0), one.data());
      for (Index o = 0; o < out; ++o) CHECK(double(one[std::size_t(o)]) == want.data()[r * out + o]);
    }
  }
  // all +1 weights against all +127: 2101 * 127 = 266827
  const auto ones = pack_ternary(Tensor64::ones({1, 2101}), 1.0);
  std::vector<std::int8_t> x(2101, 127);
  std::int32_t acc = 0;
  ternary_accumulate(x.data(), 1, ones, &acc);
  CHECK(acc == 266827);
}

TEST_CASE("ternary_linear: inference from the packed weight matches BitLinear's forward") {
  Generator gen(33);
  BitLinear layer(40, 12, gen);
  const auto x = Tensor::randn({6, 40}, gen);
  const auto packed = pack_ternary(quantize_ternary(layer.weight));
  const auto y = ternary_linear(x, packed);
  const auto want = layer(x);
  REQUIRE(y.shape() == want.shape());
  for (Index i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == doctest::Approx(want.data()[i]).epsilon(1e-5));
  // and the integer part is the same integers BitLinear's float product multiplies
  const auto xq = quantize_int8(rms_normalize(x));
  const auto yq = ternary_matmul(xq, packed);
  for (Index i = 0; i < y.numel(); ++i) CHECK(yq.data()[i] == y.data()[i]);
  CHECK_THROWS_WITH_SUBSTR(ternary_linear(Tensor::zeros({2, 39}), packed), ShapeError,
                           "ternary_linear: input [2x39] and packed weight [12x40]: input features differ");
}

TEST_CASE("save/load_packed_ternary: a bit-exact round trip, and damaged files are clear errors") {
  Generator gen(34);
  const auto p = pack_ternary(random_ternary(gen, 7, 10), 0.0625);
  const auto path = temp_path("roundtrip");
  save_packed_ternary(path, p);
  const auto entries = inspect_safetensors(path);
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].name == "packed");
  CHECK(entries[0].dtype == "U8");
  CHECK(entries[0].shape == Shape{7, 3});
  const auto q = load_packed_ternary(path);
  CHECK(q.bytes == p.bytes);
  CHECK(q.scale == p.scale);
  CHECK(q.in_features == 10);
  CHECK(q.out_features == 7);
  // a float loader refuses the U8 tensor by name
  CHECK_THROWS_WITH_SUBSTR(load_safetensors<float>(path), IoError, "tensor \"packed\" is U8, but F32 was requested");

  const auto bad = temp_path("bad");
  const double scale = 1.0;
  const auto* s = reinterpret_cast<const std::uint8_t*>(&scale);
  auto write = [&](Shape shape, std::vector<std::uint8_t> bytes, std::string in) {
    save_safetensors_bytes(bad, {{"packed", "U8", shape, bytes}, {"scale", "F64", Shape{}, {s, 8}}},
                           {{"format", kPackedTernaryFormat}, {"in_features", in}});
  };
  write(Shape{7, 4}, std::vector<std::uint8_t>(28, 0), "10");  // one byte per row too many
  CHECK_THROWS_WITH_SUBSTR(load_packed_ternary(bad), IoError,
                           "'packed' [7x4] has 4 bytes per row; in_features 10 needs 3");
  write(Shape{1, 3}, {0x03, 0, 0}, "10");  // code 0b11
  CHECK_THROWS_WITH_SUBSTR(load_packed_ternary(bad), IoError, "invalid code 3 at row 0, byte 0, bits 0-1");
  write(Shape{1, 3}, {0, 0, 0x40}, "10");  // weight 10 is padding (quarter 3, position 1)
  CHECK_THROWS_WITH_SUBSTR(load_packed_ternary(bad), IoError, "(padding must be 0)");
  write(Shape{1, 3}, {0, 0, 0}, "ten");
  CHECK_THROWS_WITH_SUBSTR(load_packed_ternary(bad), IoError, "metadata in_features 'ten' is not a positive integer");
  save_safetensors(bad, NamedTensors<float>{{"w", Tensor::zeros({2})}});
  CHECK_THROWS_WITH_SUBSTR(load_packed_ternary(bad), IoError, "metadata format is '', expected");
  // a save that fails leaves the previous file intact
  CHECK_THROWS_WITH_SUBSTR(save_safetensors_bytes(path, {{"packed", "U8", Shape{2, 2}, {s, 3}}}), ValueError,
                           "tensor \"packed\" U8 [2x2] needs 4 bytes, got 3");
  CHECK(load_packed_ternary(path).bytes == p.bytes);
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

TEST_CASE("save_packed_ternary: docs/read_packed_ternary.py (the numpy recipe) reads back every code and the scale") {
  Generator gen(35);
  for (const Index in : {Index(1), Index(6), Index(13)}) {
    INFO("in = ", in);
    const auto t = random_ternary(gen, 4, in);
    const auto path = temp_path("numpy");
    save_packed_ternary(path, pack_ternary(t, 0.375));
    const std::string command =
        "/usr/bin/python3 '" + std::string(EMBER_SOURCE_DIR) + "/docs/read_packed_ternary.py' '" + path + "'";
    std::FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    CHECK(::pclose(pipe) == 0);
    std::istringstream in_text(output);
    Index rows = 0, cols = 0;
    std::string scale;
    in_text >> rows >> cols >> scale;
    CHECK(rows == 4);
    CHECK(cols == in);
    CHECK(scale == "0.375");
    for (Index i = 0; i < t.numel(); ++i) {
      int v = 9;
      in_text >> v;
      CHECK(double(v) == t.data()[i]);
    }
    std::remove(path.c_str());
  }
}

TEST_CASE("pack_ternary: a non-ternary value, a zero or non-finite scale, a non-matrix are clear errors") {
  CHECK_THROWS_WITH_SUBSTR(pack_ternary(Tensor64::from({{1.0, 0.5}, {0.0, -1.0}}), 1.0), ValueError,
                           "pack_ternary: value 0.5 at [0, 1] of [2x2] is not -1, 0 or 1");
  CHECK_THROWS_WITH_SUBSTR(pack_ternary(Tensor64::from({{1.0, 0.0}}), 0.0), ValueError,
                           "pack_ternary: scale 0 must be finite and positive");
  CHECK_THROWS_WITH_SUBSTR(pack_ternary(Tensor64::ones({1, 1}), std::nan("")), ValueError,
                           "pack_ternary: scale nan must be finite and positive");
  CHECK_THROWS_WITH_SUBSTR(pack_ternary(Tensor64::from({1.0, 0.0}), 1.0), ValueError,
                           "pack_ternary: weight [2] must be 2-D [out, in]");
  TernaryWeights<float> w{{1, 2}, Shape{1, 2}, 1.0f};
  CHECK_THROWS_WITH_SUBSTR(pack_ternary(w), ValueError, "pack_ternary: value 2 at flat index 1 is not -1, 0 or 1");
  PackedTernary zero_scale = pack_ternary(Tensor64::ones({1, 1}), 1.0);
  zero_scale.scale = 0;
  CHECK_THROWS_WITH_SUBSTR(save_packed_ternary(temp_path("zero"), zero_scale), ValueError,
                           "scale 0 must be finite and positive");
}

TEST_CASE("ternary_accumulate: an activation of -128 (no positive counterpart) is refused") {
  Generator gen(33);
  const auto t = random_ternary(gen, 2, 5);
  std::vector<std::int8_t> x{1, 2, -128, 4, 5};
  std::vector<std::int32_t> acc(2, 0);
  CHECK_THROWS_WITH_SUBSTR(ternary_accumulate(x.data(), 1, pack_ternary(t, 1.0), acc.data()), ValueError,
                           "ternary_accumulate: activation -128 at flat index 2");
}
