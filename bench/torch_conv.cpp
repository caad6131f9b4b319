// The libtorch side of the convolution benchmarks (see ember_conv.cpp).
#include <torch/torch.h>

#include "workloads.hpp"

namespace bench {

namespace {

torch::Tensor from(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat).clone();
}

class TorchConv final : public Task {
 public:
  TorchConv(const ConvSpec& s, const ConvInit& init) : spec_(s) {
    const int k = s.kernel;
    x_ = from(init.x, {s.batch, s.in_channels, s.size, s.size});
    w_ = from(init.w, {s.out_channels, s.in_channels, k, k}).requires_grad_(true);
    b_ = from(init.b, {s.out_channels}).requires_grad_(true);
    if (s.input_grad) x_.requires_grad_(true);
    upstream_ = torch::ones({s.batch, s.out_channels, s.size, s.size});
  }
  void run() override {
    torch::conv2d(x_, w_, b_, 1, (spec_.kernel - 1) / 2).backward(upstream_);
  }
  double checksum() override {
    for (auto* t : {&x_, &w_, &b_})
      if (t->requires_grad()) t->mutable_grad() = torch::Tensor();
    auto y = torch::conv2d(x_, w_, b_, 1, (spec_.kernel - 1) / 2);
    y.backward(upstream_);
    double s = y.sum().item<double>() + w_.grad().sum().item<double>() + b_.grad().sum().item<double>();
    if (spec_.input_grad) s += x_.grad().sum().item<double>();
    return s;
  }

 private:
  ConvSpec spec_;
  torch::Tensor x_, w_, b_, upstream_;
};

class TorchCnn final : public Task {
 public:
  explicit TorchCnn(const CnnInit& init)
      : c1_(torch::nn::Conv2dOptions(1, 16, 3).padding(1)),
        c2_(torch::nn::Conv2dOptions(16, 32, 3).padding(1)),
        fc_(128, 10) {
    {
      torch::NoGradGuard no_grad;
      c1_->weight.copy_(from(init.w1, {16, 1, 3, 3}));
      c1_->bias.copy_(from(init.b1, {16}));
      c2_->weight.copy_(from(init.w2, {32, 16, 3, 3}));
      c2_->bias.copy_(from(init.b2, {32}));
      fc_->weight.copy_(from(init.w3, {10, 128}));
      fc_->bias.copy_(from(init.b3, {10}));
    }
    std::vector<torch::Tensor> params;
    for (auto& p : c1_->parameters()) params.push_back(p);
    for (auto& p : c2_->parameters()) params.push_back(p);
    for (auto& p : fc_->parameters()) params.push_back(p);
    opt_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(1e-3));
    x_ = from(init.x, {init.batch, 1, 8, 8});
    labels_ = torch::from_blob(const_cast<std::int64_t*>(init.labels.data()), {init.batch}, torch::kLong).clone();
  }
  void run() override {
    auto h = torch::max_pool2d(torch::relu(c1_->forward(x_)), 2);
    h = torch::max_pool2d(torch::relu(c2_->forward(h)), 2);
    auto loss = torch::nn::functional::cross_entropy(fc_->forward(h.flatten(1)), labels_);
    opt_->zero_grad();
    loss.backward();
    opt_->step();
    loss_ = loss.item<double>();
  }
  double checksum() override {
    for (int i = 0; i < 3; ++i) run();
    return loss_;
  }

 private:
  torch::nn::Conv2d c1_, c2_;
  torch::nn::Linear fc_;
  std::unique_ptr<torch::optim::Adam> opt_;
  torch::Tensor x_, labels_;
  double loss_ = 0;
};

}  // namespace

std::unique_ptr<Task> make_torch_conv(const ConvSpec& spec, const ConvInit& init) {
  return std::make_unique<TorchConv>(spec, init);
}
std::unique_ptr<Task> make_torch_cnn(const CnnInit& init) { return std::make_unique<TorchCnn>(init); }

}  // namespace bench
