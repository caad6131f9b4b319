// The ember side of the MLP workloads: fused linear layers, the activation,
// a fused loss, backward and ember::SGD, as a user would write the step.
#include <ember/ember.hpp>

#include "../nn/linear.hpp"
#include "../nn/optim.hpp"
#include "../ops/activation.hpp"
#include "../ops/loss.hpp"
#include "workloads.hpp"

namespace bench {

namespace {

using ember::Tensor;

class EmberTrainer final : public Trainer {
 public:
  EmberTrainer(const MlpSpec& spec, const MlpInit& init) : spec_(spec) {
    std::vector<Tensor> params;
    for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
      const ember::Index in = spec.sizes[l], out = spec.sizes[l + 1];
      weights_.push_back(Tensor::from_data(init.weights[l], {out, in}).requires_grad_());
      biases_.push_back(Tensor::from_data(init.biases[l], {out}).requires_grad_());
      params.push_back(weights_.back());
      params.push_back(biases_.back());
    }
    optimizer_ = std::make_unique<ember::SGD>(params, ember::SGDOptions{.lr = spec.lr});
    x_ = Tensor::from_data(init.x, {spec.batch, spec.sizes.front()});
    if (spec.loss == LossKind::cross_entropy) labels_.assign(init.labels.begin(), init.labels.end());
    else target_ = Tensor::from_data(init.target, {spec.batch, spec.sizes.back()});
  }

  void step() override {
    optimizer_->zero_grad();
    Tensor h = x_;
    for (std::size_t l = 0; l < weights_.size(); ++l) {
      h = ember::linear(h, weights_[l], biases_[l]);
      if (l + 1 < weights_.size()) h = spec_.activation == Activation::relu ? ember::relu(h) : ember::sigmoid(h);
    }
    switch (spec_.loss) {
      case LossKind::mse: loss_ = ember::mse_loss(h, target_); break;
      case LossKind::bce_with_logits: loss_ = ember::binary_cross_entropy_with_logits(h, target_); break;
      case LossKind::cross_entropy: loss_ = ember::cross_entropy(h, std::span<const ember::Index>(labels_)); break;
    }
    loss_.backward();
    optimizer_->step();
  }

  double loss() override { return loss_.item(); }

 private:
  MlpSpec spec_;
  std::vector<Tensor> weights_, biases_;
  std::unique_ptr<ember::SGD> optimizer_;
  Tensor x_, target_, loss_;
  std::vector<ember::Index> labels_;
};

}  // namespace

std::unique_ptr<Trainer> make_ember_trainer(const MlpSpec& spec, const MlpInit& init) {
  return std::make_unique<EmberTrainer>(spec, init);
}

}  // namespace bench
