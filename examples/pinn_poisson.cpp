// A physics-informed network: second derivatives by ember's double backward.
//
// A tanh MLP u(x) (1-32-32-1, float64) on [0, 1] learns the Poisson problem
//   u''(x) = f(x) = -pi^2 sin(pi x),  u(0) = u(1) = 0,
// whose solution is sin(pi x), from the equation alone: no value of the
// solution is ever shown to it. Each step differentiates the network twice
// with respect to its input, keeping the graph (create_graph), so that the
// loss mean((u'' - f)^2) + w * mean(u(0)^2, u(1)^2) can itself be
// back-propagated to the weights, through both recorded passes.
// Adam with an exponentially decaying learning rate, fresh jittered-grid
// collocation points each step. Writes training.csv, solution.csv and their
// plots to --out.
//
// Since e = u - sin(pi x) solves e'' = u'' - f with e(0), e(1) the boundary
// misses, max|e| <= max(|u(0)|, |u(1)|) + max|u'' - f| / 8: the loss bounds
// the error the run reports, measured on a dense grid it never trained on.
#include "common.hpp"

#include <engine/autograd.hpp>
#include <nn/module.hpp>
#include <nn/optim.hpp>
#include <ops/reduction.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

using namespace ember;
using namespace ember::examples;

namespace {

constexpr double kPi = std::numbers::pi;

struct Config {
  std::vector<Index> widths{1, 32, 32, 1};
  Index points = 128;          // collocation points per step
  int steps = 12000;           // Adam steps
  double lr = 3e-3;            // the first step's learning rate ...
  double final_lr = 1e-5;      // ... decaying exponentially to this at the last step
  double boundary_weight = 10;
  Index eval_points = 2001;    // the dense grid max |u - sin(pi x)| is measured on
  int log_every = 50;
  double fd_step = 1e-5;       // central-difference step for the u'' sanity check
};

double exact_u(double x) { return std::sin(kPi * x); }
double exact_uxx(double x) { return -kPi * kPi * std::sin(kPi * x); }  // = f(x)

Tensor64 column(const std::vector<double>& v) { return Tensor64::from_data(v, Shape{Index(v.size()), 1}); }

Tensor64 map_values(const Tensor64& x, double (*fn)(double)) {
  std::vector<double> v = x.to_vector();
  for (double& e : v) e = fn(e);
  return column(v);
}

// The model: the MLP sees x rescaled to [-1, 1].
struct Pinn {
  Sequential64 net;
  Tensor64 operator()(const Tensor64& x) { return net(x * 2.0 - 1.0); }
};

// N points, one uniform draw in each of N equal cells of [0, 1].
Tensor64 jittered_grid(Index n, Generator& gen) {
  Tensor64 x = Tensor64::rand({n, 1}, gen);
  auto v = x.values();
  for (Index i = 0; i < n; ++i) v[i] = (double(i) + v[i]) / double(n);
  return x;
}

std::vector<double> dense_grid(Index n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) v[std::size_t(i)] = double(i) / double(n - 1);
  return v;
}

// u' and u'' at x by ember's double backward; create_graph on the outer pass
// only when the caller will back-propagate through them.
struct Derivatives {
  Tensor64 u, du, d2u;
};
Derivatives derivatives(Pinn& model, const Tensor64& points, bool create_graph) {
  Tensor64 x = points.detach().requires_grad_();
  Tensor64 u = model(x);
  Tensor64 du = grad<double>(sum(u), {x}, {.create_graph = true})[0];
  Tensor64 d2u = grad<double>(sum(du), {x}, {.create_graph = create_graph})[0];
  return {u, du, d2u};
}

struct Losses {
  double loss = 0, pde = 0, boundary = 0;
};

double max_error(Pinn& model, const Tensor64& grid) {
  NoGradGuard no_grad;
  std::vector<double> u = model(grid).to_vector(), x = grid.to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < u.size(); ++i) worst = std::max(worst, std::abs(u[i] - exact_u(x[i])));
  return worst;
}

std::string plot_script() {
  std::string s = gnuplot_preamble(1000, 600);
  s += R"gp(
set output 'training.png'
set title "PINN for u'' = -pi^2 sin(pi x), u(0) = u(1) = 0: training (Adam, exponential lr decay)"
set xlabel 'step'
set ylabel 'log scale'
set logscale y
set format y '%.0e'
set key inside top right opaque box
plot 'training.csv' using 1:2 with lines lw 2 lc rgb '#000000' title 'loss', \
     '' using 1:3 with lines lw 1.5 lc rgb '#1f77b4' title "PDE residual mean((u''-f)^2)", \
     '' using 1:4 with lines lw 1.5 lc rgb '#2ca02c' title 'boundary mean(u(0)^2, u(1)^2)', \
     '' using 1:5 with lines lw 2.5 lc rgb '#d62728' title 'max |u - sin(pi x)| (dense grid)', \
     1e-3 with lines dt 2 lw 1.5 lc rgb '#d62728' title 'goal 1e-3'
unset logscale y
set format y '%g'

set terminal pngcairo size 1000,1000 noenhanced font 'Sans,11'
set output 'solution.png'
set multiplot layout 3,1 title 'The trained PINN on a dense grid of [0, 1]'
set key outside right top nobox noopaque
set lmargin 12
set rmargin 28
set xlabel 'x'
set title 'solution'
set ylabel 'u'
plot 'solution.csv' using 1:3 with lines lw 6 lc rgb '#bbbbbb' title 'sin(pi x)', \
     '' using 1:2 with lines lw 1.5 lc rgb '#1f77b4' title 'u (PINN)'
set title 'error'
set ylabel 'u - sin(pi x)'
set format y '%.1e'
plot 'solution.csv' using 1:4 with lines lw 1.5 lc rgb '#d62728' title 'u - sin(pi x)', \
     0 with lines lc rgb '#999999' notitle
set format y '%g'
set title "PDE residual u'' - f (u'' by ember's double backward), which is e'' for the error e = u - sin(pi x)"
set ylabel "u'' - f"
set format y '%.1e'
plot 'solution.csv' using 1:($5 - $6) with lines lw 1.5 lc rgb '#9467bd' title "u'' - f", \
     0 with lines lc rgb '#999999' notitle
unset multiplot
)gp";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A physics-informed network for u'' = -pi^2 sin(pi x) on [0, 1], u(0) = u(1) = 0, with u'' from "
               "ember's double backward"};
  Options options;
  Config config;
  add_common_options(app, options, "pinn_poisson", 7);
  app.add_option("--steps", config.steps, "Adam steps (--quick: 1500)")->capture_default_str();
  app.add_option("--points", config.points, "Collocation points per step (--quick: 64)")->capture_default_str();
  app.add_option("--lr", config.lr, "Adam's initial learning rate")->capture_default_str();
  app.add_option("--final-lr", config.final_lr, "The learning rate of the last step (exponential decay)")
      ->capture_default_str();
  app.add_option("--boundary-weight", config.boundary_weight, "Weight of the boundary term in the loss")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick) {
    if (!app.count("--steps")) config.steps = 1500;
    if (!app.count("--points")) config.points = 64;
    config.log_every = 25;
  }

  try {
    prepare_run(options);
    Generator init_gen(options.seed), point_gen(options.seed + 1);
    Pinn model{mlp<double>(config.widths, "tanh", Init::xavier_uniform, init_gen)};
    Adam64 adam(model.net.parameters(), {.lr = config.lr});
    const Tensor64 ends = column({0.0, 1.0});
    const Tensor64 grid = column(dense_grid(config.eval_points));
    fmt::print("MLP {} tanh (float64, xavier), {} parameters; {} collocation points per step (jittered grid), "
               "boundary weight {}; Adam lr {} -> {} over {} steps; error on {} evenly spaced points; seed {}\n",
               fmt::format("{}-{}-{}-{}", config.widths[0], config.widths[1], config.widths[2], config.widths[3]),
               model.net.num_parameters(), config.points, config.boundary_weight, config.lr, config.final_lr,
               config.steps, config.eval_points, options.seed);

    CsvWriter training(options.out / "training.csv", {"step", "loss", "pde_residual", "boundary", "max_error"});
    const double decay = std::pow(config.final_lr / config.lr, 1.0 / std::max(1, config.steps - 1));
    Losses first, last;
    double last_error = 0;
    Stopwatch watch;
    for (int step = 0; step <= config.steps; ++step) {
      Tensor64 x = jittered_grid(config.points, point_gen);
      Derivatives d = derivatives(model, x, /*create_graph=*/true);
      Tensor64 residual = d.d2u - map_values(x, exact_uxx);
      Tensor64 u_ends = model(ends);
      Tensor64 pde = mean(residual * residual), boundary = mean(u_ends * u_ends);
      Tensor64 loss = pde + boundary * config.boundary_weight;
      Losses now{loss.item(), pde.item(), boundary.item()};
      if (step == 0) first = now;
      last = now;
      if (step % config.log_every == 0 || step == config.steps) {
        last_error = max_error(model, grid);
        training.row(step, now.loss, now.pde, now.boundary, last_error);
      }
      if (step == config.steps) break;  // the last row measures the trained model
      adam.zero_grad();
      loss.backward();
      adam.step();
      adam.set_lr(adam.lr() * decay);
    }
    const double train_seconds = watch.seconds();
    training.close();

    // The trained model on the dense grid: u, its second derivative by double
    // backward, and a central difference of ember's first derivative.
    Derivatives d = derivatives(model, grid, /*create_graph=*/false);
    const std::vector<double> xs = grid.to_vector(), u = d.u.to_vector(), uxx = d.d2u.to_vector();
    auto first_derivative_at = [&](double shift) {
      Tensor64 x = (grid + shift).requires_grad_();
      return grad<double>(sum(model(x)), {x})[0].to_vector();
    };
    const std::vector<double> du_plus = first_derivative_at(config.fd_step), du_minus = first_derivative_at(-config.fd_step);
    CsvWriter solution(options.out / "solution.csv", {"x", "u", "exact", "error", "u_xx", "exact_u_xx"});
    double err = 0, err_sq = 0, exact_sq = 0, residual_max = 0, fd_gap = 0, uxx_max = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double e = u[i] - exact_u(xs[i]);
      solution.row(xs[i], u[i], exact_u(xs[i]), e, uxx[i], exact_uxx(xs[i]));
      err = std::max(err, std::abs(e));
      err_sq += e * e;
      exact_sq += exact_u(xs[i]) * exact_u(xs[i]);
      residual_max = std::max(residual_max, std::abs(uxx[i] - exact_uxx(xs[i])));
      fd_gap = std::max(fd_gap, std::abs(uxx[i] - (du_plus[i] - du_minus[i]) / (2 * config.fd_step)));
      uxx_max = std::max(uxx_max, std::abs(uxx[i]));
    }
    solution.close();
    double boundary_max;
    {
      NoGradGuard no_grad;
      auto b = model(ends).to_vector();
      boundary_max = std::max(std::abs(b[0]), std::abs(b[1]));
    }
    const double bound = boundary_max + residual_max / 8;

    heading("Result");
    Table table({"steps", "train time", "loss", "PDE residual", "boundary", "max |u - sin(pi x)|", "rel. L2 error",
                 "max |u'' - f|", "bound |u(0)|,|u(1)| + max|u''-f|/8"});
    table.add({std::to_string(config.steps), fmt::format("{:.1f} s", train_seconds), sci(last.loss), sci(last.pde),
               sci(last.boundary), sci(err), sci(std::sqrt(err_sq / exact_sq)), sci(residual_max), sci(bound)});
    table.print();
    fmt::print("loss {} at step 0 -> {} at step {}; PDE residual = mean((u''-f)^2) on the step's collocation "
               "points, boundary = mean(u(0)^2, u(1)^2); errors on {} evenly spaced points of [0, 1]\n",
               sci(first.loss), sci(last.loss), config.steps, config.eval_points);
    fmt::print("sanity: ember's u'' (double backward) against a central difference (h = {}) of ember's u': max gap "
               "{} (max |u''| = {})\n",
               config.fd_step, sci(fd_gap), fixed(uxx_max, 3));

    render_plots(options, "pinn_poisson", plot_script());

    if (options.check) {
      heading("Checks");
      Checker check;
      check.expect_csv_header(options.out / "training.csv", "step,loss,pde_residual,boundary,max_error");
      check.expect_csv_header(options.out / "solution.csv", "x,u,exact,error,u_xx,exact_u_xx");
      const double goal = options.quick ? 1e-2 : 1e-3;
      check.expect(err < goal, fmt::format("max |u - sin(pi x)| = {} < {}{}", sci(err), sci(goal, 1),
                                           options.quick ? " (quick run; the full run's goal is 1e-3)" : ""));
      check.expect(err <= bound * (1 + 1e-9),
                   fmt::format("the error respects the bound from the residual: {} <= {}", sci(err), sci(bound)));
      check.expect(fd_gap < 1e-6 * uxx_max,
                   fmt::format("double-backward u'' matches a central difference of u': gap {} < 1e-6 x max|u''|",
                               sci(fd_gap)));
      check.expect(last.loss < 1e-3 * first.loss,
                   fmt::format("the loss fell over 1000x: {} -> {}", sci(first.loss), sci(last.loss)));
      check.expect(last_error == err, "the last training.csv row's max_error is the solution's");
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "pinn_poisson: {}\n", e.what());
    return 1;
  }
  return 0;
}
