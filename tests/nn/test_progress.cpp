// Progress: plain periodic lines, epoch summaries, the live line, quiet mode,
// and the cost of step().
#include <ember/ember.hpp>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "../test_helpers.hpp"

using namespace ember;

namespace {

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A clock the test moves by hand.
struct FakeClock {
  double t = 100.0;
  std::function<double()> fn() {
    return [this] { return t; };
  }
};

}  // namespace

TEST_CASE("progress: plain lines every log_seconds and one summary per epoch") {
  std::ostringstream out;
  FakeClock clock;
  {
    Progress progress(2, 4, {.out = &out, .live = false, .log_seconds = 1.0, .clock = clock.fn()});
    CHECK_FALSE(progress.live());
    for (int e = 0; e < 2; ++e) {
      for (int s = 0; s < 4; ++s) {
        clock.t += 0.5;
        progress.step(1.0 + e + s, 10);  // per-epoch mean loss 2.5 then 3.5
      }
      progress.end_epoch({{"acc", 0.875}});
    }
  }
  CHECK(lines(out.str()) == std::vector<std::string>{
                                "epoch 1/2  step 2/4  loss 1.5  20 samples/s  ETA 0:03",
                                "epoch 1/2  step 4/4  loss 2.5  20 samples/s  ETA 0:02",
                                "epoch 1/2  loss 2.5  acc 0.875  2.00s  20 samples/s",
                                "epoch 2/2  step 2/4  loss 2.5  20 samples/s  ETA 0:01",
                                "epoch 2/2  step 4/4  loss 3.5  20 samples/s  ETA 0:00",
                                "epoch 2/2  loss 3.5  acc 0.875  2.00s  20 samples/s",
                            });
}

TEST_CASE("progress: no periodic lines within log_seconds, only summaries") {
  std::ostringstream out;
  FakeClock clock;
  Progress progress(1, 0, {.out = &out, .live = false, .log_seconds = 60, .clock = clock.fn()});
  for (int s = 0; s < 100; ++s) {
    clock.t += 0.01;
    progress.step(0.5, 4);
  }
  CHECK(progress.epoch_step() == 100);
  CHECK(progress.epoch_loss() == 0.5);
  CHECK(progress.samples_per_second() == doctest::Approx(400.0));
  progress.end_epoch();
  CHECK(lines(out.str()) == std::vector<std::string>{"epoch 1/1  loss 0.5  1.00s  400 samples/s"});
  CHECK(progress.epoch() == 2);
}

TEST_CASE("progress: unknown steps per epoch are learned from the first epoch") {
  std::ostringstream out;
  FakeClock clock;
  Progress progress(3, 0, {.out = &out, .live = false, .log_seconds = 0, .clock = clock.fn()});
  clock.t += 1;
  progress.step(1.0);
  CHECK(progress.status_line() == "epoch 1/3  step 1  loss 1  1 samples/s  ETA ?");
  clock.t += 1;
  progress.step(1.0);
  progress.end_epoch();
  clock.t += 1;
  progress.step(1.0);
  // 3 steps in 3 s, 6 steps in all: 3 s left
  CHECK(progress.status_line() == "epoch 2/3  step 1/2  loss 1  1 samples/s  ETA 0:03");
}

TEST_CASE("progress: the live line redraws in place and ends cleanly") {
  std::ostringstream out;
  FakeClock clock;
  {
    Progress progress(1, 3, {.out = &out, .live = true, .refresh_seconds = 0.1, .clock = clock.fn()});
    CHECK(progress.live());
    clock.t += 1;
    progress.step(2.0);
    clock.t += 0.05;  // within refresh_seconds: no redraw
    progress.step(2.0);
    progress.write_line("note");
    clock.t += 1;
    progress.step(2.0);
  }  // destructor finishes the pending line
  const std::string expected = "\repoch 1/1  step 1/3  loss 2  1 samples/s  ETA 0:02\x1b[K"
                               "\r\x1b[Knote\n"
                               "\repoch 1/1  step 3/3  loss 2  1 samples/s  ETA 0:00\x1b[K\n";
  CHECK(out.str() == expected);
}

TEST_CASE("progress: the epoch summary replaces the live line") {
  std::ostringstream out;
  FakeClock clock;
  Progress progress(1, 1, {.out = &out, .live = true, .clock = clock.fn()});
  clock.t += 1;
  progress.step(0.25, 8);
  progress.end_epoch();
  progress.finish();
  CHECK(out.str() == "\repoch 1/1  step 1/1  loss 0.25  8 samples/s  ETA 0:00\x1b[K"
                     "\r\x1b[Kepoch 1/1  loss 0.25  1.00s  8 samples/s\n");
}

TEST_CASE("progress: quiet prints nothing but keeps statistics") {
  std::ostringstream out;
  FakeClock clock;
  {
    Progress progress(2, 2, {.quiet = true, .out = &out, .live = true, .log_seconds = 0, .clock = clock.fn()});
    CHECK_FALSE(progress.live());
    clock.t += 1;
    progress.step(3.0, 2);
    progress.step(1.0, 6);
    CHECK(progress.epoch_loss() == 1.5);
    progress.write_line("hidden");
    progress.end_epoch({{"acc", 1.0}});
  }
  CHECK(out.str().empty());
}

TEST_CASE("progress: a string stream is not a terminal") {
  std::ostringstream out;
  Progress progress(1, 1, {.out = &out});
  CHECK_FALSE(progress.live());
}

TEST_CASE("progress: step() is cheap on a live line (throttled by time)") {
  std::ostringstream out;
  const int n = 200000;
  const auto start = std::chrono::steady_clock::now();
  {
    Progress progress(1, n, {.out = &out, .live = true});
    for (int i = 0; i < n; ++i) progress.step(1.0, 32);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("step(): ", seconds / n * 1e9, " ns per call");
  CHECK(seconds / n < 2e-6);  // a training step takes far longer
  const std::string text = out.str();
  const auto redraws = static_cast<double>(std::count(text.begin(), text.end(), '\r'));
  CHECK(redraws <= seconds / 0.1 + 2);
}

TEST_CASE("progress: argument errors") {
  CHECK_THROWS_WITH_SUBSTR(Progress(0), ValueError, "Progress: epochs must be positive, got 0");
  CHECK_THROWS_WITH_SUBSTR(Progress(1, -5), ValueError, "Progress: steps_per_epoch must be >= 0, got -5");
  CHECK_THROWS_WITH_SUBSTR(Progress(1, 1, {.log_seconds = -1}), ValueError,
                           "Progress: refresh_seconds and log_seconds must be >= 0, got 0.1 and -1");
}
