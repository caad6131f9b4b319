// ember_bench's command line; see cli.hpp.
#include "cli.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace bench {

namespace {

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "ember_bench: %s\nusage: ember_bench [--json] [--threads 1,2] [--filter TEXT] [--quick] [--impl NAME] [--reps N]\n"
               "                   [--chain-length N]\n"
               "  --json      one JSON object per result line (else a table with ratios)\n"
               "  --threads   thread counts to run, comma-separated (default 1,2)\n"
               "  --filter    run only cases whose name contains TEXT, or one of comma-separated TEXTs\n"
               "              (tiny_mlp, large_mlp, inference_b1, inference_b256, deep_chain, scalar_chain,\n"
               "              activation, sigmoid, tensor_op, gather, layer_norm, conv2d, digits_cnn,\n"
               "              ternary_matmul, ...)\n"
               "  --quick     fewer repetitions and no 16M activation size\n"
               "  --impl      time only this implementation: hand, ember or libtorch (for profiling)\n"
               "  --reps      repetitions per implementation (for profiling; default 11, --quick 5)\n"
               "  --chain-length  deep_chain's number of ops (default 100000; libtorch runs a tenth)\n",
               message.c_str());
  std::exit(2);
}

}  // namespace

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--json") o.json = true;
    else if (arg == "--quick") o.quick = true;
    else if (arg == "--filter") o.filter = value();
    else if (arg == "--impl") o.impl = value();
    else if (arg == "--reps") o.reps = std::atoi(value().c_str());
    else if (arg == "--chain-length") {
      o.chain_length = std::atoi(value().c_str());
      if (o.chain_length < 10) usage_error("--chain-length needs at least 10 ops");
    }
    else if (arg == "--threads") {
      o.threads.clear();
      const std::string list = value();
      for (std::size_t pos = 0; pos < list.size();) {
        const std::size_t end = std::min(list.find(',', pos), list.size());
        const int t = std::atoi(list.substr(pos, end - pos).c_str());
        if (t < 1) usage_error("bad thread count in '" + list + "'");
        o.threads.push_back(t);
        pos = end + 1;
      }
    } else if (arg == "--help" || arg == "-h") usage_error("help");
    else usage_error("unknown argument '" + arg + "'");
  }
  return o;
}

bool selected(const Options& o, const std::string& name) {
  if (o.filter.empty()) return true;
  for (std::size_t pos = 0; pos <= o.filter.size();) {
    const std::size_t end = std::min(o.filter.find(',', pos), o.filter.size());
    if (end > pos && name.find(o.filter.substr(pos, end - pos)) != std::string::npos) return true;
    pos = end + 1;
  }
  return false;
}


std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

[[noreturn]] void disagree(const std::string& what) {
  std::fprintf(stderr, "ember_bench: implementations disagree, not timing: %s\n", what.c_str());
  std::exit(3);
}

bool close(double a, double b, double rel_tol) {
  return std::abs(a - b) <= rel_tol * std::max(1.0, std::max(std::abs(a), std::abs(b)));
}

}  // namespace bench
