// Conv1d, Conv2d and the pooling layers: names, init, forward, printout,
// gradients, a checkpoint round trip.
#include <ember/ember.hpp>

#include <cmath>
#include <filesystem>

#include "../test_helpers.hpp"

using namespace ember;

TEST_CASE("Conv2d: parameter names and shapes as torch.nn, init U(±1/sqrt(fan_in))") {
  Generator gen(1);
  Conv2d64 conv(4, 6, {3, 2}, gen, {.padding = 1, .groups = 2});
  const auto named = conv.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[0].second.shape() == Shape{6, 2, 3, 2});
  CHECK(named[1].first == "bias");
  CHECK(named[1].second.shape() == Shape{6});
  const double bound = 1.0 / std::sqrt(2.0 * 3 * 2);  // fan_in = in/groups · kh · kw = 12
  for (const auto& [name, t] : named) {
    const auto v = t.to_vector();
    double largest = 0;
    for (double e : v) largest = std::max(largest, std::abs(e));
    CHECK(largest <= bound);
    CHECK(largest > 0.5 * bound);  // drawn, not zero
  }
  Conv2d64 no_bias(1, 2, 3, gen, {.bias = false});
  CHECK(no_bias.named_parameters().size() == 1);
  CHECK(!no_bias.bias.defined());
}

TEST_CASE("Conv2d, Conv1d: the same seed draws the same weights; forward is the functional op") {
  Generator a(7), b(7);
  Conv2d64 c1(3, 4, 3, a, {.stride = 2, .padding = 1}), c2(3, 4, 3, b, {.stride = 2, .padding = 1});
  CHECK(c1.weight.to_vector() == c2.weight.to_vector());
  Generator gen(2);
  auto x = Tensor64::randn({2, 3, 7, 7}, gen);
  CHECK(c1(x).to_vector() == conv2d(x, c1.weight, c1.bias, 2, 1).to_vector());
  CHECK(c1(x).shape() == Shape{2, 4, 4, 4});
  Conv1d64 c3(2, 4, 3, gen, {.padding = 2, .dilation = 2, .groups = 2});
  CHECK(c3.weight.shape() == Shape{4, 1, 3});
  auto s = Tensor64::randn({1, 2, 5}, gen);
  CHECK(c3(s).to_vector() == conv1d(s, c3.weight, c3.bias, 1, 2, 2, 2).to_vector());
}

TEST_CASE("conv layers: printout as PyTorch's") {
  Generator gen(1);
  CHECK(Conv2d(1, 16, 3, gen).str() == "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1))");
  CHECK(Conv2d(4, 8, {3, 5}, gen, {.stride = {2, 1}, .padding = 1, .groups = 2, .bias = false}).str() ==
        "Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 1), padding=(1, 1), groups=2, bias=False)");
  CHECK(Conv1d(2, 3, 5, gen, {.padding = 2}).str() == "Conv1d(2, 3, kernel_size=(5,), stride=(1,), padding=(2,))");
  CHECK(MaxPool2d(2).str() == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))");
  CHECK(AdaptiveAvgPool2d(1).str() == "AdaptiveAvgPool2d(output_size=(1, 1))");
}

TEST_CASE("conv layers: errors for bad channel counts") {
  Generator gen(1);
  CHECK_THROWS_WITH_SUBSTR(Conv2d(3, 4, 3, gen, {.groups = 2}), ValueError,
                           "Conv2d: in_channels 3 and out_channels 4 must both be divisible by groups 2");
  CHECK_THROWS_WITH_SUBSTR(Conv1d(0, 4, 3, gen), ValueError, "Conv1d: in_channels and out_channels must be positive");
  CHECK_THROWS_WITH_SUBSTR(Conv2d(1, 4, 0, gen), ValueError, "Conv2d: kernel_size (0, 0) must be positive");
}

TEST_CASE("conv layers: a small CNN gradchecks, trains a step, and round-trips a checkpoint") {
  Generator gen(3);
  Sequential64 net{Conv2d64(1, 2, 3, gen, {.padding = 1}), Activation64("tanh"), MaxPool2d64(2),
                   Conv2d64(2, 3, 2, gen), AvgPool2d64(Size2(2, 1), 1), AdaptiveAvgPool2d64(1)};
  auto x = Tensor64::randn({2, 1, 6, 6}, gen);
  const auto params = net.parameters();
  // Through the whole stack, in the input (the layers' own gradients are checked in tests/ops).
  const auto r = gradcheck([&](const auto& in) { return net(in[0]); }, {x});
  CHECK_MESSAGE(r.ok, r.message);
  auto y = net(x);
  CHECK(y.shape() == Shape{2, 3, 1, 1});
  sum(y).backward();
  for (const auto& p : params) CHECK(p.grad().defined());

  const auto path = (std::filesystem::temp_directory_path() / "ember_test_conv_layers.safetensors").string();
  save_safetensors(path, net.named_parameters());
  Generator other(99);
  Sequential64 again{Conv2d64(1, 2, 3, other, {.padding = 1}), Activation64("tanh"), MaxPool2d64(2),
                     Conv2d64(2, 3, 2, other), AvgPool2d64(Size2(2, 1), 1), AdaptiveAvgPool2d64(1)};
  load_into(path, again.named_parameters());
  CHECK(again(x).to_vector() == net(x).to_vector());
  std::filesystem::remove(path);
}

TEST_CASE("conv layers: the docs/api.md example runs with the shapes it states") {
  Generator gen(0);
  auto x = Tensor::randn({32, 1, 8, 8}, gen);
  Conv2d conv1(1, 16, 3, gen, {.padding = 1});
  Conv2d conv2(16, 32, 3, gen, {.stride = 2, .padding = 1, .groups = 4});
  auto h = max_pool2d(relu(conv1(x)), 2);
  CHECK(h.shape() == Shape{32, 16, 4, 4});
  auto y = adaptive_avg_pool2d(relu(conv2(h)), 1);
  CHECK(y.shape() == Shape{32, 32, 1, 1});
  auto z = conv2d(x, conv1.weight, conv1.bias, /*stride=*/1, /*padding=*/{1, 1}, /*dilation=*/1, /*groups=*/1);
  CHECK(z.to_vector() == conv1(x).to_vector());
}
