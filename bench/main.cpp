// ember_bench: ember, a hand-written Eigen floor and libtorch on the same
// workloads. See docs/performance.md.
//
//   ember_bench [--json] [--threads 1,2] [--filter TEXT] [--quick] [--impl NAME] [--reps N]
#include <ember/ember.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "alloc_count.hpp"
#include "cli.hpp"
#include "harness.hpp"
#include "ternary.hpp"
#include "workloads.hpp"

namespace bench {
namespace {

// --- MLP workloads ------------------------------------------------------------

constexpr int kCheckSteps = 4;

void run_mlps(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  const auto specs = mlp_specs();
  for (std::size_t s = 0; s < specs.size(); ++s) {
    const MlpSpec& spec = specs[s];
    if (!selected(o, spec.name)) continue;
    const MlpInit init = make_mlp_init(spec, 1000 + s);
    std::vector<std::pair<std::string, std::unique_ptr<Trainer>>> trainers;
    trainers.emplace_back("hand", make_hand_trainer(spec, init));
    if (auto t = make_ember_trainer(spec, init)) trainers.emplace_back("ember", std::move(t));
    if (auto t = make_torch_trainer(spec, init)) trainers.emplace_back("libtorch", std::move(t));

    // Agreement: the same losses over the first steps, and the same change of
    // loss (so that a wrong gradient cannot hide below the tolerance).
    std::vector<std::vector<double>> losses(trainers.size());
    for (std::size_t i = 0; i < trainers.size(); ++i)
      for (int k = 0; k < kCheckSteps; ++k) {
        trainers[i].second->step();
        losses[i].push_back(trainers[i].second->loss());
      }
    const auto& ref = losses[0];
    for (std::size_t i = 1; i < trainers.size(); ++i) {
      for (int k = 0; k < kCheckSteps; ++k)
        if (!close(losses[i][k], ref[k], spec.check_tolerance) || !std::isfinite(losses[i][k]))
          disagree(fmt::format("{} ({} threads): step {} loss {} = {:.7g}, hand = {:.7g} (relative tolerance {})",
                               spec.name, threads, k, trainers[i].first, losses[i][k], ref[k], spec.check_tolerance));
      const double d_ref = ref.back() - ref.front(), d = losses[i].back() - losses[i].front();
      if (!(std::abs(d - d_ref) <= 0.02 * std::abs(d_ref) + spec.check_tolerance * std::abs(ref.front())))
        disagree(fmt::format("{} ({} threads): loss change over {} steps {} = {:.7g}, hand = {:.7g}", spec.name,
                             threads, kCheckSteps - 1, trainers[i].first, d, d_ref));
    }
    note("{} ({} threads): losses agree over {} steps ({:.6g} -> {:.6g})", spec.name, threads, kCheckSteps,
         ref.front(), ref.back());

    std::vector<Impl> impls = timed(o, trainers);
    if (impls.empty()) continue;
    TimingOptions t = timing;
    if (spec.name == "large_mlp") t.max_seconds *= 2;
    for (const Measurement& m : measure(impls, t)) {
      nlohmann::ordered_json row = measurement_row(spec.name, m, threads);
      row["steps_per_rep"] = m.units_per_sample;
      row["allocs_per_step"] = m.allocs_per_unit;
      row["alloc_bytes_per_step"] = m.alloc_bytes_per_unit;
      row["loss_check"] = ref.back();
      report.add(std::move(row));
    }
  }
}

// --- deep_chain ---------------------------------------------------------------

void run_chain(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  if (!selected(o, "deep_chain")) return;
  // libtorch runs a tenth of the chain: its cost per node does not depend on
  // the length, and 10^5 of its nodes would take most of the run's budget.
  const int kLength = o.chain_length, kTorchLength = std::max(1, o.chain_length / 10);
  constexpr int kWidth = 16;
  std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
  std::map<std::string, int> length{{"ember", kLength}, {"libtorch", kTorchLength}};
  tasks.emplace_back("ember", make_ember_chain(kLength, kWidth));
  if (auto t = make_torch_chain(kTorchLength, kWidth)) {
    // Same math: a short ember chain must match libtorch's.
    const double ours = make_ember_chain(kTorchLength, kWidth)->checksum(), theirs = t->checksum();
    if (!close(theirs, ours, 1e-3))
      disagree(fmt::format("deep_chain ({} nodes): checksum libtorch = {:.7g}, ember = {:.7g}", kTorchLength, theirs, ours));
    tasks.emplace_back("libtorch", std::move(t));
  }
  // Live bytes of the forward graph, per node.
  std::map<std::string, AllocStats> graph;
  for (auto& [name, task] : tasks) {
    ember::release_cached_memory();  // so ember's nodes come from (counted) malloc, not its block pool
    const AllocStats before = alloc_stats();
    set_alloc_counting(true);
    task->build();
    set_alloc_counting(false);
    graph[name] = alloc_stats() - before;
    task->release();
  }
  std::vector<Impl> impls = timed(o, tasks);
  if (impls.empty()) return;
  TimingOptions t = timing;
  if (!o.reps) t.repetitions = std::min(t.repetitions, 7);
  const auto measurements = measure(impls, t);
  for (const Measurement& m : measurements) {
    nlohmann::ordered_json row = measurement_row("deep_chain", m, threads);
    const double n = length[m.impl];
    row["nodes"] = n;
    row["width"] = kWidth;
    row["ns_per_node"] = m.median_us * 1e3 / n;
    row["cpu_ns_per_node"] = m.thread_cpu_median_us * 1e3 / n;
    row["bytes_per_node"] = static_cast<double>(graph[m.impl].net_bytes) / n;  // live graph after forward
    row["forward_allocs_per_node"] = static_cast<double>(graph[m.impl].allocations) / n;
    row["allocs_per_node"] = m.allocs_per_unit / n;  // forward + backward
    row["alloc_bytes_per_node"] = m.alloc_bytes_per_unit / n;
    report.add(std::move(row));
  }
}

// --- convolution: one layer's forward + backward, a digits_cnn training step ---

void run_conv(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  struct Case {
    std::string name;
    std::unique_ptr<Task> ember, torch;
    double tolerance;
  };
  std::vector<Case> cases;
  for (const ConvSpec& spec : conv_specs())
    if (selected(o, spec.name) || selected(o, "conv2d")) {
      const ConvInit init = make_conv_init(spec, 11);
      cases.push_back({spec.name, make_ember_conv(spec, init), make_torch_conv(spec, init), 1e-4});
    }
  if (selected(o, "digits_cnn")) {
    const CnnInit init = make_cnn_init(32, 5);
    cases.push_back({"digits_cnn_step", make_ember_cnn(init), make_torch_cnn(init), 1e-4});
  }
  for (auto& c : cases) {
    std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
    const double ours = c.ember->checksum();
    tasks.emplace_back("ember", std::move(c.ember));
    if (c.torch) {
      const double theirs = c.torch->checksum();
      if (!close(theirs, ours, c.tolerance))
        disagree(fmt::format("{}: checksum libtorch = {:.9g}, ember = {:.9g}", c.name, theirs, ours));
      tasks.emplace_back("libtorch", std::move(c.torch));
    }
    std::vector<Impl> impls = timed(o, tasks);
    if (impls.empty()) continue;
    for (const Measurement& m : measure(impls, timing)) {
      nlohmann::ordered_json row = measurement_row(c.name, m, threads);
      row["checksum"] = ours;
      report.add(std::move(row));
    }
  }
}

// --- activations ----------------------------------------------------------------

void run_activations(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  struct Size {
    long n;
    const char* label;
  };
  std::vector<Size> sizes{{1L << 10, "1K"}, {1L << 16, "64K"}, {1L << 20, "1M"}};
  if (!o.quick) sizes.push_back({1L << 24, "16M"});
  std::vector<std::string> names;
  for (const auto& name : activation_names())
    if (selected(o, "activation") || selected(o, name)) names.push_back(name);
  if (names.empty()) return;
  static std::vector<float> values;  // shared by every size (a prefix) and thread count
  if (values.size() < static_cast<std::size_t>(sizes.back().n)) {
    ember::Generator gen(7);
    values.resize(static_cast<std::size_t>(sizes.back().n));
    for (auto& v : values) v = static_cast<float>(gen.normal(0.0, 3.0));
  }
  for (const auto& name : names)
    for (const Size& size : sizes)
      for (const bool backward : {false, true}) {
        const std::vector<float> x(values.begin(), values.begin() + size.n);
        std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
        if (auto t = make_ember_activation(name, x, backward)) tasks.emplace_back("ember", std::move(t));
        if (auto t = make_torch_activation(name, x, backward)) tasks.emplace_back("libtorch", std::move(t));
        if (tasks.empty()) continue;
        if (tasks.size() == 2) {
          const double a = tasks[0].second->checksum(), b = tasks[1].second->checksum();
          // Sums of n values: a per-element error budget of 1e-5 plus float summation.
          if (!(std::abs(a - b) <= 1e-5 * static_cast<double>(size.n) + 1e-4 * std::abs(b)))
            disagree(fmt::format("{} {} size {}: checksum ember = {:.9g}, libtorch = {:.9g}", name,
                                 backward ? "fwd_bwd" : "fwd", size.label, a, b));
        }
        std::vector<Impl> impls = timed(o, tasks);
        if (impls.empty()) continue;
        TimingOptions t = timing;
        if (!o.reps) t.max_seconds = size.n >= (1L << 24) ? 1.5 : 0.5;
        for (const Measurement& m : measure(impls, t)) {
          nlohmann::ordered_json row = measurement_row("activation", m, threads);
          row["activation"] = name;
          row["pass"] = backward ? "fwd_bwd" : "fwd";
          row["size"] = size.n;
          row["size_label"] = size.label;
          row["ns_per_element"] = m.median_us * 1e3 / static_cast<double>(size.n);
          report.add(std::move(row));
        }
      }
}

// --- tensor ops: slice, gather, permute, logsumexp --------------------------------

void run_tensor_ops(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  std::vector<std::string> names;
  for (const auto& name : tensor_op_names())
    if (selected(o, "tensor_op") || selected(o, name)) names.push_back(name);
  if (names.empty()) return;
  ember::Generator gen(13);
  std::vector<float> values(std::size_t(1) << 20);
  for (auto& v : values) v = static_cast<float>(gen.normal(0.0, 3.0));
  for (const auto& name : names)
    for (const long n : {1L << 16, 1L << 20})
      for (const bool backward : {false, true}) {
        const std::vector<float> x(values.begin(), values.begin() + n);
        std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
        tasks.emplace_back("ember", make_ember_tensor_op(name, x, backward));
        if (auto t = make_torch_tensor_op(name, x, backward)) tasks.emplace_back("libtorch", std::move(t));
        const char* label = n == (1L << 16) ? "64K" : "1M";
        if (tasks.size() == 2) {
          const double a = tasks[0].second->checksum(), b = tasks[1].second->checksum();
          if (!(std::abs(a - b) <= 1e-5 * static_cast<double>(n) + 1e-4 * std::abs(b)))
            disagree(fmt::format("{} {} size {}: checksum ember = {:.9g}, libtorch = {:.9g}", name,
                                 backward ? "fwd_bwd" : "fwd", label, a, b));
        }
        std::vector<Impl> impls = timed(o, tasks);
        if (impls.empty()) continue;
        TimingOptions t = timing;
        if (!o.reps) t.max_seconds = 0.5;
        for (const Measurement& m : measure(impls, t)) {
          nlohmann::ordered_json row = measurement_row("tensor_op", m, threads);
          row["op"] = name;
          row["pass"] = backward ? "fwd_bwd" : "fwd";
          row["size"] = n;
          row["size_label"] = label;
          row["ns_per_element"] = m.median_us * 1e3 / static_cast<double>(n);
          report.add(std::move(row));
        }
      }
}

// --- layer_norm -------------------------------------------------------------------

void run_layer_norm(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  if (!selected(o, "layer_norm")) return;
  LayerNormInput in;
  in.rows = 256, in.cols = 512;
  ember::Generator gen(11);
  const auto draw = [&](std::size_t n, double mean, double stddev) {
    std::vector<float> v(n);
    for (auto& e : v) e = static_cast<float>(gen.normal(mean, stddev));
    return v;
  };
  const std::size_t n = static_cast<std::size_t>(in.rows) * static_cast<std::size_t>(in.cols);
  in.x = draw(n, 0.5, 2.0), in.upstream = draw(n, 0.0, 1.0);
  in.weight = draw(static_cast<std::size_t>(in.cols), 1.0, 0.2), in.bias = draw(static_cast<std::size_t>(in.cols), 0.0, 0.2);
  for (const bool backward : {false, true}) {
    const std::string name = fmt::format("layer_norm {} {}x{}", backward ? "fwd_bwd" : "fwd", in.rows, in.cols);
    std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
    tasks.emplace_back("ember", make_ember_layer_norm(in, backward));
    if (auto t = make_torch_layer_norm(in, backward)) {
      const double a = tasks[0].second->checksum(), b = t->checksum();
      if (!close(a, b, 1e-4)) disagree(fmt::format("{}: checksum ember = {:.9g}, libtorch = {:.9g}", name, a, b));
      tasks.emplace_back("libtorch", std::move(t));
    }
    std::vector<Impl> impls = timed(o, tasks);
    if (impls.empty()) continue;
    for (const Measurement& m : measure(impls, timing)) {
      nlohmann::ordered_json row = measurement_row(name, m, threads);
      row["ns_per_element"] = m.median_us * 1e3 / static_cast<double>(n);
      report.add(std::move(row));
    }
  }
}

// --- scalar_chain and inference --------------------------------------------------

void run_scalar_chain(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  if (!selected(o, "scalar_chain")) return;
  constexpr int kSteps = 1000, kNodes = 3 * kSteps;  // mul, add, tanh per step
  std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
  tasks.emplace_back("hand", make_hand_scalar_chain(kSteps));
  tasks.emplace_back("ember", make_ember_scalar_chain(kSteps));
  if (auto t = make_torch_scalar_chain(kSteps)) tasks.emplace_back("libtorch", std::move(t));
  const double ref = tasks[0].second->checksum();
  for (std::size_t i = 1; i < tasks.size(); ++i) {
    const double c = tasks[i].second->checksum();
    if (!close(c, ref, 1e-4))
      disagree(fmt::format("scalar_chain: checksum {} = {:.7g}, hand = {:.7g}", tasks[i].first, c, ref));
  }
  std::map<std::string, AllocStats> graph;  // live bytes of the forward graph, as for deep_chain
  for (auto& [name, task] : tasks) {
    ember::release_cached_memory();
    const AllocStats before = alloc_stats();
    set_alloc_counting(true);
    task->build();
    set_alloc_counting(false);
    graph[name] = alloc_stats() - before;
    task->release();
  }
  std::vector<Impl> impls = timed(o, tasks);
  if (impls.empty()) return;
  for (const Measurement& m : measure(impls, timing)) {
    nlohmann::ordered_json row = measurement_row("scalar_chain", m, threads);
    row["nodes"] = kNodes;
    row["ns_per_node"] = m.median_us * 1e3 / kNodes;
    row["cpu_ns_per_node"] = m.thread_cpu_median_us * 1e3 / kNodes;
    row["bytes_per_node"] = static_cast<double>(graph[m.impl].net_bytes) / kNodes;
    row["allocs_per_node"] = m.allocs_per_unit / kNodes;
    report.add(std::move(row));
  }
}

void run_inference(const Options& o, int threads, const TimingOptions& timing, Report& report) {
  for (const int batch : {1, 256}) {
    const std::string name = fmt::format("inference_b{}", batch);
    if (!selected(o, name)) continue;
    MlpSpec spec{name, {784, 128, 10}, batch};
    const MlpInit init = make_mlp_init(spec, 77);
    std::vector<std::pair<std::string, std::unique_ptr<Task>>> tasks;
    tasks.emplace_back("hand", make_hand_inference(spec, init));
    tasks.emplace_back("ember", make_ember_inference(spec, init));
    if (auto t = make_torch_inference(spec, init)) tasks.emplace_back("libtorch", std::move(t));
    const double ref = tasks[0].second->checksum();
    for (std::size_t i = 1; i < tasks.size(); ++i) {
      const double c = tasks[i].second->checksum();
      if (!close(c, ref, 1e-4 * batch))
        disagree(fmt::format("{}: checksum {} = {:.7g}, hand = {:.7g}", name, tasks[i].first, c, ref));
    }
    std::vector<Impl> impls = timed(o, tasks);
    if (impls.empty()) continue;
    for (const Measurement& m : measure(impls, timing)) {
      nlohmann::ordered_json row = measurement_row(name, m, threads);
      row["batch"] = batch;
      row["allocs_per_step"] = m.allocs_per_unit;
      report.add(std::move(row));
    }
  }
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  const Options o = parse(argc, argv);
  note("ember_bench: {} ({} online CPUs); {}", cpu_model(), std::thread::hardware_concurrency(), torch_description());
  TimingOptions timing;
  if (o.quick) {
    timing.repetitions = 5;
    timing.max_seconds = 2;
  }
  if (o.reps > 0) {
    timing.repetitions = o.reps;
    timing.max_seconds = 1e9;
  }
  Report report(o.json);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  for (const int threads : o.threads) {
    set_threads(threads);
    run_mlps(o, threads, timing, report);
    note("[{:.0f} s] MLPs done ({} threads)", elapsed(), threads);
    run_inference(o, threads, timing, report);
    note("[{:.0f} s] inference done ({} threads)", elapsed(), threads);
    run_chain(o, threads, timing, report);
    note("[{:.0f} s] deep_chain done ({} threads)", elapsed(), threads);
    run_conv(o, threads, timing, report);
    note("[{:.0f} s] convolution done ({} threads)", elapsed(), threads);
    run_scalar_chain(o, threads, timing, report);
    note("[{:.0f} s] scalar_chain done ({} threads)", elapsed(), threads);
    run_activations(o, threads, timing, report);
    note("[{:.0f} s] activations done ({} threads)", elapsed(), threads);
    run_tensor_ops(o, threads, timing, report);
    note("[{:.0f} s] tensor ops done ({} threads)", elapsed(), threads);
    run_layer_norm(o, threads, timing, report);
    note("[{:.0f} s] layer_norm done ({} threads)", elapsed(), threads);
    if (selected(o, "ternary_matmul")) {
      run_ternary(threads, timing, report);
      note("[{:.0f} s] ternary_matmul done ({} threads)", elapsed(), threads);
    }
  }
  report.print_table();
  return 0;
}
