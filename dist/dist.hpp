// ember::dist: data-parallel training and sweeps over MPI (Open MPI, or any
// MPI a cluster provides), for programs launched by mpirun or srun.
//
//   int main(int argc, char** argv) {
//     ember::dist::Environment mpi(argc, argv);       // MPI_Init ... MPI_Finalize
//     return ember::dist::run([&] {                   // an exception on any rank ends the job, naming the rank
//       auto model = ember::mlp({784, 512, 10}, "relu", ember::Init::kaiming_normal, gen);
//       ember::dist::broadcast_parameters(model.named_parameters());   // every rank starts from rank 0's weights
//       ember::dist::GradientAllreduce<float> allreduce(model.named_parameters());
//       ember::BatchIterator batches(train, 64, gen, true, {ember::dist::rank(), ember::dist::size()});
//       ... opt.zero_grad(); loss.backward(); allreduce.finish(); opt.step(); ...
//       return 0;
//     });
//   }
//
// Built as the ember::dist target when CMake finds MPI (EMBER_DIST); the
// ember library itself never needs MPI.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../nn/module.hpp"

namespace ember::dist {

// Initializes MPI (thread support: funneled) unless it is already, and
// finalizes it at the end of the scope if it initialized it.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  bool owner_ = false;
};

int rank();  // 0 .. size()-1; 0 when MPI is not initialized
int size();  // number of processes; 1 when MPI is not initialized
void barrier();

// Prints "ember::dist: rank R of N: message" to stderr and aborts every
// process of the job (MPI_Abort), so one failing rank never leaves the
// others waiting in a collective.
[[noreturn]] void abort_job(const std::string& message, int code = 1);

// Runs f() and returns its exit code; an exception escaping f on any rank
// is reported with abort_job.
int run(const std::function<int()>& f);

// Every rank's `mine`, in rank order, on `root` (empty on the other ranks).
std::vector<std::string> gather(const std::string& mine, int root = 0);
// `text` of `root` on every rank.
std::string broadcast(const std::string& text, int root = 0);

// Copies root's parameter values to every rank (names and shapes must agree:
// checked, a mismatch aborts the job naming the parameter).
template <class T>
void broadcast_parameters(const std::vector<std::pair<std::string, TensorT<T>>>& params, int root = 0);

// Averages gradients over the ranks during backward. On construction it
// registers a hook on every parameter; as backward completes a parameter's
// gradient the hook copies it into a bucket of about `bucket_bytes`, and a
// full bucket starts a non-blocking allreduce at once, so communication
// overlaps the rest of backward. finish(), after backward, starts what is
// left, waits, and sets each parameter's gradient to the average over ranks
// of this backward's gradient (call zero_grad() before backward, as usual).
// A parameter that got no gradient on some rank counts as zeros there; one
// that got none on any rank keeps no gradient. One backward per finish(): a
// second gradient for a parameter before finish() is a GraphError. The
// allreduces run on a communicator of their own, so other collectives may
// come in between. Every rank must run the same model (the same parameters
// in the same order). The hooks stay registered after this object is gone,
// doing nothing.
template <class T>
class GradientAllreduce {
 public:
  explicit GradientAllreduce(const std::vector<std::pair<std::string, TensorT<T>>>& params,
                             std::size_t bucket_bytes = std::size_t(1) << 20);
  ~GradientAllreduce();
  GradientAllreduce(const GradientAllreduce&) = delete;
  GradientAllreduce& operator=(const GradientAllreduce&) = delete;

  void finish();
  double last_wait_seconds() const;  // time finish() spent waiting for communication

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ember::dist
