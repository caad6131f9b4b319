// ember_bench's command line and the helpers every workload runner uses.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "workloads.hpp"

namespace bench {

struct Options {
  bool json = false;
  bool quick = false;
  std::vector<int> threads{1, 2};
  std::string filter;
  std::string impl;  // time only this implementation (the others still run the agreement check)
  int reps = 0;      // override the repetitions (for profiling)
  int chain_length = 100000;  // deep_chain's ember length (libtorch runs a tenth)
};

// Exits with the usage text on a bad argument (code 2).
Options parse(int argc, char** argv);

// --filter takes comma-separated parts; a case runs when its name contains one.
bool selected(const Options& o, const std::string& name);

inline void run_unit(Trainer& t) { t.step(); }
inline void run_unit(Task& t) { t.run(); }

// The implementations to time: all, or the one --impl names.
template <class Named>
std::vector<Impl> timed(const Options& o, std::vector<std::pair<std::string, Named>>& items) {
  std::vector<Impl> impls;
  for (auto& [name, item] : items)
    if (o.impl.empty() || o.impl == name) impls.push_back({name, [p = item.get()] { run_unit(*p); }});
  return impls;
}

// Prints to stderr: progress and context never mix with the JSON lines.
template <class... Args>
void note(fmt::format_string<Args...> f, Args&&... args) {
  std::fprintf(stderr, "%s\n", fmt::format(f, std::forward<Args>(args)...).c_str());
}

std::string cpu_model();

// Stops the run (exit code 3) when implementations disagree before timing.
[[noreturn]] void disagree(const std::string& what);

bool close(double a, double b, double rel_tol);

}  // namespace bench
