// The ember side of the convolution benchmarks: one conv2d layer forward +
// backward, and a digits_cnn training step. Also the shared setup.
#include <ember/ember.hpp>

#include "workloads.hpp"

namespace bench {

std::vector<ConvSpec> conv_specs() {
  return {{"conv2d_1x28x28_16", 64, 1, 28, 16, 3, false}, {"conv2d_16x14x14_32", 64, 16, 14, 32, 3, true}};
}

namespace {

std::vector<float> draw(std::size_t n, double scale, ember::Generator& gen) {
  std::vector<float> v(n);
  for (auto& e : v) e = static_cast<float>(gen.uniform(-scale, scale));
  return v;
}

ember::Tensor tensor(const std::vector<float>& v, ember::Shape s) { return ember::Tensor::from_data(v, s); }

class EmberConv final : public Task {
 public:
  EmberConv(const ConvSpec& s, const ConvInit& init) : spec_(s) {
    const int k = s.kernel;
    x_ = tensor(init.x, {s.batch, s.in_channels, s.size, s.size});
    w_ = tensor(init.w, {s.out_channels, s.in_channels, k, k});
    b_ = tensor(init.b, {s.out_channels});
    if (s.input_grad) x_.requires_grad_();
    w_.requires_grad_();
    b_.requires_grad_();
    upstream_ = ember::Tensor::ones({s.batch, s.out_channels, s.size, s.size});
  }
  void run() override { ember::conv2d(x_, w_, b_, 1, (spec_.kernel - 1) / 2).backward(upstream_); }
  double checksum() override {
    w_.zero_grad();
    b_.zero_grad();
    if (spec_.input_grad) x_.zero_grad();
    auto y = ember::conv2d(x_, w_, b_, 1, (spec_.kernel - 1) / 2);
    y.backward(upstream_);
    double s = ember::sum(y).item() + ember::sum(w_.grad()).item() + ember::sum(b_.grad()).item();
    if (spec_.input_grad) s += ember::sum(x_.grad()).item();
    return s;
  }

 private:
  ConvSpec spec_;
  ember::Tensor x_, w_, b_, upstream_;
};

class EmberCnn final : public Task {
 public:
  explicit EmberCnn(const CnnInit& init)
      : net_{ember::Conv2d(1, 16, 3, gen_, {.padding = 1}), ember::Activation("relu"), ember::MaxPool2d(2),
             ember::Conv2d(16, 32, 3, gen_, {.padding = 1}), ember::Activation("relu"), ember::MaxPool2d(2)},
        head_(128, 10, gen_) {
    auto& c1 = static_cast<ember::Conv2d&>(net_[0]);
    auto& c2 = static_cast<ember::Conv2d&>(net_[3]);
    c1.weight.values() = tensor(init.w1, c1.weight.shape()).values();
    c1.bias.values() = tensor(init.b1, c1.bias.shape()).values();
    c2.weight.values() = tensor(init.w2, c2.weight.shape()).values();
    c2.bias.values() = tensor(init.b2, c2.bias.shape()).values();
    head_.weight.values() = tensor(init.w3, head_.weight.shape()).values();
    head_.bias.values() = tensor(init.b3, head_.bias.shape()).values();
    auto params = net_.parameters();
    for (const auto& p : head_.parameters()) params.push_back(p);
    opt_ = std::make_unique<ember::Adam>(params, ember::AdamOptions{.lr = 1e-3});
    x_ = tensor(init.x, {init.batch, 1, 8, 8});
    for (auto l : init.labels) labels_.push_back(l);
  }
  void run() override {
    auto loss = ember::cross_entropy(head_(ember::flatten(net_(x_), 1)), labels_);
    opt_->zero_grad();
    loss.backward();
    opt_->step();
    loss_ = loss.item();
  }
  double checksum() override {
    for (int i = 0; i < 3; ++i) run();
    return loss_;
  }

 private:
  ember::Generator gen_{0};
  ember::Sequential net_;
  ember::Linear head_;
  std::unique_ptr<ember::Adam> opt_;
  ember::Tensor x_;
  std::vector<ember::Index> labels_;
  double loss_ = 0;
};

}  // namespace

ConvInit make_conv_init(const ConvSpec& s, std::uint64_t seed) {
  ember::Generator gen(seed);
  ConvInit init;
  init.x = draw(std::size_t(s.batch) * s.in_channels * s.size * s.size, 1.0, gen);
  init.w = draw(std::size_t(s.out_channels) * s.in_channels * s.kernel * s.kernel, 0.3, gen);
  init.b = draw(std::size_t(s.out_channels), 0.3, gen);
  return init;
}

CnnInit make_cnn_init(int batch, std::uint64_t seed) {
  ember::Generator gen(seed);
  CnnInit init;
  init.batch = batch;
  init.w1 = draw(16 * 9, 1.0 / 3.0, gen);  // PyTorch's bounds 1/sqrt(fan_in)
  init.b1 = draw(16, 1.0 / 3.0, gen);
  init.w2 = draw(32 * 16 * 9, 1.0 / 12.0, gen);
  init.b2 = draw(32, 1.0 / 12.0, gen);
  init.w3 = draw(10 * 128, 1.0 / std::sqrt(128.0), gen);
  init.b3 = draw(10, 1.0 / std::sqrt(128.0), gen);
  for (int i = 0; i < batch * 64; ++i) init.x.push_back(static_cast<float>(gen.uniform(0.0, 1.0)));
  for (int i = 0; i < batch; ++i) init.labels.push_back(static_cast<std::int64_t>(gen.uniform(0.0, 10.0)) % 10);
  return init;
}

std::unique_ptr<Task> make_ember_conv(const ConvSpec& spec, const ConvInit& init) {
  return std::make_unique<EmberConv>(spec, init);
}
std::unique_ptr<Task> make_ember_cnn(const CnnInit& init) { return std::make_unique<EmberCnn>(init); }

}  // namespace bench
