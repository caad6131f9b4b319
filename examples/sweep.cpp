#include "sweep.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

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

// The trainer binary's identity (size and modification time of
// /proc/self/exe): part of a sweep's configuration, so points a different
// build computed are never taken for this build's.
std::string binary_identity() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "unknown";
  const auto size = fs::file_size(exe, ec);
  if (ec) return "unknown";
  const auto time = fs::last_write_time(exe, ec);
  if (ec) return "unknown";
  return fmt::format("{} {} {}", exe.string(), size, time.time_since_epoch().count());
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

int default_sweep_jobs() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, sweep_size()));
}

void add_sweep_options(CLI::App& app, int& jobs) {
  jobs = default_sweep_jobs();
  app.add_option("--jobs", jobs,
                 "Grid points run at once on this many threads (results are the same for any number; default: all "
                 "cores, shared among MPI ranks)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
}

std::vector<std::string> run_sweep(const std::string& name, std::size_t points, const std::string& config_text,
                                   const fs::path& out, int jobs,
                                   const std::function<std::string(std::size_t)>& run_point) {
  const int rank = sweep_rank(), size = sweep_size();
  const fs::path dir = out / ".sweep" / name;
  const std::string config = config_text + "\nbinary=" + binary_identity();
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

  // This rank's share, run on `jobs` threads that each take the next point.
  std::vector<std::size_t> share;
  for (std::size_t k = static_cast<std::size_t>(rank); k < todo.size(); k += static_cast<std::size_t>(size))
    share.push_back(todo[k]);
  std::vector<std::string> share_results(share.size());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex lock;  // guards error, finished and the progress line
  std::size_t finished = 0;
  const auto sweep_start = std::chrono::steady_clock::now();
  const bool tty = isatty(fileno(stderr)) != 0;
#ifdef _OPENMP
  const int omp_threads = omp_get_max_threads();  // a new thread starts from OpenMP's default count, not the trainer's
#endif
  auto worker = [&] {
#ifdef _OPENMP
    omp_set_num_threads(omp_threads);
#endif
    for (std::size_t k; !failed && (k = next++) < share.size();) {
      try {
        const std::size_t i = share[k];
        const auto start = std::chrono::steady_clock::now();
        std::string result = run_point(i);
        const auto now = std::chrono::steady_clock::now();
        const double seconds = std::chrono::duration<double>(now - start).count();
        write_atomically(dir / fmt::format("{}-{}.txt", i, key), result + std::string(kEnd));
        share_results[k] = std::move(result);
        std::lock_guard<std::mutex> guard(lock);
        ++finished;
        const double elapsed = std::chrono::duration<double>(now - sweep_start).count();
        const double left = elapsed / double(finished) * double(share.size() - finished);
        std::fprintf(stderr,
                     "%ssweep %s: point %zu done in %.2f s (rank %d of %d: %zu of its %zu, %.0f s elapsed, "
                     "~%.0f s left)%s",
                     tty ? "\r\033[K" : "", name.c_str(), i, seconds, rank, size, finished, share.size(), elapsed, left,
                     tty && finished < share.size() ? "" : "\n");
      } catch (...) {
        std::lock_guard<std::mutex> guard(lock);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const std::size_t threads = std::min<std::size_t>(static_cast<std::size_t>(std::max(jobs, 1)), share.size());
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);
  std::vector<std::pair<std::size_t, std::string>> mine;
  for (std::size_t k = 0; k < share.size(); ++k) mine.emplace_back(share[k], std::move(share_results[k]));

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
