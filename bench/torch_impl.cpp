// The libtorch side: torch::nn::Linear layers, torch::optim::SGD, and the
// same activations and chain as the ember side. Sees no Eigen and no ember.
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "workloads.hpp"

namespace bench {

bool torch_available() { return true; }

std::string torch_description() {
  std::string config = at::show_config();
  std::string blas = "?";
  const auto pos = config.find("BLAS_INFO=");
  if (pos != std::string::npos) blas = config.substr(pos + 10, config.find_first_of(",\n", pos) - pos - 10);
  // Debian's libtorch is built against the generic BLAS interface; which
  // implementation runs is whatever libblas.so.3 the system selects.
  std::string loaded = "?";
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find("libblas.so") != std::string::npos || line.find("libopenblas") != std::string::npos) {
      loaded = line.substr(line.find('/'));
      break;
    }
  std::ostringstream s;
  s << "libtorch " << TORCH_VERSION << " (built for BLAS " << blas << ", running " << loaded << ", mkldnn " << (at::hasMKLDNN() ? "on" : "off")
    << ", intra-op threads " << at::get_num_threads() << ")";
  return s.str();
}

void torch_set_threads(int threads) {
  static const bool interop_once = [] {
    at::set_num_interop_threads(1);
    return true;
  }();
  (void)interop_once;
  torch::set_num_threads(threads);
  // Debian's libtorch runs its products in the system BLAS (OpenBLAS here),
  // whose own thread pool torch::set_num_threads does not size: without
  // this, libtorch's GEMMs used every core in a "--threads 1" run.
  using SetThreads = void (*)(int);
  if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(threads);
}

namespace {

torch::Tensor from_vector(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat).clone();
}

class TorchTrainer final : public Trainer {
 public:
  TorchTrainer(const MlpSpec& spec, const MlpInit& init) : spec_(spec) {
    std::vector<torch::Tensor> params;
    {
      torch::NoGradGuard no_grad;
      for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
        const int in = spec.sizes[l], out = spec.sizes[l + 1];
        torch::nn::Linear layer(in, out);
        layer->weight.copy_(from_vector(init.weights[l], {out, in}));
        layer->bias.copy_(from_vector(init.biases[l], {out}));
        params.push_back(layer->weight);
        params.push_back(layer->bias);
        layers_.push_back(layer);
      }
    }
    optimizer_ = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(spec.lr));
    x_ = from_vector(init.x, {spec.batch, spec.sizes.front()});
    if (spec.loss == LossKind::cross_entropy)
      labels_ = torch::from_blob(const_cast<std::int64_t*>(init.labels.data()), {spec.batch}, torch::kLong).clone();
    else
      target_ = from_vector(init.target, {spec.batch, spec.sizes.back()});
  }

  void step() override {
    optimizer_->zero_grad();
    torch::Tensor h = x_;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      h = layers_[l]->forward(h);
      if (l + 1 < layers_.size()) h = spec_.activation == Activation::relu ? torch::relu(h) : torch::sigmoid(h);
    }
    switch (spec_.loss) {
      case LossKind::mse: loss_ = torch::mse_loss(h, target_); break;
      case LossKind::bce_with_logits: loss_ = torch::binary_cross_entropy_with_logits(h, target_); break;
      case LossKind::cross_entropy: loss_ = torch::nn::functional::cross_entropy(h, labels_); break;
    }
    loss_.backward();
    optimizer_->step();
  }

  double loss() override { return loss_.item<double>(); }

 private:
  MlpSpec spec_;
  std::vector<torch::nn::Linear> layers_;
  std::unique_ptr<torch::optim::SGD> optimizer_;
  torch::Tensor x_, target_, labels_, loss_;
};

torch::Tensor activation(const std::string& name, const torch::Tensor& x) {
  if (name == "relu") return torch::relu(x);
  if (name == "leaky_relu") return torch::leaky_relu(x, 0.01);
  if (name == "elu") return torch::elu(x);
  if (name == "sigmoid") return torch::sigmoid(x);
  if (name == "tanh") return torch::tanh(x);
  if (name == "gelu") return torch::gelu(x);  // exact (erf) form
  if (name == "silu") return torch::silu(x);
  if (name == "softplus") return torch::softplus(x);
  throw std::invalid_argument("unknown activation " + name);
}

class TorchActivation final : public Task {
 public:
  TorchActivation(std::string name, const std::vector<float>& values, bool backward)
      : name_(std::move(name)), backward_(backward) {
    x_ = from_vector(values, {static_cast<int64_t>(values.size())});
    if (backward_) {
      x_.requires_grad_(true);
      upstream_ = torch::ones_like(x_);
    }
  }
  void run() override {
    torch::Tensor y = activation(name_, x_);
    if (backward_) y.backward(upstream_);
  }
  double checksum() override {
    if (backward_) x_.mutable_grad() = torch::Tensor();
    torch::Tensor y = activation(name_, x_);
    double sum = y.sum().item<double>();
    if (backward_) {
      y.backward(upstream_);
      sum += x_.grad().sum().item<double>();
    }
    return sum;
  }

 private:
  std::string name_;
  bool backward_;
  torch::Tensor x_, upstream_;
};

class TorchChain final : public Task {
 public:
  TorchChain(int length, int width) : length_(length) {
    x_ = torch::linspace(-1.0, 1.0, width);
    a_ = (torch::ones({width}) + 1e-4 * torch::linspace(-1.0, 1.0, width)).requires_grad_(true);
    b_ = (0.01 * torch::linspace(-1.0, 1.0, width)).requires_grad_(true);
    upstream_ = torch::ones({width});
  }
  torch::Tensor forward() {
    torch::Tensor y = x_;
    for (int k = 0; k < length_; ++k) {
      switch (k % 4) {
        case 0: y = y * a_; break;
        case 1: y = y + 0.5; break;
        case 2: y = y * -1.0; break;
        default: y = y + b_; break;
      }
    }
    return y;
  }
  void run() override { forward().backward(upstream_); }
  void build() override { kept_ = forward(); }
  void release() override { kept_ = torch::Tensor(); }
  double checksum() override {
    a_.mutable_grad() = torch::Tensor();
    b_.mutable_grad() = torch::Tensor();
    torch::Tensor y = forward();
    y.backward(upstream_);
    return y.sum().item<double>() + a_.grad().sum().item<double>() + b_.grad().sum().item<double>();
  }

 private:
  int length_;
  torch::Tensor x_, a_, b_, upstream_, kept_;
};

// y = x Wᵀ in float, no grad: the dense product a ternary kernel competes with.
class TorchMatmul final : public Task {
 public:
  TorchMatmul(const std::vector<float>& x, const std::vector<float>& w, int batch, int in, int out) {
    x_ = from_vector(x, {batch, in});
    w_ = from_vector(w, {out, in});
  }
  void run() override {
    torch::NoGradGuard no_grad;
    y_ = torch::matmul(x_, w_.t());
  }
  double checksum() override {
    run();
    return y_.sum().item<double>();
  }

 private:
  torch::Tensor x_, w_, y_;
};

}  // namespace

std::unique_ptr<Task> make_torch_matmul(const std::vector<float>& x, const std::vector<float>& w, int batch, int in,
                                        int out) {
  return std::make_unique<TorchMatmul>(x, w, batch, in, out);
}

std::unique_ptr<Trainer> make_torch_trainer(const MlpSpec& spec, const MlpInit& init) {
  return std::make_unique<TorchTrainer>(spec, init);
}
std::unique_ptr<Task> make_torch_activation(const std::string& name, const std::vector<float>& values, bool backward) {
  return std::make_unique<TorchActivation>(name, values, backward);
}
std::unique_ptr<Task> make_torch_chain(int length, int width) { return std::make_unique<TorchChain>(length, width); }

}  // namespace bench
