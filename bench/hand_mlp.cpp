// The floor: the same MLP step written directly in Eigen, with the backward
// derived by hand, every buffer allocated once, no graph. Its products go
// through the same panelled GEMM as ember's (engine/gemm.hpp, plain Eigen),
// so the floor has the GEMM speed ember has.
#include <Eigen/Core>

#include <cmath>

#include "../engine/gemm.hpp"
#include "workloads.hpp"

namespace bench {

namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Row = Eigen::Matrix<float, 1, Eigen::Dynamic>;

class HandTrainer final : public Trainer {
 public:
  HandTrainer(const MlpSpec& spec, const MlpInit& init) : spec_(spec) {
    const std::size_t layers = spec.sizes.size() - 1;
    const int n = spec.batch;
    for (std::size_t l = 0; l < layers; ++l) {
      const int in = spec.sizes[l], out = spec.sizes[l + 1];
      w_.push_back(Eigen::Map<const Mat>(init.weights[l].data(), out, in));
      b_.push_back(Eigen::Map<const Row>(init.biases[l].data(), out));
      dw_.emplace_back(out, in);
      db_.emplace_back(out);
      z_.emplace_back(l + 1 < layers ? 0 : n, out);  // the output layer's logits
      a_.emplace_back(l + 1 < layers ? n : 0, out);  // hidden layers' activations
      dz_.emplace_back(n, out);
    }
    x_ = Eigen::Map<const Mat>(init.x.data(), n, spec.sizes.front());
    if (spec.loss == LossKind::cross_entropy) labels_ = init.labels;
    else target_ = Eigen::Map<const Mat>(init.target.data(), n, spec.sizes.back());
  }

  void step() override {
    const std::size_t layers = w_.size();
    const float n = static_cast<float>(spec_.batch);
    // Forward: z_l = a_{l-1} W_l^T + b_l, a_l = act(z_l) for hidden layers.
    for (std::size_t l = 0; l < layers; ++l) {
      const Mat& in = l == 0 ? x_ : a_[l - 1];
      Mat& z = l + 1 < layers ? a_[l] : z_[l];  // hidden layers activate in place
      ember::gemm(z, in, w_[l].transpose(), ember::Gemm::assign);
      z.rowwise() += b_[l];
      if (l + 1 < layers) {
        if (spec_.activation == Activation::relu) z = z.cwiseMax(0.0f);
        else z.array() = (1.0f + (-z.array()).exp()).inverse();
      }
    }
    // Loss and dL/dz of the output layer.
    Mat& z = z_.back();
    Mat& dz = dz_.back();
    switch (spec_.loss) {
      case LossKind::mse: {  // L = mean((z-y)^2), dL/dz = 2(z-y)/numel
        dz = z - target_;
        loss_ = dz.squaredNorm() / static_cast<float>(dz.size());
        dz *= 2.0f / static_cast<float>(dz.size());
        break;
      }
      case LossKind::bce_with_logits: {  // L = mean(max(z,0) - zy + log1p(e^-|z|)), dL/dz = (sigmoid(z)-y)/numel
        const float m = static_cast<float>(z.size());
        loss_ = (z.array().max(0.0f) - z.array() * target_.array() + (-z.array().abs()).exp().log1p()).sum() / m;
        dz = (((1.0f + (-z.array()).exp()).inverse() - target_.array()) / m).matrix();
        break;
      }
      case LossKind::cross_entropy: {  // L = mean(logsumexp(z) - z_label), dL/dz = (softmax(z) - onehot)/N
        double total = 0;
        for (Eigen::Index i = 0; i < z.rows(); ++i) {
          const float mx = z.row(i).maxCoeff();
          dz.row(i) = (z.row(i).array() - mx).exp().matrix();
          const float s = dz.row(i).sum();
          total += std::log(s) + mx - z(i, labels_[static_cast<std::size_t>(i)]);
          dz.row(i) /= s * n;
          dz(i, labels_[static_cast<std::size_t>(i)]) -= 1.0f / n;
        }
        loss_ = static_cast<float>(total / static_cast<double>(z.rows()));
        break;
      }
    }
    // Backward and SGD update, layer by layer from the top.
    for (std::size_t l = layers; l-- > 0;) {
      const Mat& in = l == 0 ? x_ : a_[l - 1];
      ember::gemm(dw_[l], dz_[l].transpose(), in, ember::Gemm::assign);  // [out,N] x [N,in]
      db_[l].noalias() = dz_[l].colwise().sum();
      if (l > 0) {
        ember::gemm(dz_[l - 1], dz_[l], w_[l], ember::Gemm::assign);  // dL/da_{l-1}, [N,out] x [out,in]
        if (spec_.activation == Activation::relu)  // d relu = 1 where a > 0
          dz_[l - 1] = (a_[l - 1].array() > 0.0f).select(dz_[l - 1], 0.0f);
        else  // d sigmoid = a (1 - a)
          dz_[l - 1].array() *= a_[l - 1].array() * (1.0f - a_[l - 1].array());
      }
      w_[l].noalias() -= spec_.lr * dw_[l];
      b_[l].noalias() -= spec_.lr * db_[l];
    }
  }

  double loss() override { return loss_; }

 private:
  MlpSpec spec_;
  std::vector<Mat> w_, dw_, z_, a_, dz_;
  std::vector<Row> b_, db_;
  Mat x_, target_;
  std::vector<std::int64_t> labels_;
  float loss_ = 0;
};

}  // namespace

std::unique_ptr<Trainer> make_hand_trainer(const MlpSpec& spec, const MlpInit& init) {
  return std::make_unique<HandTrainer>(spec, init);
}

}  // namespace bench
