// The grid of a sweep trainer, run point by point: split over MPI ranks when
// the trainer is launched by mpirun (ember::dist), and resumable: each
// finished point is kept in <out>/.sweep/<name>/, and a rerun with the same
// configuration computes only the points that are missing.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

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

// Runs run_point(i) for the points i in 0..points-1 that no earlier run with
// the same `config` (any text naming everything the results depend on) has
// finished, rank r taking every size-th of those points starting at the
// r-th. Returns every point's result, in grid order, on rank 0 (an empty
// vector elsewhere). Results are strings: the trainer serializes what it
// needs (CSV rows).
std::vector<std::string> run_sweep(const std::string& name, std::size_t points, const std::string& config,
                                   const std::filesystem::path& out,
                                   const std::function<std::string(std::size_t)>& run_point);

// Aborts the job naming the rank (under MPI), or returns 1: the trainers'
// catch blocks call it so a failing rank never leaves the others waiting.
int fail(const char* trainer, const std::exception& e);

}  // namespace ember::examples
