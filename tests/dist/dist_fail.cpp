// Rank 1 throws while rank 0 waits in a collective: dist::run must end the
// whole job with the rank's message instead of leaving rank 0 waiting.
#include <stdexcept>

#include <dist/dist.hpp>

int main(int argc, char** argv) {
  ember::dist::Environment mpi(argc, argv);
  return ember::dist::run([] {
    if (ember::dist::rank() == 1) throw std::runtime_error("deliberate failure on rank 1");
    ember::dist::barrier();  // never completes: rank 1 is gone
    return 0;
  });
}
