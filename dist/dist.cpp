#include "dist.hpp"

#include <mpi.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <utility>

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

// Bucket layout: each parameter's gradient, then one element per parameter
// saying whether this rank had a gradient for it (summed by the allreduce,
// so finish() can leave a parameter no rank touched without a gradient, as
// a single process would).
template <class T>
struct GradientAllreduce<T>::State {
  struct Param {
    std::string name;
    std::weak_ptr<Node<T>> node;
    std::size_t bucket = 0, offset = 0, count = 0, flag = 0;
    bool seen = false;  // its hook fired in this backward
  };
  struct Bucket {
    std::vector<T> values;
    std::size_t expected = 0, arrived = 0;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::vector<Param> params;
  std::vector<Bucket> buckets;
  std::size_t next_to_start = 0;  // buckets start in index order on every rank
  MPI_Comm comm = MPI_COMM_NULL;  // our own: user collectives in between cannot interleave with ours
  bool alive = true;
  double wait_seconds = 0;

  void start_ready() {
    while (next_to_start < buckets.size() && buckets[next_to_start].arrived == buckets[next_to_start].expected) {
      Bucket& b = buckets[next_to_start++];
      if (comm != MPI_COMM_NULL)
        MPI_Iallreduce(MPI_IN_PLACE, b.values.data(), static_cast<int>(b.values.size()), mpi_type<T>(), MPI_SUM, comm,
                       &b.request);
    }
  }
  void arrive(std::size_t i, const TensorT<T>& g) {
    Param& p = params[i];
    if (p.seen)
      fail<GraphError>("GradientAllreduce: parameter '{}' received a second gradient before finish(); call finish() "
                       "after every backward (accumulating several backward passes per step is not supported)",
                       p.name);
    Bucket& b = buckets[p.bucket];
    const auto at = b.values.begin() + static_cast<std::ptrdiff_t>(p.offset);
    std::copy(std::as_const(g).data(), std::as_const(g).data() + p.count, at);
    b.values[p.flag] = T(1);
    p.seen = true;
    ++b.arrived;
    start_ready();
    // Let MPI progress the allreduces already under way.
    for (std::size_t k = 0; k < next_to_start; ++k) {
      int done = 0;
      if (buckets[k].request != MPI_REQUEST_NULL) MPI_Test(&buckets[k].request, &done, MPI_STATUS_IGNORE);
    }
  }
  void wait_all() {
    for (auto& b : buckets)
      if (b.request != MPI_REQUEST_NULL) MPI_Wait(&b.request, MPI_STATUS_IGNORE);
  }
};

template <class T>
GradientAllreduce<T>::GradientAllreduce(const std::vector<std::pair<std::string, TensorT<T>>>& params,
                                        std::size_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  for (const auto& [name, t] : params)  // check all before registering any hook
    if (!t.defined() || !t.requires_grad())
      fail<ValueError>("GradientAllreduce: parameter '{}' does not require grad", name);
  // Backward completes the last layers first: buckets hold the parameters in
  // reverse order, so the first bucket fills (and starts) earliest.
  const std::size_t per_bucket = std::max<std::size_t>(1, bucket_bytes / sizeof(T));
  state_->params.resize(params.size());
  std::vector<std::size_t> flags_of_bucket;
  for (std::size_t k = params.size(); k-- > 0;) {
    const TensorT<T>& t = params[k].second;
    const std::size_t n = static_cast<std::size_t>(t.numel());
    if (state_->buckets.empty() || state_->buckets.back().values.size() + n > per_bucket)
      state_->buckets.emplace_back();
    auto& b = state_->buckets.back();
    auto& p = state_->params[k];
    p.name = params[k].first;
    p.node = t.node_ptr();
    p.bucket = state_->buckets.size() - 1;
    p.offset = b.values.size();
    p.count = n;
    b.values.resize(b.values.size() + n);
    ++b.expected;
  }
  for (auto& p : state_->params) {  // the flags after each bucket's gradients
    auto& b = state_->buckets[p.bucket];
    p.flag = b.values.size();
    b.values.push_back(T(0));
  }
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  if (init && !fin && size() > 1) MPI_Comm_dup(MPI_COMM_WORLD, &state_->comm);
  for (std::size_t k = 0; k < params.size(); ++k) {
    TensorT<T> t = params[k].second;
    // The hook holds the state, not the parameter: no reference cycle. It
    // stays registered (ember has no hook removal) and does nothing once this
    // object is gone.
    t.register_hook([state = state_, k](const TensorT<T>& g) -> TensorT<T> {
      if (state->alive) state->arrive(k, g);
      return {};
    });
  }
}

template <class T>
GradientAllreduce<T>::~GradientAllreduce() {
  State& s = *state_;
  s.alive = false;
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) {
    s.wait_all();
    if (s.comm != MPI_COMM_NULL) MPI_Comm_free(&s.comm);
  }
}

template <class T>
void GradientAllreduce<T>::finish() {
  State& s = *state_;
  for (auto& p : s.params)
    if (!p.seen) {  // no gradient on this rank: zeros, flag 0
      auto& b = s.buckets[p.bucket];
      std::fill_n(b.values.begin() + static_cast<std::ptrdiff_t>(p.offset), p.count, T(0));
      b.values[p.flag] = T(0);
      ++b.arrived;
      p.seen = true;
    }
  s.start_ready();
  const auto t0 = std::chrono::steady_clock::now();
  s.wait_all();
  s.wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const T scale = T(1) / static_cast<T>(size());
  for (auto& p : s.params) {
    const std::vector<T>& values = s.buckets[p.bucket].values;
    std::shared_ptr<Node<T>> node = p.node.lock();
    if (node && values[p.flag] != T(0)) {  // some rank had a gradient
      if (node->grad.empty()) node->grad = Buffer<T>(static_cast<Index>(p.count));
      const T* src = values.data() + p.offset;
      for (std::size_t i = 0; i < p.count; ++i) node->grad.data()[i] = src[i] * scale;
      node->grad_graph.reset();  // the averaged gradient is values only
    }
    p.seen = false;
  }
  for (auto& b : s.buckets) b.arrived = 0;
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
