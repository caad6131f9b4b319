#include "sweep.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#ifdef EMBER_HAVE_DIST
#include <dist/dist.hpp>
#endif

namespace ember::examples {

namespace fs = std::filesystem;

namespace {

#ifdef EMBER_HAVE_DIST
std::unique_ptr<dist::Environment> g_mpi;
#endif

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_atomically(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  std::ofstream f(tmp, std::ios::binary);
  f << text;
  f.close();
  if (!f) throw std::runtime_error(fmt::format("sweep: cannot write {}", tmp.string()));
  fs::rename(tmp, p);
}

// A point's file is its result and this line: a file without it (cut short)
// is not a finished point.
constexpr std::string_view kEnd = "\n#end of point\n";

bool finished_point(const fs::path& p) {
  if (!fs::exists(p)) return false;
  const std::string text = read_file(p);
  return text.size() >= kEnd.size() && text.compare(text.size() - kEnd.size(), kEnd.size(), kEnd) == 0;
}

// Whether an MPI launcher (mpirun, mpiexec, srun) started this process.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_NTASKS"})
    if (std::getenv(v)) return true;
  return false;
}

// Length-prefixed records, to move lists of strings through one string.
std::string pack(const std::vector<std::pair<std::size_t, std::string>>& items) {
  std::string out;
  for (const auto& [i, text] : items) out += fmt::format("{} {}\n", i, text.size()) + text;
  return out;
}
std::vector<std::pair<std::size_t, std::string>> unpack(const std::string& packed) {
  std::vector<std::pair<std::size_t, std::string>> items;
  std::size_t pos = 0;
  while (pos < packed.size()) {
    const std::size_t eol = packed.find('\n', pos);
    std::size_t index = 0, length = 0;
    if (eol == std::string::npos || std::sscanf(packed.c_str() + pos, "%zu %zu", &index, &length) != 2)
      throw std::runtime_error("sweep: corrupt result record");
    items.emplace_back(index, packed.substr(eol + 1, length));
    pos = eol + 1 + length;
  }
  return items;
}

}  // namespace

SweepEnvironment::SweepEnvironment(int& argc, char**& argv) {
#ifdef EMBER_HAVE_DIST
  if (launched_by_mpi()) g_mpi = std::make_unique<dist::Environment>(argc, argv);
#else
  (void)argc;
  (void)argv;
#endif
}
SweepEnvironment::~SweepEnvironment() {
#ifdef EMBER_HAVE_DIST
  g_mpi.reset();
#endif
}

int sweep_rank() {
#ifdef EMBER_HAVE_DIST
  return dist::rank();
#else
  return 0;
#endif
}
int sweep_size() {
#ifdef EMBER_HAVE_DIST
  return dist::size();
#else
  return 1;
#endif
}
bool is_root() { return sweep_rank() == 0; }

int fail(const char* trainer, const std::exception& e) {
#ifdef EMBER_HAVE_DIST
  if (dist::size() > 1) dist::abort_job(fmt::format("{}: {}", trainer, e.what()));
#endif
  std::fprintf(stderr, "%s: %s\n", trainer, e.what());
  return 1;
}

std::vector<std::string> run_sweep(const std::string& name, std::size_t points, const std::string& config,
                                   const fs::path& out, const std::function<std::string(std::size_t)>& run_point) {
  const int rank = sweep_rank(), size = sweep_size();
  const fs::path dir = out / ".sweep" / name;
  const std::string key = fmt::format("{:016x}", std::hash<std::string>{}(config));

  // Rank 0 decides what is left to do, so every rank agrees on it.
  std::string todo_text;
  if (rank == 0) {
    fs::create_directories(dir);
    if (!fs::exists(dir / "config") || read_file(dir / "config") != config) {
      for (const auto& entry : fs::directory_iterator(dir)) fs::remove(entry.path());  // another configuration's points
      write_atomically(dir / "config", config);
    }
    std::size_t done = 0;
    for (std::size_t i = 0; i < points; ++i) {
      if (finished_point(dir / fmt::format("{}-{}.txt", i, key))) ++done;
      else todo_text += fmt::format("{}\n", i);
    }
    if (done) fmt::print("sweep {}: {} of {} points done by an earlier run ({}), {} to run\n", name, done, points,
                         dir.string(), points - done);
  }
#ifdef EMBER_HAVE_DIST
  todo_text = dist::broadcast(todo_text);
#endif
  fs::create_directories(dir);  // on every rank: --out need not be a shared folder
  std::vector<std::size_t> todo;
  {
    std::istringstream in(todo_text);
    for (std::size_t i; in >> i;) todo.push_back(i);
  }

  std::vector<std::pair<std::size_t, std::string>> mine;
  for (std::size_t k = static_cast<std::size_t>(rank); k < todo.size(); k += static_cast<std::size_t>(size)) {
    const std::size_t i = todo[k];
    const auto start = std::chrono::steady_clock::now();
    std::string result = run_point(i);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_atomically(dir / fmt::format("{}-{}.txt", i, key), result + std::string(kEnd));
    mine.emplace_back(i, std::move(result));
    std::fprintf(stderr, "sweep %s: point %zu done in %.2f s (rank %d of %d: %zu of its %zu)\n", name.c_str(), i,
                 seconds, rank, size, mine.size(),
                 (todo.size() + static_cast<std::size_t>(size - 1 - rank)) / static_cast<std::size_t>(size));
  }

  std::vector<std::string> packed{pack(mine)};
#ifdef EMBER_HAVE_DIST
  packed = dist::gather(packed[0]);
#endif
  if (rank != 0) return {};
  std::vector<std::string> results(points);
  std::vector<bool> have(points, false);
  for (const auto& p : packed)
    for (auto& [i, text] : unpack(p)) results[i] = std::move(text), have[i] = true;
  for (std::size_t i = 0; i < points; ++i)
    if (!have[i]) {
      const std::string text = read_file(dir / fmt::format("{}-{}.txt", i, key));
      results[i] = text.substr(0, text.size() - kEnd.size());
    }
  return results;
}

}  // namespace ember::examples
