// Modules: parameter names and counts, MLP structure, forward, train/eval,
// zero_grad, handle semantics, errors, and a short training run.
#include <ember/ember.hpp>

#include <cmath>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

template <class T>
std::vector<std::string> names(const std::vector<std::pair<std::string, TensorT<T>>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, p] : named) out.push_back(name);
  return out;
}

// A user module holding an MLP as `layers`, like a PyTorch module's self.layers.
struct Net : Module {
  std::shared_ptr<Sequential> layers;
  Tensor scale;
  explicit Net(Generator& gen) {
    scale = register_parameter("scale", Tensor::ones({1}));
    layers = register_module("layers", mlp({4, 8, 2}, "tanh", Init::xavier, gen));
  }
  Tensor forward(const Tensor& x) override { return (*layers)(x) * scale; }
  std::string type_name() const override { return "Net"; }
};

}  // namespace

TEST_CASE("Linear: parameters, shapes, names") {
  Generator gen(1);
  Linear layer(3, 5, gen);
  CHECK(names(layer.named_parameters()) == std::vector<std::string>{"weight", "bias"});
  CHECK(layer.weight.shape() == Shape{5, 3});  // [out, in], as PyTorch
  CHECK(layer.bias.shape() == Shape{5});
  CHECK(layer.weight.requires_grad());
  CHECK(layer.bias.requires_grad());
  CHECK(layer.in_features() == 3);
  CHECK(layer.out_features() == 5);
  CHECK(layer.num_parameters() == 20);
  CHECK(layer.parameters()[0].node_ptr() == layer.weight.node_ptr());  // the same parameter, not a copy
  CHECK(layer.str() == "Linear(in_features=3, out_features=5, bias=true)");

  Linear no_bias(3, 5, gen, {.bias = false});
  CHECK(names(no_bias.named_parameters()) == std::vector<std::string>{"weight"});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias(Tensor::ones({2, 3})).shape() == Shape{2, 5});
}

TEST_CASE("Linear: forward is the fused linear op on its parameters") {
  Generator gen(2);
  Linear64 layer(3, 2, gen);
  auto x = Tensor64::randn({4, 3}, gen);
  auto y = layer(x);
  CHECK(std::string(y.op()) == "linear");
  auto expected = linear(x, layer.weight, layer.bias);
  CHECK(y.to_vector() == expected.to_vector());
  CHECK(gradcheck([&](const auto& t) { return layer(t[0]); }, {x}));
}

TEST_CASE("Linear: the standard init is U(±1/sqrt(in)) for weight and bias") {
  Generator gen(3);
  Linear layer(100, 300, gen);
  const double bound = 0.1;
  CHECK(layer.weight.values().abs().maxCoeff() <= bound);
  CHECK(layer.weight.values().abs().maxCoeff() > 0.99 * bound);
  CHECK(layer.bias.values().abs().maxCoeff() <= bound);
  CHECK(layer.bias.values().abs().maxCoeff() > 0.9 * bound);
  Linear zeros(100, 300, gen, {.init = Init::kaiming});
  CHECK(zeros.bias.values().abs().maxCoeff() == 0.0f);
}

TEST_CASE("mlp: structure, PyTorch-style names and counts") {
  Generator gen(4);
  auto model = mlp({30, 32, 32, 1}, "relu", Init::kaiming, gen);
  CHECK(model.size() == 5);
  CHECK(names(model.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});
  CHECK(names(model.named_parameters("layers")) ==
        std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                                 "layers.4.weight", "layers.4.bias"});
  CHECK(model.num_parameters() == 30 * 32 + 32 + 32 * 32 + 32 + 32 * 1 + 1);
  CHECK(model.parameters().size() == 6);
  CHECK(model.str() ==
        "Sequential(\n"
        "  (0): Linear(in_features=30, out_features=32, bias=true)\n"
        "  (1): Activation(relu)\n"
        "  (2): Linear(in_features=32, out_features=32, bias=true)\n"
        "  (3): Activation(relu)\n"
        "  (4): Linear(in_features=32, out_features=1, bias=true)\n"
        ")");
  // Linear layers in order, layer 1 next to the input.
  auto layers = model.linear_layers();
  REQUIRE(layers.size() == 3);
  CHECK(layers[0]->in_features() == 30);
  CHECK(layers[1]->in_features() == 32);
  CHECK(layers[2]->out_features() == 1);
  CHECK(layers[0] == &model[0]);
  CHECK(dynamic_cast<Activation&>(model[1]).name() == "relu");

  auto bare = mlp({3, 2}, "tanh", Init::standard, gen);  // one layer, no activation
  CHECK(bare.size() == 1);
  CHECK(mlp({3, 4, 2}, "sigmoid", Init::xavier, gen, false).num_parameters() == 3 * 4 + 4 * 2);
}

TEST_CASE("mlp: init by scheme with the activation's gain, drawn in order from the seed") {
  Generator gen(5);
  auto model = mlp<double>({400, 500, 1}, "tanh", Init::xavier_uniform, gen);
  auto* first = model.linear_layers()[0];
  const double bound = 5.0 / 3.0 * std::sqrt(6.0 / 900);  // tanh gain
  CHECK(first->weight.values().abs().maxCoeff() <= bound);
  CHECK(first->weight.values().abs().maxCoeff() > 0.999 * bound);
  CHECK(first->bias.values().abs().maxCoeff() == 0.0);

  auto relu = mlp<double>({400, 500, 1}, "relu", Init::kaiming, gen);
  const auto w = relu.linear_layers()[0]->weight.values();
  CHECK(w.square().mean() == doctest::Approx(2.0 / 400).epsilon(0.03));  // N(0, 2/fan_in)

  Generator a(9), b(9), c(10);
  auto m1 = mlp({5, 6, 2}, "relu", Init::kaiming, a);
  auto m2 = mlp({5, 6, 2}, "relu", Init::kaiming, b);
  auto m3 = mlp({5, 6, 2}, "relu", Init::kaiming, c);
  for (std::size_t i = 0; i < m1.parameters().size(); ++i)
    CHECK(m1.parameters()[i].to_vector() == m2.parameters()[i].to_vector());
  CHECK(m1.parameters()[0].to_vector() != m3.parameters()[0].to_vector());
}

TEST_CASE("mlp: forward composes linear and activation; forward_all shows each layer") {
  Generator gen(6);
  auto model = mlp<double>({3, 4, 2}, "relu", Init::standard, gen);
  auto x = Tensor64::randn({5, 3}, gen);
  auto& l0 = dynamic_cast<Linear64&>(model[0]);
  auto& l2 = dynamic_cast<Linear64&>(model[2]);
  auto expected = linear(relu(linear(x, l0.weight, l0.bias)), l2.weight, l2.bias);
  auto y = model(x);
  CHECK(y.shape() == Shape{5, 2});
  CHECK(y.to_vector() == expected.to_vector());
  auto outs = model.forward_all(x);
  REQUIRE(outs.size() == 3);
  CHECK(outs[0].shape() == Shape{5, 4});
  CHECK(std::string(outs[1].op()) == "relu");
  CHECK(outs[1].values().minCoeff() >= 0.0);
  CHECK(outs[2].to_vector() == y.to_vector());
  CHECK(gradcheck([&](const auto& t) { return model(t[0]); }, {x}));
}

TEST_CASE("modules: a nested model names its parameters with dots") {
  Generator gen(7);
  Net net(gen);
  CHECK(names(net.named_parameters()) == std::vector<std::string>{"scale", "layers.0.weight", "layers.0.bias",
                                                                  "layers.2.weight", "layers.2.bias"});
  auto modules = net.named_modules();
  REQUIRE(modules.size() == 5);
  CHECK(modules[0].first == "");
  CHECK(modules[1].first == "layers");
  CHECK(modules[2].first == "layers.0");
  CHECK(modules[4].first == "layers.2");
  CHECK(net.linear_layers().size() == 2);
  CHECK(net(Tensor::ones({3, 4})).shape() == Shape{3, 2});
  CHECK(net.str().find("Net(\n  (layers): Sequential(\n    (0): Linear(in_features=4") == 0);
}

TEST_CASE("modules: train() and eval() reach every module") {
  Generator gen(8);
  Net net(gen);
  CHECK(net.training());
  net.eval();
  for (const auto& [name, m] : net.named_modules()) {
    CAPTURE(name);
    CHECK_FALSE(m->training());
  }
  net.train();
  CHECK(net.layers->training());
  CHECK((*net.layers)[2].training());
}

TEST_CASE("modules: zero_grad zeroes every parameter's gradient") {
  Generator gen(9);
  auto model = mlp({3, 4, 1}, "tanh", Init::xavier, gen);
  sum(model(Tensor::randn({5, 3}, gen))).backward();
  bool any_nonzero = false;
  for (auto& p : model.parameters()) any_nonzero = any_nonzero || (p.grad().values() != 0.0f).any();
  CHECK(any_nonzero);
  model.zero_grad();
  for (auto& p : model.parameters()) CHECK((p.grad().values() == 0.0f).all());
}

TEST_CASE("modules: copies share parameters, like tensors") {
  Generator gen(10);
  auto model = mlp({2, 3, 1}, "relu", Init::standard, gen);
  auto copy = model;
  copy.parameters()[0].values().setConstant(7.0f);
  CHECK(model.parameters()[0].values()(0) == 7.0f);
}

TEST_CASE("Sequential: built by hand, indices as names") {
  Generator gen(11);
  Sequential seq(Linear(2, 3, gen), Activation("sigmoid"), Linear(3, 1, gen));
  seq.add(Activation("identity"));
  CHECK(seq.size() == 4);
  CHECK(names(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(seq(Tensor::zeros({1, 2})).shape() == Shape{1, 1});
  Sequential nested(seq, Linear(1, 1, gen));
  CHECK(names(nested.named_parameters()).front() == "0.0.weight");
  CHECK(names(nested.named_parameters()).back() == "1.bias");
}

TEST_CASE("modules: errors name the problem") {
  Generator gen(12);
  CHECK_THROWS_WITH_SUBSTR(mlp({3}, "relu", Init::standard, gen), ValueError,
                           "mlp: needs at least 2 widths (inputs and outputs), got 1");
  CHECK_THROWS_WITH_SUBSTR(mlp({3, 2}, "swish", Init::standard, gen), ValueError, "swish");
  CHECK_THROWS_WITH_SUBSTR(mlp({3, 0, 2}, "relu", Init::standard, gen), ValueError,
                           "Linear: in_features and out_features must be positive, got 3 and 0");
  CHECK_THROWS_WITH_SUBSTR(Linear(-1, 2, gen), ValueError, "got -1 and 2");
  CHECK_THROWS_WITH_SUBSTR(Activation("cube"), ValueError, "cube");
  Sequential seq;
  CHECK_THROWS_WITH_SUBSTR(seq[0], ShapeError, "Sequential: index 0 is out of range for 0 modules");
  Linear layer(2, 2, gen);
  CHECK_THROWS_WITH_SUBSTR(layer.register_parameter("weight", Tensor::zeros({1})), ValueError,
                           "register_parameter: name 'weight' is already a parameter of this Linear");
  CHECK_THROWS_WITH_SUBSTR(layer.register_parameter("a.b", Tensor::zeros({1})), ValueError,
                           "register_parameter: name 'a.b' must be non-empty and contain no '.'");
  CHECK_THROWS_WITH_SUBSTR(layer.register_module("weight", Activation("relu")), ValueError,
                           "register_module: name 'weight' is already a parameter");
  CHECK_THROWS_WITH_SUBSTR(layer.register_parameter("p", Tensor{}), ValueError, "undefined tensor");
  CHECK_THROWS_WITH_SUBSTR(layer(Tensor::zeros({4, 3})), ShapeError, "input features 3 differ");
}

TEST_CASE("modules: an MLP learns a small regression with Adam") {
  Generator gen(13);
  auto model = mlp<double>({2, 16, 1}, "tanh", Init::xavier, gen);
  auto x = Tensor64::rand({64, 2}, gen, -1.0, 1.0);
  auto y = Tensor64::empty({64, 1});
  for (Index i = 0; i < 64; ++i) y.data()[i] = x.at({i, 0}) * x.at({i, 1});  // needs the hidden layer
  Adam64 opt(model.parameters(), {.lr = 0.02});
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    auto loss = mse_loss(model(x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  MESSAGE("mse ", first, " -> ", last);
  CHECK(last < 0.1 * first);
}
