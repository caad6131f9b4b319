// The grid of a sweep trainer, run point by point: split over MPI ranks when
// the trainer is launched by mpirun (ember::dist), and resumable: each
// finished point is kept in <out>/.sweep/<name>/, and a rerun with the same
// configuration computes only the points that are missing (the trainer's
// binary is part of the configuration: a rebuilt trainer starts afresh, so
// no point of older code is reused). Within a process
// the points run on `jobs` threads; each point must depend only on its own
// parameters (its seed among them), so the results are bit-identical to a
// serial run, and they come back in grid order whatever finished first.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace ember::examples {

// Initializes MPI for the trainer when ember was built with ember::dist and
// an MPI launcher (mpirun, mpiexec, srun) started the process; otherwise it
// does nothing. Rank 0 is the one that prints and writes the results.
class SweepEnvironment {
 public:
  SweepEnvironment(int& argc, char**& argv);
  ~SweepEnvironment();
  SweepEnvironment(const SweepEnvironment&) = delete;
  SweepEnvironment& operator=(const SweepEnvironment&) = delete;
};
int sweep_rank();
int sweep_size();
bool is_root();  // rank 0 (always true without MPI)

// The threads each process runs points on: all cores by default, shared
// between the ranks of an MPI job on one machine.
int default_sweep_jobs();
// Adds --jobs N to a sweep trainer's command line (default: default_sweep_jobs()).
void add_sweep_options(CLI::App& app, int& jobs);

// Runs run_point(i) for the points i in 0..points-1 that no earlier run with
// the same `config` (any text naming everything the results depend on) has
// finished, rank r taking every size-th of those points starting at the
// r-th, on `jobs` threads (run_point must be safe to call concurrently: it
// builds its own model and generators). Returns every point's result, in
// grid order, on rank 0 (an empty vector elsewhere). Results are strings:
// the trainer serializes what it needs (CSV rows). Progress goes to stderr,
// one line a point (rewritten in place on a terminal). An exception thrown
// by a point stops the others and is rethrown here.
std::vector<std::string> run_sweep(const std::string& name, std::size_t points, const std::string& config,
                                   const std::filesystem::path& out, int jobs,
                                   const std::function<std::string(std::size_t)>& run_point);

// Aborts the job naming the rank (under MPI), or returns 1: the trainers'
// catch blocks call it so a failing rank never leaves the others waiting.
int fail(const char* trainer, const std::exception& e);

}  // namespace ember::examples
