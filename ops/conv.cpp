#include "conv.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string_view>

#include "../engine/gemm.hpp"
#include "../engine/record.hpp"
#include "conv_cols.hpp"
#include "conv_winograd.hpp"
#include "derivative.hpp"

namespace ember {

namespace {

using namespace conv_detail;

// Samples are taken in chunks of `m`, their im2col matrices side by side
// ([k, m·p]), so that each group runs one GEMM per chunk rather than one
// per sample: small images make small per-sample products. Chunks stay
// near kChunkColumns columns (measured: wider chunks leave the cache and
// run slower, bench conv2d_*), and a chunk's matrix under kChunkElements.
inline constexpr Index kChunkColumns = 1024;
inline constexpr Index kChunkElements = Index(1) << 22;
inline constexpr Index kOwnColumns = 128;
inline constexpr Index kSmallProductWork = 1000000;

Index chunk_of(const Geom& q, bool weight_grad = false) {
  if (q.p >= kOwnColumns && !weight_grad) return 1;
  const Index by_columns = kChunkColumns / std::max<Index>(1, q.p);
  const Index by_size = kChunkElements / std::max<Index>(1, q.k * q.p);
  const Index by_work = kSmallProductWork / std::max<Index>(1, q.og * q.k * q.p);
  return std::clamp<Index>(std::min({by_columns, by_size, weight_grad ? by_columns : by_work}), 1, std::max<Index>(1, q.n));
}

// The work matrices of a kernel call (im2col, and G or the output in
// chunk layout; Winograd's transformed kernels): kept per thread and reused
// while they are small enough (kScratchKeep values each), so that a training
// loop does not allocate and page-fault megabytes per call; larger ones are
// allocated each time.
inline constexpr Index kScratchKeep = Index(1) << 21;

template <class T>
class Scratch {
 public:
  Scratch(Index cols, Index rows, Index extra = 0) {
    thread_local Buffer<T> kept[3];
    thread_local bool busy = false;  // a kernel never runs inside another, but stay safe if one does
    const Index sizes[3] = {cols, rows, extra};
    const bool reuse = !busy && cols <= kScratchKeep && rows <= kScratchKeep && extra <= kScratchKeep;
    if (reuse) {
      busy_ = &busy;
      busy = true;
    }
    for (int i = 0; i < 3; ++i) {
      Buffer<T>& b = reuse ? kept[i] : own_[i];
      if (b.size() < sizes[i]) b = Buffer<T>(sizes[i]);
      data_[i] = b.data();
    }
  }
  ~Scratch() {
    if (busy_) *busy_ = false;
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* cols() const { return data_[0]; }
  T* rows() const { return data_[1]; }
  T* extra() const { return data_[2]; }

 private:
  Buffer<T> own_[3];
  bool* busy_ = nullptr;
  T* data_[3] = {};
};

// G of samples [n0, n0 + m) and group g as one [og, m·p] matrix, and back.
template <class T>
void gather_rows(const Geom& q, const T* y, Index n0, Index m, Index g, T* dst) {
  for (Index o = 0; o < q.og; ++o)
    for (Index n = 0; n < m; ++n) {
      const T* src = y + q.y_offset(n0 + n, g) + o * q.p;
      std::copy(src, src + q.p, dst + (o * m + n) * q.p);
    }
}
template <class T>
void scatter_rows(const Geom& q, const T* src, Index n0, Index m, Index g, T* y) {
  for (Index o = 0; o < q.og; ++o)
    for (Index n = 0; n < m; ++n) {
      const T* from = src + (o * m + n) * q.p;
      std::copy(from, from + q.p, y + q.y_offset(n0 + n, g) + o * q.p);
    }
}

// The forward's im2col matrices, kept for dW when they are small enough
// (kSaveCols values): the chunk at n0 (m samples) and group g starts at
// k·p·(n0·groups + g·m).
inline constexpr Index kSaveCols = Index(1) << 22;
inline Index saved_offset(const Geom& q, Index n0, Index m, Index g) { return q.k * q.p * (n0 * q.groups + g * m); }
template <class T>
using SavedCols = std::shared_ptr<const Buffer<T>>;

// A buffer for the saved matrices: one of this thread's last few, when no
// graph holds it any more (only the list does), else a new one added to the
// list. A training loop thus reuses its layers' buffers step after step
// instead of allocating (and page-faulting) megabytes per forward.
inline constexpr int kSavedKeep = 4;
template <class T>
std::shared_ptr<Buffer<T>> saved_buffer(Index size) {
  thread_local std::shared_ptr<Buffer<T>> kept[kSavedKeep];
  thread_local int next = 0;
  for (auto& b : kept)
    if (b && b.use_count() == 1 && b->size() >= size && b->size() <= 2 * size) {
      // The graph that held it may have been released on another thread:
      // order that thread's last reads before this thread's writes.
      std::atomic_thread_fence(std::memory_order_acquire);
      return b;
    }
  auto fresh = std::make_shared<Buffer<T>>(size);
  for (auto& b : kept)  // a free slot, or one no graph holds, else the oldest
    if (!b || b.use_count() == 1) {
      b = fresh;
      return fresh;
    }
  kept[next] = fresh;
  next = (next + 1) % kSavedKeep;
  return fresh;
}

// Winograd F(2x2, 3x3) (ops/conv_winograd.hpp) for all three kernels of 3x3
// convolutions at stride 1, dilation 1 and padding <= 2 (dX is then a 3x3
// convolution of G with padding 2 − p), where both channel counts of a group
// are at least kWinogradMinChannels and one sample's transformed tiles
// (16·tiles·(cin + cout) values) stay under kWinogradMaxSample. Measured
// against im2col, forward + backward on one thread (docs/performance.md):
// faster for 16 -> 32 channels on 14x14, 32 -> 32 on 28x28, 64 -> 64 on
// 56x56, 128 -> 128 on 28x28 and 256 -> 256 on 7x7; slower for 8 -> 8 on
// 16x16 and with one input channel (the 16 products' shared dimension is
// then too short), and for 64 -> 64 on 112x112 (6.4M values a sample: the
// tiles leave the cache). Samples go in chunks of about kWinogradTiles
// tiles (512 measured slower on 16 -> 32 at 14x14, 64 to 256 alike).
inline constexpr Index kWinogradMinChannels = 16;
inline constexpr Index kWinogradMaxSample = Index(1) << 21;
inline constexpr Index kWinogradTiles = 256;

// One sample's transformed tiles, V and M together: 16·tiles·(cin + cout) values.
Index winograd_sample(const Geom& q) { return 16 * ((q.oh + 1) / 2) * ((q.ow + 1) / 2) * (q.cg + q.og); }

// Samples per chunk: about kWinogradTiles tiles, and no more values than one
// sample may have (many channels on tiny images would otherwise take
// hundreds of samples a chunk).
Index winograd_chunk_size(const WinoShape& s, Index n) {
  const Index sample = 16 * s.tiles() * (s.cin + s.cout);
  return std::clamp<Index>(std::min(kWinogradTiles / s.tiles(), kWinogradMaxSample / sample), 1, n);
}

bool winograd_fits(const Geom& q) {
  const Index sample = winograd_sample(q);
  return q.kh == 3 && q.kw == 3 && q.sh == 1 && q.sw == 1 && q.dh == 1 && q.dw == 1 && q.ph <= 2 && q.pw <= 2 &&
         q.cg >= kWinogradMinChannels && q.og >= kWinogradMinChannels && sample <= kWinogradMaxSample;
}
WinoShape forward_shape(const Geom& q) {
  return {q.cg, q.h, q.w, q.og, q.oh, q.ow, q.ph, q.pw, q.c * q.h * q.w, q.o * q.p};
}

// in:[cin planes] -> out:[cout planes] for every sample and group;
// kernel(g, o, c, i, j) reads group g's 3x3 kernel taking input c to output o.
template <class T, class K>
void winograd_all(const Geom& q, const WinoShape& s, const T* in, Index in_group, T* out, Index out_group,
                  K kernel, const T* bias, bool add) {
  const Index chunk = winograd_chunk_size(s, q.n);
  Scratch<T> work(s.v_size(chunk), s.m_size(chunk), 16 * s.cout * s.cin);
  T* u = work.extra();  // the group's transformed kernels
  for (Index g = 0; g < q.groups; ++g) {
    winograd_weights(s.cout, s.cin, [&](Index o, Index c, int i, int j) { return kernel(g, o, c, i, j); }, u);
    for (Index n0 = 0; n0 < q.n; n0 += chunk)
      winograd_chunk(s, std::min(chunk, q.n - n0), in + n0 * s.in_sample + g * in_group, u,
                     bias ? bias + g * s.cout : nullptr, add, out + n0 * s.out_sample + g * out_group, work.cols(),
                     work.rows());
  }
}

// y[n, o] += b[o] over samples [n0, n0 + m) and group g's outputs, while they are in cache.
template <class T>
void add_bias(const Geom& q, T* y, const T* bias, Index n0, Index m, Index g) {
  if (!bias) return;
  for (Index n = n0; n < n0 + m; ++n)
    for (Index o = 0; o < q.og; ++o) ArrayMap<T>(y + q.y_offset(n, g) + o * q.p, q.p) += bias[g * q.og + o];
}

// y[n, g] = W_g · cols(x[n, g]) + b_g   (W_g:[og, k], cols:[k, p] -> [og, p])
template <class T>
void conv_forward(const Geom& q, T* y, const T* x, const T* w, const T* bias, T* saved = nullptr) {
  if (q.k == 0) {
    std::fill(y, y + q.ys.numel(), T(0));
    for (Index g = 0; g < q.groups; ++g) add_bias(q, y, bias, 0, q.n, g);
    return;
  }
  if (q.og == 0 || q.n == 0) return;
  if (q.pointwise) {  // the input planes are the matrix: per sample, no copies
    for (Index n = 0; n < q.n; ++n)
      for (Index g = 0; g < q.groups; ++g) {
        gemm(MatrixMap<T>(y + q.y_offset(n, g), q.og, q.p), ConstMatrixMap<T>(w + g * q.og * q.k, q.og, q.k),
             ConstMatrixMap<T>(x + q.x_offset(n, g), q.k, q.p), Gemm::assign);
        add_bias(q, y, bias, n, 1, g);
      }
    return;
  }
  if (winograd_fits(q)) {
    const WinoShape s = forward_shape(q);
    auto kernel = [&](Index g, Index o, Index c, int i, int j) {
      return w[((g * q.og + o) * q.cg + c) * 9 + i * 3 + j];
    };
    winograd_all(q, s, x, q.cg * q.h * q.w, y, q.og * q.p, kernel, bias, false);
    return;
  }
  const Index chunk = chunk_of(q);
  Scratch<T> work(q.k * chunk * q.p, q.og * chunk * q.p);
  T *cols = work.cols(), *out = work.rows();
  for (Index n0 = 0; n0 < q.n; n0 += chunk) {
    const Index m = std::min(chunk, q.n - n0), ld = m * q.p;
    for (Index g = 0; g < q.groups; ++g) {
      T* c = saved ? saved + saved_offset(q, n0, m, g) : cols;
      im2col(q, x + q.x_offset(n0, g), q.c * q.h * q.w, m, c, ld);
      T* dst = m == 1 ? y + q.y_offset(n0, g) : out;  // one sample's [og, p] is already y's layout
      gemm(MatrixMap<T>(dst, q.og, ld), ConstMatrixMap<T>(w + g * q.og * q.k, q.og, q.k),
           ConstMatrixMap<T>(c, q.k, ld), Gemm::assign);
      if (m > 1) scatter_rows(q, out, n0, m, g, y);
      add_bias(q, y, bias, n0, m, g);
    }
  }
}

template <class T>
TensorT<T> conv_node(const Geom& q, const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& bias);
template <class T>
TensorT<T> input_grad_node(const Geom& q, const TensorT<T>& g, const TensorT<T>& w);
template <class T>
TensorT<T> weight_grad_node(const Geom& q, const TensorT<T>& x, const TensorT<T>& g);

// The three gradients of y = conv(x, W) + b, each a kernel adding into its
// buffer, with its derivative in conv ops (G = dL/dy, up = the upstream of
// the gradient). Each is linear in each input, so:
//   dx += col2im(W_gᵀ·G)   (inputs G, W):  conv(up, W) in G, conv_weight_grad(up, G) in W
//   dW += G·cols(x)ᵀ       (inputs x, G):  conv_input_grad(G, up) in x, conv(x, up) in G
//   db += Σ_{n, pixels} G  (input G):      up at every pixel
template <class T>
struct InputGrad {
  Geom q;
  void operator()(T* dx, const T* grad, const T* w) const {
    if (q.k == 0 || q.og == 0 || q.n == 0) return;
    if (q.pointwise) {
      for (Index n = 0; n < q.n; ++n)
        for (Index g = 0; g < q.groups; ++g)
          gemm(MatrixMap<T>(dx + q.x_offset(n, g), q.k, q.p),
               ConstMatrixMap<T>(w + g * q.og * q.k, q.og, q.k).transpose(),
               ConstMatrixMap<T>(grad + q.y_offset(n, g), q.og, q.p), Gemm::add);
      return;
    }
    if (winograd_fits(q)) {  // dx = G ⋆ W rotated by 180° with in and out swapped, padding 2 − p
      const WinoShape s{q.og, q.oh, q.ow, q.cg, q.h, q.w, 2 - q.ph, 2 - q.pw, q.o * q.p, q.c * q.h * q.w};
      auto kernel = [&](Index g, Index c, Index o, int i, int j) {
        return w[((g * q.og + o) * q.cg + c) * 9 + (2 - i) * 3 + (2 - j)];
      };
      winograd_all(q, s, grad, q.og * q.p, dx, q.cg * q.h * q.w, kernel, static_cast<const T*>(nullptr), true);
      return;
    }
    const Index chunk = chunk_of(q);
    Scratch<T> work(q.k * chunk * q.p, q.og * chunk * q.p);
    T *cols = work.cols(), *gy = work.rows();
    for (Index n0 = 0; n0 < q.n; n0 += chunk) {
      const Index m = std::min(chunk, q.n - n0), ld = m * q.p;
      for (Index g = 0; g < q.groups; ++g) {  // [k, og]·[og, m·p] -> [k, m·p], then back to the pixels
        const T* gm = m == 1 ? grad + q.y_offset(n0, g) : gy;
        if (m > 1) gather_rows(q, grad, n0, m, g, gy);
        gemm(MatrixMap<T>(cols, q.k, ld), ConstMatrixMap<T>(w + g * q.og * q.k, q.og, q.k).transpose(),
             ConstMatrixMap<T>(gm, q.og, ld), Gemm::assign);
        col2im(q, cols, ld, m, dx + q.x_offset(n0, g), q.c * q.h * q.w);
      }
    }
  }
  void operator()(GraphBackward<T>& b) const {
    if (b.needs(0)) b.accumulate(0, conv_node(q, b.grad(), b.input(1), TensorT<T>{}));
    if (b.needs(1)) b.accumulate(1, weight_grad_node(q, b.grad(), b.input(0)));
  }
};

template <class T>
struct WeightGrad {
  Geom q;
  SavedCols<T> saved = {};  // the forward's cols of x, when this is conv's own first gradient
  void operator()(T* dw, const T* x, const T* grad) const {
    if (q.k == 0 || q.og == 0 || q.n == 0) return;
    if (q.pointwise) {
      for (Index n = 0; n < q.n; ++n)
        for (Index g = 0; g < q.groups; ++g)
          gemm(MatrixMap<T>(dw + g * q.og * q.k, q.og, q.k), ConstMatrixMap<T>(grad + q.y_offset(n, g), q.og, q.p),
               ConstMatrixMap<T>(x + q.x_offset(n, g), q.k, q.p).transpose(), Gemm::add);
      return;
    }
    if (winograd_fits(q)) {
      const WinoShape s = forward_shape(q);
      const Index chunk = winograd_chunk_size(s, q.n);
      Scratch<T> work(s.v_size(chunk), s.m_size(chunk), 16 * s.cin * s.cout);
      T* du = work.extra();  // the group's kernel gradient, transformed
      for (Index g = 0; g < q.groups; ++g) {
        std::fill(du, du + 16 * s.cin * s.cout, T(0));
        for (Index n0 = 0; n0 < q.n; n0 += chunk)
          winograd_weight_chunk(s, std::min(chunk, q.n - n0), x + q.x_offset(n0, g), grad + q.y_offset(n0, g), du,
                                work.cols(), work.rows());
        winograd_weights_back(s.cout, s.cin, du, [&](Index o, Index c, int i, int j) -> T& {
          return dw[((g * q.og + o) * q.cg + c) * 9 + i * 3 + j];
        });
      }
      return;
    }
    const Index chunk = saved ? chunk_of(q) : chunk_of(q, true);
    Scratch<T> work(q.k * chunk * q.p, q.og * chunk * q.p);
    T *cols = work.cols(), *gy = work.rows();
    for (Index n0 = 0; n0 < q.n; n0 += chunk) {
      const Index m = std::min(chunk, q.n - n0), ld = m * q.p;
      for (Index g = 0; g < q.groups; ++g) {  // [og, m·p]·[m·p, k] -> [og, k]
        const T* c = cols;
        if (saved) {
          c = saved->data() + saved_offset(q, n0, m, g);
        } else {
          im2col(q, x + q.x_offset(n0, g), q.c * q.h * q.w, m, cols, ld);
        }
        const T* gm = m == 1 ? grad + q.y_offset(n0, g) : gy;
        if (m > 1) gather_rows(q, grad, n0, m, g, gy);
        gemm(MatrixMap<T>(dw + g * q.og * q.k, q.og, q.k), ConstMatrixMap<T>(gm, q.og, ld),
             ConstMatrixMap<T>(c, q.k, ld).transpose(), Gemm::add);
      }
    }
  }
  void operator()(GraphBackward<T>& b) const {
    if (b.needs(0)) b.accumulate(0, input_grad_node(q, b.input(1), b.grad()));
    if (b.needs(1)) b.accumulate(1, conv_node(q, b.input(0), b.grad(), TensorT<T>{}));
  }
};

template <class T>
struct BiasGrad {
  Geom q;
  void operator()(T* db, const T* grad) const {
    for (Index n = 0; n < q.n; ++n)
      for (Index o = 0; o < q.o; ++o) db[o] += ConstArrayMap<T>(grad + (n * q.o + o) * q.p, q.p).sum();
  }
  void operator()(GraphBackward<T>& b) const {
    Shape one = q.ys;
    for (int i = 0; i < one.rank(); ++i) one[i] = i == 1 ? q.o : 1;
    b.accumulate(0, expand(reshape(b.grad(), one), q.ys));
  }
};

template <class T>
TensorT<T> conv_node(const Geom& q, const TensorT<T>& x, const TensorT<T>& w, const TensorT<T>& bias) {
  auto out = TensorT<T>::empty(q.ys);
  // Keep the im2col matrices for dW when a node will be recorded that needs
  // them (x's values are version-checked before dW reads them).
  std::shared_ptr<Buffer<T>> saved;
  const Index saved_size = q.k * q.p * q.n * q.groups;
  if (!q.pointwise && !winograd_fits(q) && grad_enabled() && w.requires_grad() && saved_size > 0 &&
      saved_size <= kSaveCols && chunk_of(q) > 1)
    saved = saved_buffer<T>(saved_size);
  conv_forward(q, out.data(), x.data(), w.data(), bias.defined() ? bias.data() : nullptr,
               saved ? saved->data() : nullptr);
  auto backward = [q, cols = SavedCols<T>(std::move(saved))](auto& b) {
    if (b.needs(0)) d::kernel(b, 0, "conv_input_grad", InputGrad<T>{q}, InputGrad<T>{q}, b.grad(), b.input(1));
    if (b.needs(1))
      d::kernel(b, 1, "conv_weight_grad", WeightGrad<T>{q, cols}, WeightGrad<T>{q}, b.input(0), b.grad());
    if (b.num_inputs() == 3 && b.needs(2))
      d::kernel(b, 2, "conv_bias_grad", BiasGrad<T>{q}, BiasGrad<T>{q}, b.grad());
  };
  if (bias.defined()) return record(out, q.op, {x, w, bias}, backward);
  return record(out, q.op, {x, w}, backward);
}

template <class T>
TensorT<T> input_grad_node(const Geom& q, const TensorT<T>& g, const TensorT<T>& w) {
  auto out = TensorT<T>::zeros(q.xs);
  InputGrad<T>{q}(out.data(), g.data(), w.data());
  return record(out, "conv_input_grad", {g, w}, InputGrad<T>{q});
}

template <class T>
TensorT<T> weight_grad_node(const Geom& q, const TensorT<T>& x, const TensorT<T>& g) {
  auto out = TensorT<T>::zeros(q.ws);
  WeightGrad<T>{q}(out.data(), x.data(), g.data());
  return record(out, "conv_weight_grad", {x, g}, WeightGrad<T>{q});
}

// Checks the arguments and computes the geometry; x and weight have rank 4
// (conv2d) or 3 (conv1d, taken as h = kh = 1).
template <class T>
Geom make_geom(const char* op, const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias, Size2 stride,
               Size2 padding, Size2 dilation, Index groups) {
  const bool two_d = std::string_view(op) == "conv2d";
  const int rank = two_d ? 4 : 3;
  const char* layout = two_d ? "[N, C, H, W]" : "[N, C, L]";
  const char* wlayout = two_d ? "[out, in/groups, kh, kw]" : "[out, in/groups, k]";
  const Shape &xs = x.shape(), &ws = weight.shape();
  if (x.rank() != rank) fail<ShapeError>("{}: input {} must be rank {} {}", op, xs.str(), rank, layout);
  if (weight.rank() != rank) fail<ShapeError>("{}: weight {} must be rank {} {}", op, ws.str(), rank, wlayout);
  if (stride.h < 1 || stride.w < 1 || dilation.h < 1 || dilation.w < 1 || padding.h < 0 || padding.w < 0)
    fail<ValueError>("{}: stride ({}, {}) and dilation ({}, {}) must be >= 1, padding ({}, {}) >= 0", op, stride.h,
                     stride.w, dilation.h, dilation.w, padding.h, padding.w);
  if (groups < 1) fail<ValueError>("{}: groups {} must be >= 1", op, groups);
  Geom q{};
  q.op = op;
  q.xs = xs;
  q.ws = ws;
  q.n = xs[0];
  q.c = xs[1];
  q.h = two_d ? xs[2] : 1;
  q.w = xs[rank - 1];
  q.o = ws[0];
  q.kh = two_d ? ws[2] : 1;
  q.kw = ws[rank - 1];
  q.sh = stride.h;
  q.sw = stride.w;
  q.ph = padding.h;
  q.pw = padding.w;
  q.dh = dilation.h;
  q.dw = dilation.w;
  q.groups = groups;
  if (q.c % groups != 0)
    fail<ShapeError>("{}: input {} has {} channels, not divisible by groups {}", op, xs.str(), q.c, groups);
  if (q.o % groups != 0)
    fail<ShapeError>("{}: weight {} has {} output channels, not divisible by groups {}", op, ws.str(), q.o, groups);
  q.cg = q.c / groups;
  q.og = q.o / groups;
  if (ws[1] != q.cg)
    fail<ShapeError>("{}: weight {} takes {} input channels per group, input {} with groups {} gives {}", op,
                     ws.str(), ws[1], xs.str(), groups, q.cg);
  const Index eh = q.dh * (q.kh - 1) + 1, ew = q.dw * (q.kw - 1) + 1;  // the dilated kernel's extent
  if (eh > q.h + 2 * q.ph || ew > q.w + 2 * q.pw || q.kh < 1 || q.kw < 1)
    fail<ShapeError>("{}: kernel {} (dilation {}x{}) larger than the padded input {}x{} (input {}, padding {}x{})", op,
                     ws.str(), q.dh, q.dw, q.h + 2 * q.ph, q.w + 2 * q.pw, xs.str(), q.ph, q.pw);
  if (bias.defined() && !(bias.shape() == Shape{q.o}))
    fail<ShapeError>("{}: bias {} does not match weight {}: expected [{}]", op, bias.shape().str(), ws.str(), q.o);
  q.oh = (q.h + 2 * q.ph - eh) / q.sh + 1;
  q.ow = (q.w + 2 * q.pw - ew) / q.sw + 1;
  q.ys = two_d ? Shape{q.n, q.o, q.oh, q.ow} : Shape{q.n, q.o, q.ow};
  q.k = q.cg * q.kh * q.kw;
  q.p = q.oh * q.ow;
  q.pointwise = q.kh == 1 && q.kw == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0;
  return q;
}

}  // namespace

template <class T>
TensorT<T> conv2d(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias, Size2 stride,
                  Size2 padding, Size2 dilation, Index groups) {
  return conv_node(make_geom("conv2d", x, weight, bias, stride, padding, dilation, groups), x, weight, bias);
}

template <class T>
TensorT<T> conv1d(const TensorT<T>& x, const TensorT<T>& weight, const TensorT<T>& bias, Index stride,
                  Index padding, Index dilation, Index groups) {
  const Geom q = make_geom("conv1d", x, weight, bias, Size2(1, stride), Size2(0, padding), Size2(1, dilation), groups);
  return conv_node(q, x, weight, bias);
}

#define EMBER_INSTANTIATE(T)                                                                                        \
  template TensorT<T> conv2d(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, Size2, Size2, Size2, Index); \
  template TensorT<T> conv1d(const TensorT<T>&, const TensorT<T>&, const TensorT<T>&, Index, Index, Index, Index);
EMBER_INSTANTIATE(float)
EMBER_INSTANTIATE(double)

}  // namespace ember
