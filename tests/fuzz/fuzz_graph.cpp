// libFuzzer target: the graph builder. The bytes are a program: two leaves
// of small shapes, then a sequence of ops on the tensors made so far, then
// backward (once retained, then again). Ops rejecting their inputs with an
// ember error are fine; any crash, sanitizer report or other exception is a
// finding. Values come from the bytes too, so infinities, NaNs, zeros and
// ties all occur.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <ember/ember.hpp>

using ember::Index;
using ember::Tensor64;

namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint8_t next() { return pos_ < size_ ? data_[pos_++] : 0; }
  double value() {
    const std::uint8_t b = next();
    switch (b % 16) {
      case 0: return 0.0;
      case 1: return INFINITY;
      case 2: return -INFINITY;
      case 3: return NAN;
      case 4: return 1e300;
      default: return (static_cast<int>(b) - 128) / 16.0;
    }
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_, pos_ = 0;
};

Tensor64 leaf(Bytes& in) {
  const Index rows = in.next() % 4 + 1, cols = in.next() % 4 + 1;
  Tensor64 t = Tensor64::empty({rows, cols});
  for (Index i = 0; i < t.numel(); ++i) t.data()[i] = in.value();
  return t.requires_grad_();
}

Tensor64 apply_op(Bytes& in, const std::vector<Tensor64>& pool) {
  const Tensor64& a = pool[in.next() % pool.size()];
  const Tensor64& b = pool[in.next() % pool.size()];
  const int axis = static_cast<int>(in.next() % 5) - 2;
  switch (in.next() % 24) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return a * in.value();
    case 5: return ember::exp(a);
    case 6: return ember::log(a);
    case 7: return ember::sqrt(a);
    case 8: return ember::pow(a, in.value());
    case 9: return ember::sigmoid(a);
    case 10: return ember::tanh(a);
    case 11: return ember::relu(a);
    case 12: return ember::gelu(a);
    case 13: return ember::softmax(a, axis);
    case 14: return ember::log_softmax(a, axis);
    case 15: return ember::sum(a, axis, in.next() & 1);
    case 16: return ember::mean(a, axis, in.next() & 1);
    case 17: return ember::max(a, axis, in.next() & 1);
    case 18: return ember::matmul(a, b);
    case 19: return ember::transpose(a);
    case 20: {
      const Index dims[] = {-1};
      return ember::reshape(a, dims);
    }
    case 21: return ember::concat<double>({a, b}, axis);
    case 22: return ember::mse_loss(a, b);
    default: return ember::where(ember::relu(a), a, b);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes in(data, size);
  std::vector<Tensor64> pool{leaf(in), leaf(in)};
  for (int op = 0; op < 32 && !in.empty(); ++op) {
    try {
      pool.push_back(apply_op(in, pool));
    } catch (const ember::Error&) {
    }
  }
  try {
    Tensor64 loss = ember::sum(pool.back());
    loss.backward(/*retain_graph=*/true);
    loss.backward();
    for (const Tensor64& t : pool)
      if (t.is_leaf() && t.has_grad()) (void)t.grad().numel();
  } catch (const ember::Error&) {
  }
  return 0;
}
