// The monitored training loop of docs/diagnostics.md, run as written there;
// its output files are the page's generated blocks (scripts/render_docs.py):
//   reason.txt       what the loop prints
//   table_step0.txt  monitor.telemetry().table(0): the gradient flow at init
// and telemetry.csv, graph.dot, flow_table.txt as the snippet writes them.
#include <ember/ember.hpp>

#include "common.hpp"

using namespace ember;
using namespace ember::examples;

int main(int argc, char** argv) {
  CLI::App app{"The monitored training loop of docs/diagnostics.md"};
  Options options;
  add_common_options(app, options, "diagnostics_tour", 42);
  CLI11_PARSE(app, argc, argv);
  try {
    prepare_run(options);
    std::string printed;
    // --- as on the page ---------------------------------------------------
    Generator gen(options.seed);
    auto model = mlp<float>({16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 1}, "sigmoid", Init::standard, gen);
    auto x = Tensor::randn({64, 16}, gen);
    auto y = Tensor::rand({64, 1}, gen);
    SGD opt(model.parameters(), {.lr = 0.1});
    diag::FlowMonitor<float> monitor;

    for (std::int64_t step = 0; step < 100; ++step) {
      auto watch = monitor.watch(step);  // installed until the end of this scope
      opt.zero_grad();
      mse_loss(model(x), y).backward();
      diag::GradientReport r = monitor.record_gradients(model.named_parameters());
      if (r.vanishing && step % 50 == 0) printed += fmt::format("step {}: {}\n", step, r.reason);
      opt.step();
    }
    const std::string table = monitor.telemetry().table(0);  // step 0 (at init), as aligned tables
    monitor.write_csv((options.out / "telemetry.csv").string());
    diag::write_text((options.out / "graph.dot").string(), monitor.dot());
    const std::string flow = monitor.flow_table();
    // -----------------------------------------------------------------------
    fmt::print("{}{}", printed, table);
    diag::write_text((options.out / "reason.txt").string(), printed);
    diag::write_text((options.out / "table_step0.txt").string(), table);
    diag::write_text((options.out / "flow_table.txt").string(), flow);
    if (options.check) {
      Checker check;
      check.expect(printed.rfind("step 0: vanishing", 0) == 0, "the 10-layer sigmoid stack is flagged vanishing at init");
      check.expect(table.rfind("step 0\n", 0) == 0, "the table is step 0's");
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "diagnostics_tour: {}\n", e.what());
    return 1;
  }
  return 0;
}
