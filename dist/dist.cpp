#include "dist.hpp"

#include <mpi.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

namespace ember::dist {

namespace {

bool active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

template <class T>
MPI_Datatype mpi_type() {
  return sizeof(T) == sizeof(float) ? MPI_FLOAT : MPI_DOUBLE;
}

}  // namespace

Environment::Environment(int& argc, char**& argv) {
  int init = 0;
  MPI_Initialized(&init);
  if (init) return;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  owner_ = true;
}

Environment::~Environment() {
  if (owner_ && active()) MPI_Finalize();
}

int rank() {
  if (!active()) return 0;
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  if (!active()) return 1;
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

void barrier() {
  if (active()) MPI_Barrier(MPI_COMM_WORLD);
}

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "ember::dist: rank %d of %d: %s\n", rank(), size(), message.c_str());
  std::fflush(stderr);
  if (active() && size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

int run(const std::function<int()>& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    abort_job(e.what());
  }
}

std::vector<std::string> gather(const std::string& mine, int root) {
  if (!active() || size() == 1) return {mine};
  const int n = size(), me = rank();
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(me == root ? n : 0), offsets(me == root ? n : 0);
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, MPI_COMM_WORLD);
  std::string all;
  if (me == root) {
    int total = 0;
    for (int r = 0; r < n; ++r) offsets[r] = std::exchange(total, total + lengths[r]);
    all.resize(static_cast<std::size_t>(total));
  }
  MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, root,
              MPI_COMM_WORLD);
  std::vector<std::string> out;
  if (me == root)
    for (int r = 0; r < n; ++r) out.push_back(all.substr(static_cast<std::size_t>(offsets[r]), lengths[r]));
  return out;
}

std::string broadcast(const std::string& text, int root) {
  if (!active() || size() == 1) return text;
  std::string out = text;
  long long length = static_cast<long long>(out.size());
  MPI_Bcast(&length, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD);
  out.resize(static_cast<std::size_t>(length));
  MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD);
  return out;
}

template <class T>
void broadcast_parameters(const std::vector<std::pair<std::string, TensorT<T>>>& params, int root) {
  std::string signature;
  for (const auto& [name, p] : params) signature += fmt::format("{} {}\n", name, p.shape().str());
  const std::string theirs = broadcast(signature, root);
  if (theirs != signature)
    abort_job(fmt::format("broadcast_parameters: this rank's parameters differ from rank {}'s:\n{}vs rank {}:\n{}", root,
                          signature, root, theirs));
  if (!active() || size() == 1) return;
  for (auto [name, p] : params)
    MPI_Bcast(p.data(), static_cast<int>(p.numel()), mpi_type<T>(), root, MPI_COMM_WORLD);
}

// --- GradientAllreduce ---------------------------------------------------------

template <class T>
struct GradientAllreduce<T>::State {
  struct Param {
    std::weak_ptr<Node<T>> node;
    std::size_t bucket = 0, offset = 0, count = 0;
    bool seen = false;  // its hook fired in this backward
  };
  struct Bucket {
    std::vector<T> values;
    std::size_t expected = 0, arrived = 0;
    bool started = false;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::vector<Param> params;
  std::vector<Bucket> buckets;
  std::size_t next_to_start = 0;  // buckets start in index order on every rank
  bool alive = true;
  double wait_seconds = 0;

  void start_ready() {
    while (next_to_start < buckets.size() && buckets[next_to_start].arrived == buckets[next_to_start].expected)
      start(buckets[next_to_start++]);
  }
  void start(Bucket& b) {
    b.started = true;
    if (size() > 1)
      MPI_Iallreduce(MPI_IN_PLACE, b.values.data(), static_cast<int>(b.values.size()), mpi_type<T>(), MPI_SUM,
                     MPI_COMM_WORLD, &b.request);
  }
  void arrive(std::size_t i, const TensorT<T>& g) {
    Param& p = params[i];
    Bucket& b = buckets[p.bucket];
    std::copy(g.data(), g.data() + p.count, b.values.begin() + static_cast<std::ptrdiff_t>(p.offset));
    if (!p.seen) ++b.arrived;
    p.seen = true;
    start_ready();
    // Let MPI progress the allreduces already under way.
    for (std::size_t k = 0; k < next_to_start; ++k) {
      int done = 0;
      if (buckets[k].request != MPI_REQUEST_NULL) MPI_Test(&buckets[k].request, &done, MPI_STATUS_IGNORE);
    }
  }
};

template <class T>
GradientAllreduce<T>::GradientAllreduce(const std::vector<std::pair<std::string, TensorT<T>>>& params, std::size_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  // Backward completes the last layers first: buckets hold the parameters in
  // reverse order, so the first bucket fills (and starts) earliest.
  const std::size_t per_bucket = std::max<std::size_t>(1, bucket_bytes / sizeof(T));
  state_->params.resize(params.size());
  for (std::size_t k = params.size(); k-- > 0;) {
    const TensorT<T>& t = params[k].second;
    if (state_->buckets.empty() || state_->buckets.back().values.size() + t.numel() > per_bucket)
      state_->buckets.emplace_back();
    auto& b = state_->buckets.back();
    auto& p = state_->params[k];
    p.node = t.node_ptr();
    p.bucket = state_->buckets.size() - 1;
    p.offset = b.values.size();
    p.count = static_cast<std::size_t>(t.numel());
    b.values.resize(b.values.size() + p.count);
    ++b.expected;
  }
  for (std::size_t k = 0; k < params.size(); ++k) {
    TensorT<T> t = params[k].second;
    // The hook holds the state, not the parameter: no reference cycle.
    t.register_hook([state = state_, k](const TensorT<T>& g) -> TensorT<T> {
      if (state->alive) state->arrive(k, g);
      return {};
    });
  }
}

template <class T>
GradientAllreduce<T>::~GradientAllreduce() {
  state_->alive = false;
}

template <class T>
void GradientAllreduce<T>::finish() {
  State& s = *state_;
  for (auto& p : s.params)
    if (!p.seen) {  // no gradient on this rank: zeros
      auto& b = s.buckets[p.bucket];
      std::fill_n(b.values.begin() + static_cast<std::ptrdiff_t>(p.offset), p.count, T(0));
      ++b.arrived;
      p.seen = true;
    }
  s.start_ready();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& b : s.buckets)
    if (b.request != MPI_REQUEST_NULL) MPI_Wait(&b.request, MPI_STATUS_IGNORE);
  s.wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const T scale = T(1) / static_cast<T>(size());
  for (auto& p : s.params) {
    std::shared_ptr<Node<T>> node = p.node.lock();
    if (node) {
      if (node->grad.empty()) node->grad = Buffer<T>(static_cast<Index>(p.count));
      const T* src = s.buckets[p.bucket].values.data() + p.offset;
      for (std::size_t i = 0; i < p.count; ++i) node->grad.data()[i] = src[i] * scale;
    }
    p.seen = false;
  }
  for (auto& b : s.buckets) {
    b.arrived = 0;
    b.started = false;
  }
  s.next_to_start = 0;
}

template <class T>
double GradientAllreduce<T>::last_wait_seconds() const {
  return state_->wait_seconds;
}

template void broadcast_parameters<float>(const std::vector<std::pair<std::string, TensorT<float>>>&, int);
template void broadcast_parameters<double>(const std::vector<std::pair<std::string, TensorT<double>>>&, int);
template class GradientAllreduce<float>;
template class GradientAllreduce<double>;

}  // namespace ember::dist
