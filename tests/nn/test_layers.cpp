// nn/layers.hpp and the LayerNorm / RMSNorm modules: Dropout (statistics
// with a fixed seed, train vs eval, p = 0 and p = 1, errors), Embedding
// (lookup, repeated indices' gradients, errors), Flatten, Residual,
// LayerNorm / RMSNorm modules; gradcheck through each in double.
#include <ember/ember.hpp>

#include <cmath>
#include <vector>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

using Inputs = std::vector<Tensor64>;

template <class T>
std::vector<std::string> names(const std::vector<std::pair<std::string, TensorT<T>>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, p] : named) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("Dropout: a fixed seed keeps the mean within its statistical tolerance") {
  Dropout drop(0.3, 42);
  const Index n = 20000;
  const auto y = drop(Tensor::ones({n}));
  const auto v = y.values();
  const double zeros = (v == 0.0f).cast<double>().sum() / double(n);
  // Kept elements are exactly 1/(1-p); the rest 0.
  CHECK(((v == 0.0f) || (v == float(1 / 0.7))).all());
  // Binomial: the dropped fraction's standard deviation is sqrt(p(1-p)/n) = 0.0032,
  // the mean's sqrt(p/(1-p)/n) = 0.0046; the tolerances are about 4 of them.
  CHECK(std::abs(zeros - 0.3) < 0.013);
  CHECK(std::abs(v.cast<double>().mean() - 1.0) < 0.02);
  // A second call draws a new mask; the same seed repeats the first.
  CHECK((drop(Tensor::ones({n})).values() != v).any());
  Dropout again(0.3, 42);
  CHECK((again(Tensor::ones({n})).values() == v).all());
}

TEST_CASE("Dropout: the gradient is the mask; eval, p = 0 and p = 1") {
  Generator gen(3);
  Dropout64 drop(0.5, gen);
  auto x = Tensor64::randn({4, 5}, gen);
  x.requires_grad_();
  const auto y = drop(x);
  sum(y).backward();
  for (Index i = 0; i < x.numel(); ++i) {
    const double m = y.values()[i] / x.values()[i];
    CHECK((m == 0.0 || m == doctest::Approx(2.0).epsilon(1e-15)));
    CHECK(x.grad().values()[i] == doctest::Approx(m).epsilon(1e-15));
  }
  drop.eval();
  CHECK((drop(x).values() == x.values()).all());
  Dropout64 none(0.0);
  CHECK((none(x).values() == x.values()).all());
  Dropout64 all(1.0);
  x.zero_grad();
  const auto z = all(x);
  CHECK((z.values() == 0.0).all());
  sum(z).backward();
  CHECK((x.grad().values() == 0.0).all());
  CHECK(drop.str() == "Dropout(p=0.5)");
}

TEST_CASE("dropout: gradcheck and gradgradcheck with a fixed mask; errors for p outside [0, 1]") {
  Generator gen(4);
  CHECK_GRAD_AND_GRADGRAD(
      [](const Inputs& in) {
        Generator g(9);
        return dropout(in[0], 0.4, g);
      },
      {Tensor64::randn({3, 4}, gen)});
  // The module, rebuilt with its seed at each call so the mask is fixed.
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return Dropout64(0.25, 9)(in[0]); }, {Tensor64::randn({3, 4}, gen)});
  CHECK_THROWS_WITH_SUBSTR(Dropout(-0.1), ValueError, "Dropout: p must be in [0, 1], got -0.1");
  CHECK_THROWS_WITH_SUBSTR(Dropout(1.5), ValueError, "Dropout: p must be in [0, 1], got 1.5");
  CHECK_THROWS_WITH_SUBSTR(Dropout(std::nan("")), ValueError, "Dropout: p must be in [0, 1], got nan");
  CHECK_THROWS_WITH_SUBSTR(dropout(Tensor::ones({2}), 2.0, gen), ValueError, "dropout: p must be in [0, 1], got 2");
}

TEST_CASE("Embedding: rows by index, shape S + [dim], repeated indices add their gradients") {
  Generator gen(5);
  Embedding64 emb(5, 3, gen);
  CHECK(names(emb.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(emb.weight.shape() == Shape{5, 3});
  const auto y = emb(Indices{{1, 3}, {1, 1}});
  CHECK(y.shape() == Shape{2, 2, 3});
  for (Index j = 0; j < 3; ++j) {
    CHECK(y.values()[j] == emb.weight.values()[3 + j]);      // [0][0] = row 1
    CHECK(y.values()[3 + j] == emb.weight.values()[9 + j]);  // [0][1] = row 3
  }
  auto up = Tensor64::randn({2, 2, 3}, gen);
  sum(y * up).backward();
  const auto grad = emb.weight.grad();
  const auto g = grad.values();
  const auto u = std::as_const(up).values();
  for (Index j = 0; j < 3; ++j) {
    CHECK(g[3 + j] == doctest::Approx(u[j] + u[6 + j] + u[9 + j]).epsilon(1e-15));  // row 1, three times
    CHECK(g[9 + j] == u[3 + j]);
    CHECK(g[j] == 0.0);
  }
  // The tensor form (what a Sequential passes) gives the same rows.
  CHECK((emb(Tensor64::from({{1.0, 3.0}, {1.0, 1.0}})).values() == y.values()).all());
  CHECK(emb.str() == "Embedding(5, 3)");
}

TEST_CASE("Embedding: gradcheck in the weight; errors name the index") {
  Generator gen(6);
  CHECK_GRAD_AND_GRADGRAD(
      [](const Inputs& in) {
        Generator g(0);
        Embedding64 emb(4, 2, g);
        emb.weight = in[0];
        return emb(Indices{2, 0, 2, 3});
      },
      {Tensor64::randn({4, 2}, gen)});
  Embedding emb(4, 2, gen);
  CHECK_THROWS_WITH_SUBSTR(emb(Indices{0, 4}), ValueError,
                           "Embedding: index 4 (position 1 of [2]) is out of range for 4 embeddings");
  CHECK_THROWS_WITH_SUBSTR(emb(Indices{-1}), ValueError, "Embedding: index -1 (position 0 of [1])");
  CHECK_THROWS_WITH_SUBSTR(emb(Tensor::from({1.0f, 2.5f})), ValueError,
                           "Embedding: index 2.5 at position 1 of [2] is not an integer");
  CHECK_THROWS_WITH_SUBSTR(emb(Tensor::from({std::nanf("")})), ValueError, "Embedding: index nan");
  CHECK_THROWS_WITH_SUBSTR(Embedding(0, 2, gen), ValueError, "Embedding: num_embeddings and embedding_dim must be");
}

TEST_CASE("Flatten: every axis but the batch by default, or a range") {
  Generator gen(7);
  const auto x = Tensor64::randn({2, 3, 4, 5}, gen);
  CHECK(Flatten64()(x).shape() == Shape{2, 60});
  CHECK(Flatten64(1, 2)(x).shape() == Shape{2, 12, 5});
  CHECK(Flatten64(0)(x).shape() == Shape{120});
  CHECK((Flatten64()(x).values() == x.values()).all());
  CHECK(Flatten().str() == "Flatten(start_dim=1, end_dim=-1)");
  CHECK_GRAD_AND_GRADGRAD([](const Inputs& in) { return Flatten64(1, -2)(in[0]); }, {Tensor64::randn({2, 3, 2}, gen)});
}

TEST_CASE("Residual: x + block(x), the block's names under block., shape mismatch is an error") {
  Generator gen(8);
  Residual64 res(SequentialT<double>(Linear64(4, 4, gen), Activation64("tanh")));
  CHECK(names(res.named_parameters()) == std::vector<std::string>{"block.0.weight", "block.0.bias"});
  const auto x = Tensor64::randn({3, 4}, gen);
  CHECK((res(x).values() == (x + res.block()(x)).values()).all());
  // gradcheck in x and in a LayerNorm block's parameters.
  CHECK_GRAD_AND_GRADGRAD(
      [](const Inputs& in) {
        auto ln = std::make_shared<LayerNorm64>(4);
        ln->weight = in[1];
        ln->bias = in[2];
        Residual64 r(ln);
        return r(in[0]);
      },
      {x, Tensor64::randn({4}, gen), Tensor64::randn({4}, gen)});
  Residual64 wrong(Linear64(4, 2, gen));
  CHECK_THROWS_WITH_SUBSTR(wrong(x), ShapeError,
                           "Residual: the block (Linear) maps input [3x4] to [3x2]; x + block(x) needs the same shape");
  CHECK_THROWS_WITH_SUBSTR(Residual(std::shared_ptr<Module>()), ValueError, "register_module: module 'block' is null");
}

TEST_CASE("LayerNorm / RMSNorm modules: torch.nn names and init, the fused op, gradcheck") {
  Generator gen(9);
  LayerNorm64 ln(Shape{2, 3});
  CHECK(names(ln.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(ln.weight.shape() == Shape{2, 3});
  CHECK((ln.weight.values() == 1.0).all());
  CHECK((ln.bias.values() == 0.0).all());
  CHECK(ln.str() == "LayerNorm((2, 3), eps=1e-05, elementwise_affine=True)");
  const auto x = Tensor64::randn({4, 2, 3}, gen);
  ln.weight.values() = Tensor64::randn({2, 3}, gen).values();
  CHECK((ln(x).values() == layer_norm(x, {2, 3}, ln.weight, ln.bias).values()).all());
  CHECK(LayerNorm64(3, 1e-5, false).named_parameters().empty());

  RMSNorm64 rn(3);
  CHECK(names(rn.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK(rn.str() == "RMSNorm((3,), eps=None, elementwise_affine=True)");
  CHECK((rn(x).values() == rms_norm(x, {3}, rn.weight).values()).all());
  CHECK(RMSNorm(3, 1e-6).str() == "RMSNorm((3,), eps=1e-06, elementwise_affine=True)");
  CHECK_GRAD_AND_GRADGRAD(
      [](const Inputs& in) {
        RMSNorm64 m(3, 1e-5);
        m.weight = in[1];
        return m(in[0]);
      },
      {x, Tensor64::randn({3}, gen)});
  CHECK_THROWS_WITH_SUBSTR(LayerNorm(Shape{}), ValueError, "LayerNorm: normalized_shape [] must have at least one");
  CHECK_THROWS_WITH_SUBSTR(LayerNorm(3)(Tensor::ones({2, 4})), ShapeError,
                           "layer_norm: input [2x4] does not end in normalized_shape [3]");
}

TEST_CASE("layers: train() / eval() through a model; a checkpoint round trip of every layer") {
  Generator gen(10);
  auto model = SequentialT<double>()
                   .add(Linear64(4, 6, gen))
                   .add(BatchNorm1d64(6))
                   .add(Activation64("relu"))
                   .add(Dropout64(0.5, gen))
                   .add(Residual64(LayerNorm64(6)))
                   .add(RMSNorm64(6))
                   .add(Linear64(6, 2, gen));
  CHECK(names(model.state_dict()) ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                 "1.num_batches_tracked", "4.block.weight", "4.block.bias", "5.weight",
                                 "6.weight", "6.bias"});
  const auto x = Tensor64::randn({8, 4}, gen);
  CHECK((model(x).values() != model(x).values()).any());  // dropout and batch statistics in train()
  model.eval();
  const auto y = model(x);
  CHECK((model(x).values() == y.values()).all());  // deterministic in eval()
}

TEST_CASE("docs/api.md: the More layers example builds, runs and lists the documented names") {
  Generator gen(0);
  auto model = Sequential()
                   .add(Linear(16, 32, gen))
                   .add(BatchNorm1d(32))
                   .add(Activation("relu"))
                   .add(Dropout(0.1, gen))
                   .add(Residual(LayerNorm(32)))
                   .add(Linear(32, 4, gen));
  model.eval();
  CHECK(model(Tensor::randn({3, 16}, gen)).shape() == Shape{3, 4});
  const std::vector<std::string> first{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                       "1.running_var", "1.num_batches_tracked", "4.block.weight"};
  const auto all = names(model.state_dict());
  CHECK(std::vector<std::string>(all.begin(), all.begin() + 8) == first);
}

TEST_CASE("Dropout: its generator is a named random stream, shared by copies, restorable") {
  Generator gen(1);
  auto model = Sequential().add(Linear(4, 4, gen)).add(Dropout(0.5, 11)).add(Residual(Dropout(0.2, 12)));
  const NamedGenerators streams = model.named_generators();
  REQUIRE(streams.size() == 2);
  CHECK(streams[0].first == "1.generator");
  CHECK(streams[1].first == "2.block.generator");
  CHECK(model.named_generators("net")[0].first == "net.1.generator");

  // Restoring the registered stream repeats the masks exactly.
  const Tensor x = Tensor::ones({8, 4});
  const GeneratorState saved = streams[0].second->state();
  const auto first = model[1](x).to_vector();
  CHECK(model[1](x).to_vector() != first);  // the stream moved on
  streams[0].second->set_state(saved);
  CHECK(model[1](x).to_vector() == first);

  // A copy is a handle: it draws from the same stream.
  Dropout a(0.5, 3);
  Dropout b = a;
  CHECK(a.named_generators()[0].second == b.named_generators()[0].second);
  CHECK_THROWS_WITH_SUBSTR(a.register_generator("generator", std::make_shared<Generator>(1)), ValueError,
                           "register_generator: name 'generator' is already a generator of this Dropout");
  CHECK_THROWS_WITH_SUBSTR(a.register_generator("g", nullptr), ValueError,
                           "register_generator: generator 'g' is null");
}
