// Hand-written floors for scalar_chain (plain floats, the derivative by hand,
// the forward's values kept in one buffer allocated once) and for inference
// (the MLP forward in Eigen through the same engine/gemm.hpp as ember).
#include <Eigen/Core>

#include <cmath>
#include <vector>

#include "../engine/gemm.hpp"
#include "workloads.hpp"

namespace bench {

namespace {

class HandScalarChain final : public Task {
 public:
  explicit HandScalarChain(int length) : y_(static_cast<std::size_t>(length) + 1) {}
  void run() override {
    // Forward: y_{k+1} = tanh(y_k w + b).
    y_[0] = kScalarX;
    for (std::size_t k = 0; k + 1 < y_.size(); ++k) y_[k + 1] = std::tanh(y_[k] * w_ + b_);
    // Backward from dL/dy = 1: d pre = g (1 - y_{k+1}^2), dw += d pre y_k,
    // db += d pre, g = d pre w.
    float g = 1.0f;
    for (std::size_t k = y_.size() - 1; k-- > 0;) {
      const float d = g * (1.0f - y_[k + 1] * y_[k + 1]);
      dw_ += d * y_[k];
      db_ += d;
      g = d * w_;
    }
  }
  double checksum() override {
    dw_ = db_ = 0;
    run();
    return static_cast<double>(y_.back()) + dw_ + db_;
  }

 private:
  std::vector<float> y_;
  float w_ = kScalarW, b_ = kScalarB, dw_ = 0, db_ = 0;
};

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Row = Eigen::Matrix<float, 1, Eigen::Dynamic>;

class HandInference final : public Task {
 public:
  HandInference(const MlpSpec& spec, const MlpInit& init) {
    for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
      const int in = spec.sizes[l], out = spec.sizes[l + 1];
      w_.push_back(Eigen::Map<const Mat>(init.weights[l].data(), out, in));
      b_.push_back(Eigen::Map<const Row>(init.biases[l].data(), out));
      h_.emplace_back(spec.batch, out);
    }
    x_ = Eigen::Map<const Mat>(init.x.data(), spec.batch, spec.sizes.front());
  }
  void run() override {
    for (std::size_t l = 0; l < w_.size(); ++l) {
      ember::gemm(h_[l], l == 0 ? x_ : h_[l - 1], w_[l].transpose(), ember::Gemm::assign);
      h_[l].rowwise() += b_[l];
      if (l + 1 < w_.size()) h_[l] = h_[l].cwiseMax(0.0f);
    }
  }
  double checksum() override {
    run();
    return static_cast<double>(h_.back().cast<double>().sum());
  }

 private:
  std::vector<Mat> w_, h_;
  std::vector<Row> b_;
  Mat x_;
};

}  // namespace

std::unique_ptr<Task> make_hand_scalar_chain(int length) { return std::make_unique<HandScalarChain>(length); }
std::unique_ptr<Task> make_hand_inference(const MlpSpec& spec, const MlpInit& init) {
  return std::make_unique<HandInference>(spec, init);
}

}  // namespace bench
