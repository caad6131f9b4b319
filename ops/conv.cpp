#include "conv.hpp"

#include <algorithm>
#include <string_view>

#include "../engine/gemm.hpp"
#include "../engine/record.hpp"
#include "derivative.hpp"

namespace ember {

namespace {

// The geometry of one convolution, shared by the forward and the three
// gradient kernels. conv1d is the case h = kh = 1 with rank-3 shapes.
struct Geom {
  const char* op;
  Shape xs, ws, ys;                // input, weight and output shapes as the user sees them
  Index n, c, h, w;                // input
  Index o, kh, kw;                 // weight
  Index sh, sw, ph, pw, dh, dw;    // stride, padding, dilation
  Index groups, oh, ow;
  Index cg, og, k, p;              // channels per group in and out, im2col rows (cg·kh·kw) and columns (oh·ow)
  bool pointwise;                  // 1x1, stride 1, no padding: the input planes are already the im2col matrix

  Index x_offset(Index n_, Index g) const { return (n_ * c + g * cg) * h * w; }
  Index y_offset(Index n_, Index g) const { return (n_ * o + g * og) * p; }
};

// x:[cg, H, W] of one sample and group -> cols:[cg·kh·kw, OH·OW]; row
// (c, i, j), column (oh, ow) holds x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]
// or 0 in the padding.
template <class T>
void im2col(const Geom& q, const T* x, T* cols) {
  for (Index c = 0; c < q.cg; ++c)
    for (Index i = 0; i < q.kh; ++i)
      for (Index j = 0; j < q.kw; ++j) {
        T* row = cols + ((c * q.kh + i) * q.kw + j) * q.p;
        const T* plane = x + c * q.h * q.w;
        const Index off = j * q.dw - q.pw;
        for (Index oh = 0; oh < q.oh; ++oh) {
          T* out = row + oh * q.ow;
          const Index ih = oh * q.sh - q.ph + i * q.dh;
          if (ih < 0 || ih >= q.h) {
            std::fill(out, out + q.ow, T(0));
            continue;
          }
          const T* src = plane + ih * q.w;
          if (q.sw == 1) {  // a contiguous run with zeros either side
            const Index lo = std::clamp<Index>(-off, 0, q.ow), hi = std::clamp<Index>(q.w - off, lo, q.ow);
            std::fill(out, out + lo, T(0));
            std::copy(src + lo + off, src + hi + off, out + lo);
            std::fill(out + hi, out + q.ow, T(0));
          } else {
            for (Index ow = 0; ow < q.ow; ++ow) {
              const Index iw = ow * q.sw + off;
              out[ow] = iw >= 0 && iw < q.w ? src[iw] : T(0);
            }
          }
        }
      }
}

// The adjoint of im2col: adds each column entry back to the input position
// it was read from (padding entries are dropped).
template <class T>
void col2im(const Geom& q, const T* cols, T* x) {
  for (Index c = 0; c < q.cg; ++c)
    for (Index i = 0; i < q.kh; ++i)
      for (Index j = 0; j < q.kw; ++j) {
        const T* row = cols + ((c * q.kh + i) * q.kw + j) * q.p;
        T* plane = x + c * q.h * q.w;
        const Index off = j * q.dw - q.pw;
        for (Index oh = 0; oh < q.oh; ++oh) {
          const Index ih = oh * q.sh - q.ph + i * q.dh;
          if (ih < 0 || ih >= q.h) continue;
          const T* in = row + oh * q.ow;
          T* dst = plane + ih * q.w;
          if (q.sw == 1) {
            const Index lo = std::clamp<Index>(-off, 0, q.ow), hi = std::clamp<Index>(q.w - off, lo, q.ow);
            for (Index ow = lo; ow < hi; ++ow) dst[ow + off] += in[ow];
          } else {
            for (Index ow = 0; ow < q.ow; ++ow) {
              const Index iw = ow * q.sw + off;
              if (iw >= 0 && iw < q.w) dst[iw] += in[ow];
            }
          }
        }
      }
}

// y[n, g] = W_g · cols(x[n, g])   (W_g:[og, k], cols:[k, p] -> [og, p])
template <class T>
void conv_forward(const Geom& q, T* y, const T* x, const T* w) {
  if (q.k == 0) {
    std::fill(y, y + q.ys.numel(), T(0));
    return;
  }
  if (q.og == 0) return;
  Buffer<T> cols(q.pointwise ? 0 : q.k * q.p);
  for (Index n = 0; n < q.n; ++n)
    for (Index g = 0; g < q.groups; ++g) {
      const T* src = x + q.x_offset(n, g);
      if (!q.pointwise) {
        im2col(q, src, cols.data());
        src = cols.data();
      }
      gemm(MatrixMap<T>(y + q.y_offset(n, g), q.og, q.p), ConstMatrixMap<T>(w + g * q.og * q.k, q.og, q.k),
           ConstMatrixMap<T>(src, q.k, q.p), Gemm::assign);
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
    if (q.k == 0 || q.og == 0) return;
    Buffer<T> cols(q.pointwise ? 0 : q.k * q.p);
    for (Index n = 0; n < q.n; ++n)
      for (Index g = 0; g < q.groups; ++g) {
        const ConstMatrixMap<T> wg(w + g * q.og * q.k, q.og, q.k), gy(grad + q.y_offset(n, g), q.og, q.p);
        if (q.pointwise) {
          gemm(MatrixMap<T>(dx + q.x_offset(n, g), q.k, q.p), wg.transpose(), gy, Gemm::add);
        } else {  // [k, og]·[og, p] -> [k, p], then back to the pixels
          gemm(MatrixMap<T>(cols.data(), q.k, q.p), wg.transpose(), gy, Gemm::assign);
          col2im(q, cols.data(), dx + q.x_offset(n, g));
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
  void operator()(T* dw, const T* x, const T* grad) const {
    if (q.k == 0 || q.og == 0) return;
    Buffer<T> cols(q.pointwise ? 0 : q.k * q.p);
    for (Index n = 0; n < q.n; ++n)
      for (Index g = 0; g < q.groups; ++g) {
        const T* src = x + q.x_offset(n, g);
        if (!q.pointwise) {
          im2col(q, src, cols.data());
          src = cols.data();
        }  // [og, p]·[p, k] -> [og, k]
        gemm(MatrixMap<T>(dw + g * q.og * q.k, q.og, q.k), ConstMatrixMap<T>(grad + q.y_offset(n, g), q.og, q.p),
             ConstMatrixMap<T>(src, q.k, q.p).transpose(), Gemm::add);
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
  conv_forward(q, out.data(), x.data(), w.data());
  if (bias.defined()) {
    const T* b = bias.data();
    for (Index n = 0; n < q.n; ++n)
      for (Index o = 0; o < q.o; ++o) ArrayMap<T>(out.data() + (n * q.o + o) * q.p, q.p) += b[o];
  }
  auto backward = [q](auto& b) {
    if (b.needs(0)) d::kernel(b, 0, "conv_input_grad", InputGrad<T>{q}, InputGrad<T>{q}, b.grad(), b.input(1));
    if (b.needs(1)) d::kernel(b, 1, "conv_weight_grad", WeightGrad<T>{q}, WeightGrad<T>{q}, b.input(0), b.grad());
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
