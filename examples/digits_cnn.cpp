// A small CNN on the 8x8 digits: Conv2d(1→16, 3x3, pad 1)-ReLU-MaxPool(2),
// Conv2d(16→32, 3x3, pad 1)-ReLU-MaxPool(2), Linear(128→10), Adam, cross
// entropy. Writes training.csv (loss and accuracy per epoch) and
// training.png, saves the trained model (digits_cnn.safetensors, names as
// the PyTorch module below) and reloads it to check the logits repeat.
//
// The PyTorch module whose state_dict the checkpoint matches:
//   class DigitsCnn(nn.Module):
//     def __init__(self):
//       super().__init__()
//       self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
//                                     nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
//       self.classifier = nn.Linear(128, 10)
//     def forward(self, x): return self.classifier(self.features(x).flatten(1))
#include "common.hpp"

#include <data/dataset.hpp>
#include <data/metrics.hpp>
#include <io/checkpoint.hpp>
#include <nn/conv.hpp>
#include <nn/linear.hpp>
#include <nn/optim.hpp>
#include <ops/layout.hpp>
#include <ops/loss.hpp>
#include <ops/shape.hpp>

#include <cmath>

using namespace ember;
using namespace ember::examples;

namespace {

struct Config {
  int epochs = 25;
  double lr = 3e-3;
  Index batch_size = 32;
  double test_fraction = 0.2;
};

class DigitsCnn : public Module {
 public:
  explicit DigitsCnn(Generator& gen) {
    features_ = this->register_module(
        "features", Sequential{Conv2d(1, 16, 3, gen, {.padding = 1}), Activation("relu"), MaxPool2d(2),
                               Conv2d(16, 32, 3, gen, {.padding = 1}), Activation("relu"), MaxPool2d(2)});
    classifier_ = this->register_module("classifier", Linear(32 * 2 * 2, 10, gen));
  }
  Tensor forward(const Tensor& x) override { return (*classifier_)(flatten((*features_)(x), 1)); }
  std::string type_name() const override { return "DigitsCnn"; }

 private:
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> classifier_;
};

// [N, 64] pixels in 0..16 -> [N, 1, 8, 8] in 0..1.
Tensor images(const Tensor& features) { return reshape(features * (1.0f / 16.0f), {-1, 1, 8, 8}); }

double evaluate(DigitsCnn& model, const Dataset& data) {
  NoGradGuard no_grad;
  return accuracy(model(images(data.features)), data.labels);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A small CNN (2 x Conv2d-ReLU-MaxPool, Linear) on the 8x8 digits"};
  Options options;
  Config config;
  add_common_options(app, options, "digits_cnn", 0);
  app.add_option("--epochs", config.epochs, "Epochs (--quick: 4)")->capture_default_str();
  app.add_option("--lr", config.lr, "Adam learning rate")->capture_default_str();
  app.add_option("--batch-size", config.batch_size, "Mini-batch size")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick && app.count("--epochs") == 0) config.epochs = 4;

  try {
    prepare_run(options);
    Generator gen(options.seed);
    const Dataset all = load_csv(data_file(options, "digits.csv").string());
    const Split split = train_test_split(all, config.test_fraction, gen);
    fmt::print("digits: {} train / {} test images of 8x8, {} classes; seed {}\n", split.train.size(),
               split.test.size(), all.num_classes(), options.seed);
    DigitsCnn model(gen);
    fmt::print("{}\n{} parameters; Adam lr {}, batch {}, {} epochs\n", model.str(), model.num_parameters(), config.lr,
               config.batch_size, config.epochs);

    Adam opt(model.parameters(), {.lr = config.lr});
    BatchIterator batches(split.train, config.batch_size, gen);
    CsvWriter csv(options.out / "training.csv", {"epoch", "train_loss", "test_accuracy", "seconds"});
    Batch batch;
    Stopwatch watch;
    double first_loss = NAN, last_loss = NAN, test_acc = evaluate(model, split.test);
    csv.row(0, std::nan(""), test_acc, 0.0);
    for (int epoch = 1; epoch <= config.epochs; ++epoch) {
      double total = 0;
      Index seen = 0;
      while (batches.next(batch)) {
        auto loss = cross_entropy(model(images(batch.features)), batch.labels);
        opt.zero_grad();
        loss.backward();
        opt.step();
        total += double(loss.item()) * double(batch.labels.size());
        seen += static_cast<Index>(batch.labels.size());
      }
      last_loss = total / double(seen);
      if (epoch == 1) first_loss = last_loss;
      test_acc = evaluate(model, split.test);
      csv.row(epoch, last_loss, test_acc, watch.seconds());
      fmt::print("  epoch {:>3}  train loss {:.4f}  test accuracy {}  ({:.1f} s)\n", epoch, last_loss,
                 percent(test_acc), watch.seconds());
    }
    const double seconds = watch.seconds();
    csv.close();
    fmt::print("trained in {:.1f} s: test accuracy {} ({} of {} wrong)\n", seconds, percent(test_acc),
               std::lround((1 - test_acc) * double(split.test.size())), split.test.size());

    // Save, reload into a fresh model drawn from another seed, compare.
    const auto path = options.out / "digits_cnn.safetensors";
    save_safetensors(path.string(), model.named_parameters());
    Generator other(options.seed + 1);
    DigitsCnn reloaded(other);
    load_into(path.string(), reloaded.named_parameters());
    bool same = false;
    {
      NoGradGuard no_grad;
      const Tensor x = images(split.test.features);
      same = model(x).to_vector() == reloaded(x).to_vector();
    }
    fmt::print("saved {}; reloaded logits {} the trained model's\n", path.string(), same ? "equal" : "DIFFER from");

    render_plots(options, "digits_cnn", gnuplot_preamble(900, 500) + R"gp(
set output 'training.png'
set title 'digits CNN: training loss and test accuracy per epoch'
set xlabel 'epoch'
set ylabel 'train loss (log scale)'
set logscale y
set y2label 'test accuracy'
set y2range [0.5:1]
set y2tics
set ytics nomirror
set key center right
plot 'training.csv' using 1:2 with linespoints lw 2 title 'train loss', \
     '' using 1:3 axes x1y2 with linespoints lw 2 title 'test accuracy'
)gp");

    if (options.check) {
      heading("Checks");
      Checker check;
      check.expect_csv_header(options.out / "training.csv", "epoch,train_loss,test_accuracy,seconds");
      check.expect(same, "the reloaded checkpoint gives bit-identical logits");
      check.expect(last_loss < 0.5 * first_loss,
                   fmt::format("training loss halves ({:.4f} after epoch 1, {:.4f} at the end)", first_loss, last_loss));
      const double goal = options.quick ? 0.93 : 0.98;
      check.expect(test_acc >= goal, fmt::format("test accuracy {} >= {}", percent(test_acc), percent(goal)));
      if (!options.quick)
        check.expect(seconds < 30, fmt::format("trained in {:.1f} s < 30 s on one thread", seconds));
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "digits_cnn: {}\n", e.what());
    return 1;
  }
  return 0;
}
