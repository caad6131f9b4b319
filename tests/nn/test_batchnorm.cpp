// BatchNorm1d / BatchNorm2d: outputs and running statistics after two
// training steps against PyTorch's definitions, eval with the running
// statistics, gradcheck in train and eval, buffers in the state_dict and a
// checkpoint round trip, and errors.
#include <ember/ember.hpp>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;

void check_values(const Tensor64& got, const std::vector<double>& want, double rel = 1e-12) {
  REQUIRE(got.numel() == Index(want.size()));
  for (Index i = 0; i < got.numel(); ++i) {
    CAPTURE(i);
    CHECK(got.values()[i] == doctest::Approx(want[std::size_t(i)]).epsilon(rel));
  }
}

template <class F>
Tensor64 generated(const Shape& s, F f) {
  auto t = Tensor64::empty(s);
  for (Index i = 0; i < t.numel(); ++i) t.values()[i] = f(double(i));
  return t;
}

template <class T>
std::vector<std::string> names(const std::vector<std::pair<std::string, TensorT<T>>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, p] : named) out.push_back(name);
  return out;
}

}  // namespace

// Expected numbers: numpy, from PyTorch's definitions (normalize with the
// biased batch variance; running = 0.9 running + 0.1 batch with the unbiased one);
// PyTorch 1.13's nn.BatchNorm1d/2d give the same outputs and running statistics to 1e-15.
TEST_CASE("BatchNorm1d [N, C]: two training steps, then eval, against PyTorch's definition") {
  BatchNorm1d64 bn(3);
  bn.weight.values() << 1.5, -0.5, 2.0;
  bn.bias.values() << 0.1, 0.0, -0.2;
  const auto x1 = Tensor64::from({{1.0, -2.0, 0.5}, {3.0, 0.0, 0.25}, {-1.0, 4.0, 0.75}, {2.0, 1.0, 0.5}});
  const auto x2 = Tensor64::from({{0.5, 1.0, -0.5}, {1.5, -1.0, 0.0}, {2.5, 3.0, 1.0}, {-0.5, 2.0, 0.5}});
  bn(x1);
  const auto y2 = bn(x2);
  check_values(y2, {-0.5708177099844635, 0.0845152322953986, -2.8832386415249327, 0.7708177099844634,
                    0.7606370906585875, -1.0944128805083109, 2.11245312995339, -0.5916066260677902,
                    2.4832386415249323, -1.91245312995339, -0.2535456968861958, 0.6944128805083107});
  check_values(bn.running_mean, {0.21250000000000002, 0.1925, 0.07});
  check_values(bn.running_var, {1.2391666666666667, 1.6641666666666668, 0.8554166666666666});
  CHECK(bn.num_batches_tracked.item() == 2.0);
  bn.eval();
  check_values(bn(Tensor64::from({{1.0, 2.0, 3.0}})), {1.1611461627090063, -0.7005652576814838, 6.135869502963986});
  CHECK(bn.num_batches_tracked.item() == 2.0);  // eval changes no statistic
  check_values(bn.running_mean, {0.21250000000000002, 0.1925, 0.07});
}

TEST_CASE("BatchNorm1d [N, C, L] and BatchNorm2d [N, C, H, W] against PyTorch's definition") {
  SUBCASE("[2, 2, 3], momentum 0.1") {
    BatchNorm1d64 bn(2);
    const auto y = bn(generated({2, 2, 3}, [](double i) { return std::sin(i); }));
    check_values(y, {-1.0743723775356933, 0.6654752649055378, 0.8057150086047942, 1.0943032437055455,
                     -0.5649234975080455, -0.9384143723107117, -1.6520992446289495, 0.2840304735826043,
                     0.9712508750717059, 1.5950679739376967, -0.1717352638514172, -1.0142980839730684});
    check_values(bn.running_mean, {0.05196162931294706, -0.04510832656849194});
    check_values(bn.running_var, {0.9280684565576647, 0.9351424998160021});
  }
  SUBCASE("[2, 2, 2, 2], momentum 0.3, no affine: two steps and eval") {
    BatchNorm2d64 bn(2, {.momentum = 0.3, .affine = false});
    CHECK(bn.named_parameters().empty());
    const auto x1 = generated({2, 2, 2, 2}, [](double i) { return std::pow(i, 1.5) / 10; });
    bn(x1);
    const auto y2 = bn(generated({2, 2, 2, 2}, [](double i) { return std::cos(i); }));
    check_values(y2, {1.8144228955195119, 1.1305435487656357, -0.2923389739616726, -1.1460330432258774,
                      -1.484297181647674, -0.03915108028325317, 1.0038948908105554, 0.68586907606305,
                      0.11029467206388012, -1.0287119118618802, -0.9215121591768793, 0.33333497187728195,
                      0.8245573825172089, 0.9226053399766794, -0.26568125025446876, -1.6477971771820976});
    check_values(bn.running_mean, {0.266847077055373, 0.7524233455344258});
    check_values(bn.running_var, {1.1247822200716817, 1.5033189993758123});
    bn.eval();
    check_values(bn(x1), {-0.2516090732917046, -0.15731946140305966, 0.015082222555929664, 0.2383341219595461,
                          0.03880314102287713, 0.29818913304255223, 0.585000115727888, 0.896827113169287,
                          1.8819212934893699, 2.29421044770171, 2.730090259322384, 3.188346833599856,
                          2.7766819774524527, 3.209186133799259, 3.6586619152438664, 4.124491128301651});
  }
  SUBCASE("float agrees") {
    BatchNorm2d bn(2);
    auto x = Tensor::empty({2, 2, 2, 2});
    for (Index i = 0; i < 16; ++i) x.values()[i] = std::cos(float(i));
    const auto y = bn(x);
    const float want[] = {1.8144228955195119f, 1.1305435487656357f, -0.2923389739616726f};
    for (int i = 0; i < 3; ++i) CHECK(y.values()[i] == doctest::Approx(want[i]).epsilon(1e-5));
  }
}

TEST_CASE("BatchNorm: gradcheck and gradgradcheck in double, train and eval") {
  Generator gen(5);
  const auto x2 = Tensor64::randn({5, 3}, gen), x4 = Tensor64::randn({2, 3, 2, 2}, gen);
  const auto w = Tensor64::randn({3}, gen), b = Tensor64::randn({3}, gen);
  const auto through = [](bool train, bool four) {
    return [train, four](const Inputs& in) {
      std::unique_ptr<BatchNormT<double>> bn;
      if (four) bn = std::make_unique<BatchNorm2d64>(3);
      else bn = std::make_unique<BatchNorm1d64>(3);
      bn->running_mean.values() << 0.5, -1.0, 0.25;
      bn->running_var.values() << 2.0, 0.5, 1.5;
      bn->weight = in[1];
      bn->bias = in[2];
      bn->train(train);
      return (*bn)(in[0]);
    };
  };
  CHECK_GRAD_AND_GRADGRAD(through(true, false), {x2, w, b});
  CHECK_GRAD_AND_GRADGRAD(through(true, true), {x4, w, b});
  CHECK_GRAD_AND_GRADGRAD(through(false, false), {x2, w, b});
  CHECK_GRAD_AND_GRADGRAD(through(false, true), {x4, w, b});
  // Nearly constant channels: the variance is far below eps.
  CHECK_GRAD_AND_GRADGRAD(through(true, false), {Tensor64::randn({4, 3}, gen, 3.0, 1e-4), w, b});
}

TEST_CASE("BatchNorm: torch.nn names, buffers in the checkpoint, a round trip into a fresh layer") {
  auto model = SequentialT<double>().add(BatchNorm1d64(3)).add(BatchNorm2d64(2, {.affine = false}));
  CHECK(names(model.state_dict()) ==
        std::vector<std::string>{"0.weight", "0.bias", "0.running_mean", "0.running_var", "0.num_batches_tracked",
                                 "1.running_mean", "1.running_var", "1.num_batches_tracked"});
  CHECK(model.named_parameters().size() == 2);
  auto& bn = dynamic_cast<BatchNorm1d64&>(model[0]);
  Generator gen(7);
  bn(Tensor64::randn({6, 3}, gen, 2.0, 3.0));
  bn(Tensor64::randn({6, 3}, gen, -1.0, 0.5));
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ember_test_batchnorm_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  save_module(path, model);
  auto fresh = SequentialT<double>().add(BatchNorm1d64(3)).add(BatchNorm2d64(2, {.affine = false}));
  load_module(path, fresh);
  std::filesystem::remove(path);
  auto& loaded = dynamic_cast<BatchNorm1d64&>(fresh[0]);
  CHECK((std::as_const(loaded.running_mean).values() == std::as_const(bn.running_mean).values()).all());
  CHECK((std::as_const(loaded.running_var).values() == std::as_const(bn.running_var).values()).all());
  CHECK(loaded.num_batches_tracked.item() == 2.0);
  // The loaded layer computes what the trained one does in eval.
  model.eval(), fresh.eval();
  const auto x = Tensor64::randn({2, 3}, gen);
  CHECK((bn(x).values() == loaded(x).values()).all());
  CHECK(bn.str() == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
}

TEST_CASE("BatchNorm: errors name the layer and the shapes") {
  BatchNorm1d bn1(4);
  BatchNorm2d bn2(3);
  CHECK_THROWS_WITH_SUBSTR(bn1(Tensor::ones({2, 4, 2, 2})), ShapeError,
                           "BatchNorm1d: input [2x4x2x2] must be rank 2 [N, C] or 3 [N, C, L]");
  CHECK_THROWS_WITH_SUBSTR(bn2(Tensor::ones({2, 3, 4})), ShapeError,
                           "BatchNorm2d: input [2x3x4] must be rank 4 [N, C, H, W]");
  CHECK_THROWS_WITH_SUBSTR(bn1(Tensor::ones({2, 3})), ShapeError,
                           "BatchNorm1d: input [2x3] has 3 channels (axis 1), expected 4");
  CHECK_THROWS_WITH_SUBSTR(bn1(Tensor::ones({1, 4})), ValueError,
                           "BatchNorm1d: input [1x4] has 1 value per channel; training needs more than 1");
  bn1.eval();
  CHECK(bn1(Tensor::ones({1, 4})).shape() == Shape{1, 4});  // fine in eval
  CHECK_THROWS_WITH_SUBSTR(BatchNorm1d(0), ValueError, "BatchNorm1d: num_features must be positive, got 0");
  CHECK_THROWS_WITH_SUBSTR(BatchNorm2d(2, {.momentum = 1.5}), ValueError,
                           "BatchNorm2d: momentum must be in [0, 1], got 1.5");
}

namespace {
// A BatchNorm1d(3) state_dict as PyTorch writes it: float tensors, and
// num_batches_tracked an int64 scalar (or `count_dtype`, or with `weight_dtype`).
std::string torch_style_file(std::int64_t count, const std::string& count_dtype = "I64",
                             const std::string& float_dtype = "F32", const std::string& weight_dtype = "") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ember_test_batchnorm_i64_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  auto floats = [&](std::vector<double> v) {
    std::vector<std::uint8_t> b;
    for (const double x : v) {
      const auto f = static_cast<float>(x);
      const auto* p = float_dtype == "F32" ? reinterpret_cast<const std::uint8_t*>(&f)
                                           : reinterpret_cast<const std::uint8_t*>(&x);
      b.insert(b.end(), p, p + (float_dtype == "F32" ? 4 : 8));
    }
    return b;
  };
  std::vector<std::uint8_t> weight = floats({1.5, 2.0, 0.5});
  if (weight_dtype == "I32") weight = {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0};
  const std::vector<std::uint8_t> bias = floats({0.1, 0.2, 0.3}), mean = floats({-1.0, 0.0, 1.0}),
                                  var = floats({4.0, 1.0, 0.25});
  std::vector<std::uint8_t> counted(count_dtype == "I64" ? 8 : 4);
  if (count_dtype == "I64") std::memcpy(counted.data(), &count, 8);
  else {
    const auto narrow = static_cast<std::int32_t>(count);
    std::memcpy(counted.data(), &narrow, 4);
  }
  save_safetensors_bytes(path, {{"weight", weight_dtype.empty() ? float_dtype : weight_dtype, Shape{3}, weight},
                                {"bias", float_dtype, Shape{3}, bias},
                                {"running_mean", float_dtype, Shape{3}, mean},
                                {"running_var", float_dtype, Shape{3}, var},
                                {"num_batches_tracked", count_dtype, Shape{}, counted}});
  return path;
}
}  // namespace

TEST_CASE("BatchNorm: a PyTorch state_dict's int64 num_batches_tracked loads when it converts exactly") {
  const std::string path = torch_style_file(5);
  BatchNorm1d bn(3);
  load_module(path, bn);
  CHECK(bn.num_batches_tracked.item() == 5.0f);
  CHECK(bn.weight.to_vector() == std::vector<float>{1.5f, 2.0f, 0.5f});
  CHECK(bn.running_var.to_vector() == std::vector<float>{4.0f, 1.0f, 0.25f});

  // The largest exact count: 2^24 in float; 2^24 + 1 in double.
  torch_style_file(std::int64_t{1} << 24);
  load_module(path, bn);
  CHECK(bn.num_batches_tracked.item() == 16777216.0f);
  torch_style_file((std::int64_t{1} << 24) + 1, "I64", "F64");
  BatchNorm1d64 bn64(3);
  load_module(path, bn64);
  CHECK(bn64.num_batches_tracked.item() == 16777217.0);
  torch_style_file(-7, "I32", "F64");
  load_module(path, bn64);
  CHECK(bn64.num_batches_tracked.item() == -7.0);
  std::filesystem::remove(path);
}

TEST_CASE("BatchNorm: an integer count beyond exact, or an integer parameter, is refused; nothing changed") {
  BatchNorm1d bn(3);
  Generator gen(1);
  bn(Tensor::randn({4, 3}, gen));
  const auto before = [&] {
    std::vector<std::vector<float>> out;
    for (const auto& [name, t] : bn.state_dict()) out.push_back(t.to_vector());
    return out;
  };
  const auto kept = before();
  std::string path = torch_style_file((std::int64_t{1} << 24) + 1);
  CHECK_THROWS_WITH_SUBSTR(load_module(path, bn), IoError,
                           "load_into: " + path +
                               ": tensor \"num_batches_tracked\" (I64 []) holds 16777217 at element 0, beyond the "
                               "2^24 that F32 holds exactly");
  CHECK(before() == kept);
  torch_style_file(std::int64_t{1} << 60, "I64", "F64");
  BatchNorm1d64 bn64(3);
  CHECK_THROWS_WITH_SUBSTR(load_module(path, bn64), IoError,
                           "holds 1152921504606846976 at element 0, beyond the 2^53 that F64 holds exactly");
  torch_style_file(-(std::int64_t{1} << 25));
  CHECK_THROWS_WITH_SUBSTR(load_module(path, bn), IoError, "holds -33554432 at element 0");
  CHECK(before() == kept);
  torch_style_file(5, "I64", "F32", "I32");  // parameters stay float
  CHECK_THROWS_WITH_SUBSTR(load_module(path, bn), IoError,
                           "load_into: " + path + ": tensor \"weight\" is I32 in the file, F32 in the model");
  CHECK(before() == kept);
  // load_into alone (no buffer names) keeps the old rule: every tensor is F32.
  torch_style_file(5);
  CHECK_THROWS_WITH_SUBSTR(load_into(path, bn.state_dict()), IoError,
                           "tensor \"num_batches_tracked\" is I64 in the file, F32 in the model");
  std::filesystem::remove(path);
}
