// ternary_matmul rows of ember_bench: BitLinear's packed 2-bit weights and
// the add/subtract kernel (ops/ternary.hpp) on int8 activations, against
// ember's float GEMM (ember::linear, no grad) and libtorch's float matmul,
// for x [batch, n] and W [n, n]. The ternary time is the product alone:
// int8 activations in (quantized once, outside the timing, as a previous
// layer would hand them over), float outputs out (scales applied).
#include "ternary.hpp"

#include <ember/ember.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "workloads.hpp"

namespace bench {

namespace {

class EmberLinear final : public Task {
 public:
  EmberLinear(const ember::Tensor& x, const ember::Tensor& w) : x_(x), w_(w) {}
  void run() override {
    ember::NoGradGuard no_grad;
    y_ = ember::linear(x_, w_);
  }
  double checksum() override {
    run();
    return double(y_.values().cast<double>().sum());
  }

 private:
  ember::Tensor x_, w_, y_;
};

class TernaryProduct final : public Task {
 public:
  TernaryProduct(const ember::Int8Activations<float>& x, ember::PackedTernary w) : x_(x), w_(std::move(w)) {}
  void run() override { y_ = ember::ternary_matmul(x_, w_); }
  double checksum() override {
    run();
    return double(y_.values().cast<double>().sum());
  }

 private:
  ember::Int8Activations<float> x_;
  ember::PackedTernary w_;
  ember::Tensor y_;
};

}  // namespace

void run_ternary(int threads, const TimingOptions& timing, Report& report) {
  for (const int n : {1024, 4096})
    for (const int batch : {1, 8, 64}) {
      ember::Generator gen(std::uint64_t(11 + n + batch));
      const ember::Tensor w = ember::Tensor::randn({n, n}, gen), x = ember::Tensor::randn({batch, n}, gen);
      const auto packed = ember::pack_ternary(ember::quantize_ternary(w));
      const auto xq = ember::quantize_int8(x);
      // The float products multiply the same dequantized operands, so all three compute one result.
      const ember::Tensor wd = ember::dequantize_ternary<float>(packed), xd = ember::fake_quantize_int8(x);
      std::vector<float> xv = xd.to_vector(), wv = wd.to_vector();

      std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
      tasks.emplace_back("ternary", std::make_unique<TernaryProduct>(xq, packed));
      tasks.emplace_back("ember", std::make_unique<EmberLinear>(xd, wd));
      if (auto t = make_torch_matmul(xv, wv, batch, n, n)) tasks.emplace_back("libtorch", std::move(t));
      const double ref = tasks[1].second->checksum();
      for (auto& [name, task] : tasks) {
        const double c = task->checksum();
        if (!(std::abs(c - ref) <= 1e-4 * std::max(1.0, std::abs(ref)) + 1e-3 * double(batch * n))) {
          std::fprintf(stderr, "ember_bench: ternary_matmul %dx%d batch %d: checksum %s = %.9g, ember = %.9g\n", n, n,
                       batch, name.c_str(), c, ref);
          std::exit(3);
        }
      }
      std::vector<Impl> impls;
      for (auto& [name, task] : tasks) impls.push_back({name, [p = task.get()] { p->run(); }});
      TimingOptions t = timing;
      t.max_seconds = std::min(t.max_seconds, 3.0);
      const std::size_t float_bytes = std::size_t(n) * std::size_t(n) * sizeof(float);
      for (const Measurement& m : measure(impls, t)) {
        nlohmann::ordered_json row = measurement_row(fmt::format("ternary_matmul_{}x{}_b{}", n, n, batch), m, threads);
        row["batch"] = batch;
        row["n"] = n;
        row["weight_bytes"] = m.impl == "ternary" ? double(packed.memory_bytes()) : double(float_bytes);
        row["weight_gb_per_s"] = (m.impl == "ternary" ? double(packed.memory_bytes()) : double(float_bytes)) /
                                 (m.median_us * 1e3);
        report.add(std::move(row));
      }
    }
}

}  // namespace bench
