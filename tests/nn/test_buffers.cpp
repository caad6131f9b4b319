// Module buffers: registration, named_buffers(), state_dict() order and
// names, train()/eval() through nested modules, and save_module/load_module
// round trips that include buffers.
#include <ember/ember.hpp>

#include <unistd.h>

#include <filesystem>

#include "../test_helpers.hpp"

using namespace ember;
namespace fs = std::filesystem;

namespace {

template <class T>
std::vector<std::string> names(const std::vector<std::pair<std::string, TensorT<T>>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, p] : named) out.push_back(name);
  return out;
}

// A layer with a parameter and a buffer that counts its calls (in training only).
template <class T>
struct Counter : ModuleT<T> {
  TensorT<T> weight, calls;
  Counter() {
    weight = this->register_parameter("weight", TensorT<T>::ones({2}));
    calls = this->register_buffer("calls", TensorT<T>::zeros({1}));
  }
  TensorT<T> forward(const TensorT<T>& x) override {
    if (this->is_training()) calls.values() += T(1);
    return x * weight;
  }
  std::string type_name() const override { return "Counter"; }
};

// Counter, Sequential(Counter, Counter), and an own buffer after the children were added.
template <class T>
struct Outer : ModuleT<T> {
  std::shared_ptr<Counter<T>> first;
  std::shared_ptr<SequentialT<T>> rest;
  TensorT<T> scale;
  Outer() {
    first = this->register_module("first", std::make_shared<Counter<T>>());
    rest = this->register_module("rest", SequentialT<T>(Counter<T>(), Counter<T>()));
    scale = this->register_buffer("scale", TensorT<T>::full({1}, T(3)));
  }
  TensorT<T> forward(const TensorT<T>& x) override { return (*rest)((*first)(x)) * scale; }
  std::string type_name() const override { return "Outer"; }
};

struct TempFile {
  std::string path = (fs::temp_directory_path() / ("ember_test_buffers_" + std::to_string(::getpid()) + "_" +
                                                   std::to_string(count++) + ".safetensors"))
                         .string();
  static inline int count = 0;
  ~TempFile() { fs::remove(path); }
};

}  // namespace

TEST_CASE("buffers: named_buffers and state_dict list them with dotted names, PyTorch's order") {
  Outer<float> net;
  CHECK(names(net.named_parameters()) ==
        std::vector<std::string>{"first.weight", "rest.0.weight", "rest.1.weight"});
  CHECK(names(net.named_buffers()) ==
        std::vector<std::string>{"scale", "first.calls", "rest.0.calls", "rest.1.calls"});
  // Per module: parameters, then buffers, then children (torch.nn.Module.state_dict()).
  CHECK(names(net.state_dict()) == std::vector<std::string>{"scale", "first.weight", "first.calls", "rest.0.weight",
                                                            "rest.0.calls", "rest.1.weight", "rest.1.calls"});
  CHECK(names(net.named_buffers("net")).front() == "net.scale");
  CHECK(net.buffers().size() == 4);
  CHECK(net.parameters().size() == 3);
  CHECK(net.num_parameters() == 6);  // buffers are not parameters
  for (const auto& b : net.buffers()) CHECK_FALSE(b.requires_grad());
  // Handles: the listed buffer is the module's tensor.
  net.named_buffers()[1].second.values().setConstant(5.0f);
  CHECK(net.first->calls.item() == 5.0f);
}

TEST_CASE("buffers: registration errors name the buffer") {
  Counter<double> c;
  CHECK_THROWS_WITH_SUBSTR(c.register_buffer("calls", Tensor64::zeros({1})), ValueError,
                           "register_buffer: name 'calls' is already a buffer of this Counter");
  CHECK_THROWS_WITH_SUBSTR(c.register_parameter("calls", Tensor64::zeros({1})), ValueError,
                           "register_parameter: name 'calls' is already a buffer of this Counter");
  CHECK_THROWS_WITH_SUBSTR(c.register_buffer("weight", Tensor64::zeros({1})), ValueError,
                           "is already a parameter");
  CHECK_THROWS_WITH_SUBSTR(c.register_buffer("a.b", Tensor64::zeros({1})), ValueError,
                           "register_buffer: name 'a.b' must be non-empty and contain no '.'");
  CHECK_THROWS_WITH_SUBSTR(c.register_buffer("u", Tensor64()), ValueError,
                           "register_buffer: buffer 'u' is an undefined tensor");
  auto trained = Tensor64::zeros({2, 3});
  trained.requires_grad_();
  CHECK_THROWS_WITH_SUBSTR(c.register_buffer("t", trained), ValueError,
                           "register_buffer: buffer 't' [2x3] requires grad");
}

TEST_CASE("modules: train() / eval() / is_training() reach nested modules") {
  Outer<float> net;
  const auto x = Tensor::ones({2});
  net(x);
  CHECK(net.rest->named_buffers()[0].second.item() == 1.0f);
  net.eval();
  for (const auto& [name, m] : net.named_modules()) {
    CAPTURE(name);
    CHECK_FALSE(m->is_training());
  }
  net(x);  // eval: no counting anywhere
  CHECK(net.first->calls.item() == 1.0f);
  CHECK(net.rest->named_buffers()[1].second.item() == 1.0f);
  net.rest->train();  // only that subtree
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.first->is_training());
  CHECK((*net.rest)[1].is_training());
  net(x);
  CHECK(net.first->calls.item() == 1.0f);
  CHECK(net.rest->named_buffers()[1].second.item() == 2.0f);
}

TEST_CASE("save_module / load_module: parameters and buffers round-trip bit for bit") {
  TempFile file;
  Outer<double> trained;
  Generator gen(3);
  for (auto& [name, t] : trained.state_dict()) t.values() = Tensor64::randn(t.shape(), gen).values();
  save_module(file.path, trained, {{"epoch", "2"}});
  // The file holds exactly the state_dict's names (buffers included).
  std::vector<std::string> stored;
  for (const auto& e : inspect_safetensors(file.path)) stored.push_back(e.name);
  CHECK(stored == names(trained.state_dict()));

  Outer<double> fresh;
  load_module(file.path, fresh);
  const auto a = trained.state_dict(), b = fresh.state_dict();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK((std::as_const(a[i].second).values() == std::as_const(b[i].second).values()).all());
  }
  CHECK(fresh.scale.item() != 3.0);  // a buffer was loaded, not left at its initial value
}

TEST_CASE("load_module: a file without the buffers is an error naming them; nothing changes") {
  TempFile file;
  Outer<float> net;
  save_safetensors(file.path, net.named_parameters());  // parameters only: the old way
  Outer<float> other;
  other.first->weight.values().setConstant(7.0f);
  CHECK_THROWS_WITH_SUBSTR(load_module(file.path, other), IoError,
                           "the file's names differ from the model's: missing \"scale\", \"first.calls\"");
  CHECK(other.first->weight.values()(0) == 7.0f);
}
