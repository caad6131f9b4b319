// Trains y = 2x + 1 with one parameter pair: enough to prove that the
// headers, the library and its dependencies all arrive through the target.
// Also fails when the library it linked was compiled without optimization
// (the subdirectory scenario is configured with no build type).
#include <ember/ember.hpp>

#include <cmath>
#include <cstdio>

int main() {
  const ember::BuildInfo info = ember::build_info();
  std::printf("ember built optimized=%d asserts=%d native=%d openmp=%d\n", info.optimized, info.asserts, info.native,
              info.openmp);
  if (!info.optimized || info.asserts) {
    std::printf("consumer: the ember library was compiled without the Release flags\n");
    return 1;
  }
  ember::Generator gen(7);
  auto x = ember::Tensor::randn({16, 1}, gen);
  auto y = x * 2.0f + 1.0f;
  auto w = ember::Tensor::zeros({1, 1}).requires_grad_();
  auto b = ember::Tensor::zeros({1}).requires_grad_();
  for (int step = 0; step < 200; ++step) {
    auto diff = x * w + b - y;
    auto loss = ember::sum(diff * diff) / 16.0f;
    w.zero_grad();
    b.zero_grad();
    loss.backward();
    w.values() -= 0.1f * w.grad_values();
    b.values() -= 0.1f * b.grad_values();
  }
  std::printf("w=%.4f b=%.4f\n", w.item(), b.item());
  return std::fabs(w.item() - 2.0f) < 1e-3f && std::fabs(b.item() - 1.0f) < 1e-3f ? 0 : 1;
}
