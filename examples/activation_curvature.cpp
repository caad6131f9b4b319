// The activations' own curvature: f' and f'' of sigmoid, tanh, softplus,
// gelu, silu and elu, by ember's double backward, against their closed forms.
//
// Why it matters for the activation story the other trainers tell: a
// saturated unit is flat to first AND second order. Where sigmoid or tanh
// saturate, f' -> 0 (no gradient, Q1) and f'' -> 0 with it, so a
// second-order method (Newton, a Hessian-vector product, a curvature-aware
// optimizer) finds no curvature there either: the plateau looks flat to it
// too. The relu-like smooth activations (softplus, gelu, silu, elu) are flat
// to second order on BOTH sides (f'' -> 0 as |x| grows) but to first order
// on the left only. Each activation's curvature lives in a band around 0;
// the trainer locates its peaks, refined to where ember's third derivative
// vanishes. Writes curvature.csv, summary.csv, extrema.csv and a plot.
#include "common.hpp"

#include <engine/autograd.hpp>
#include <ops/activation.hpp>
#include <ops/reduction.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <optional>

using namespace ember;
using namespace ember::examples;

namespace {

// |f'| and |f''| under this count as flat (vanishing_gradients calls a
// relu-like unit saturated below the same |f'|).
constexpr double kFlat = 0.01;

double logistic(double x) { return 1 / (1 + std::exp(-x)); }
double normal_pdf(double x) { return std::exp(-x * x / 2) / std::sqrt(2 * std::numbers::pi); }
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

struct Nonlinearity {
  std::string name;
  std::function<Tensor64(const Tensor64&)> f;
  std::function<double(double)> d1, d2;  // closed forms
  std::vector<double> extrema;           // closed-form locations of f'' extrema, where known
};

std::vector<Nonlinearity> activations() {
  const double sigmoid_peak = std::log(2 + std::sqrt(3.0));  // s(1-s)(1-2s) is extremal where 6s^2 - 6s + 1 = 0
  const double tanh_peak = std::atanh(1 / std::sqrt(3.0));   // -2t(1-t^2) is extremal where t^2 = 1/3
  return {
      {"sigmoid", [](const Tensor64& x) { return sigmoid(x); },
       [](double x) { const double s = logistic(x); return s * (1 - s); },
       [](double x) { const double s = logistic(x); return s * (1 - s) * (1 - 2 * s); },
       {-sigmoid_peak, sigmoid_peak}},
      {"tanh", [](const Tensor64& x) { return tanh(x); },
       [](double x) { const double t = std::tanh(x); return 1 - t * t; },
       [](double x) { const double t = std::tanh(x); return -2 * t * (1 - t * t); },
       {-tanh_peak, tanh_peak}},
      {"softplus", [](const Tensor64& x) { return softplus(x); }, [](double x) { return logistic(x); },
       [](double x) { const double s = logistic(x); return s * (1 - s); },
       {0.0}},
      {"gelu", [](const Tensor64& x) { return gelu(x); },
       [](double x) { return normal_cdf(x) + x * normal_pdf(x); },
       [](double x) { return normal_pdf(x) * (2 - x * x); },
       {-2.0, 0.0, 2.0}},  // d/dx phi(x)(2 - x^2) = phi(x) x (x^2 - 4)
      {"silu", [](const Tensor64& x) { return silu(x); },
       [](double x) { const double s = logistic(x); return s * (1 + x * (1 - s)); },
       [](double x) { const double s = logistic(x); return s * (1 - s) * (2 + x * (1 - 2 * s)); },
       {0.0}},  // f'' is even; its minima have no closed form
      {"elu", [](const Tensor64& x) { return elu(x); },  // alpha = 1
       [](double x) { return x > 0 ? 1.0 : std::exp(x); }, [](double x) { return x > 0 ? 0.0 : std::exp(x); },
       {}},
  };
}

// f, f' and f'' at the points by double backward (create_graph on the first
// pass so that f' can be differentiated again); `third` adds f''' (a third pass).
struct Derivatives {
  std::vector<double> value, d1, d2, d3;
};
Derivatives derivatives(const Nonlinearity& a, const std::vector<double>& points, bool third = false) {
  Tensor64 x = Tensor64::from_data(points, Shape{Index(points.size())}).requires_grad_();
  Tensor64 y = a.f(x);
  Tensor64 d1 = grad<double>(sum(y), {x}, {.create_graph = true})[0];
  Tensor64 d2 = grad<double>(sum(d1), {x}, {.create_graph = third})[0];
  Derivatives d{y.to_vector(), d1.to_vector(), d2.to_vector(), {}};
  if (third) d.d3 = grad<double>(sum(d2), {x})[0].to_vector();
  return d;
}

double third_derivative(const Nonlinearity& a, double x) { return derivatives(a, {x}, true).d3[0]; }

// A local extremum of f'' on the grid, refined by bisection on f''' = 0 in
// the bracket of the grid point's neighbours. Without a sign change of f'''
// there (a kink, as elu's at 0) the grid point is kept.
struct Extremum {
  std::string kind;  // "max" or "min"
  double x_grid = 0, x = 0, d2 = 0;
  bool refined = false;
  std::optional<double> closed_form;
};

std::vector<Extremum> extrema_of_d2(const Nonlinearity& a, const std::vector<double>& xs, const std::vector<double>& d2) {
  double peak = 0;
  for (double v : d2) peak = std::max(peak, std::abs(v));
  std::vector<Extremum> found;
  for (std::size_t i = 1; i + 1 < xs.size(); ++i) {
    const bool is_max = d2[i] > d2[i - 1] && d2[i] >= d2[i + 1];
    const bool is_min = d2[i] < d2[i - 1] && d2[i] <= d2[i + 1];
    if (!(is_max || is_min) || std::abs(d2[i]) < 0.01 * peak) continue;
    Extremum e;
    e.kind = is_max ? "max" : "min";
    e.x_grid = e.x = xs[i];
    e.d2 = d2[i];
    double lo = xs[i - 1], hi = xs[i + 1];
    const double sign = is_max ? 1 : -1;  // f''' goes + to - through a maximum
    if (sign * third_derivative(a, lo) > 0 && sign * third_derivative(a, hi) < 0) {
      for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        (sign * third_derivative(a, mid) > 0 ? lo : hi) = mid;
      }
      e.x = 0.5 * (lo + hi);
      e.d2 = derivatives(a, {e.x}).d2[0];
      e.refined = true;
    }
    for (double c : a.extrema)
      if (std::abs(c - e.x) < 0.1) e.closed_form = c;
    found.push_back(e);
  }
  return found;
}

struct Summary {
  std::string name;
  double err_d1 = 0, err_d2 = 0, peak_d2 = 0, peak_x = 0;
  double flat_d2 = 0, saturated = 0;  // fractions of the grid
  Derivatives ends;                   // at x = -range and +range
  std::vector<Extremum> extrema;
};

std::string plot_script(const std::vector<Summary>& summaries) {
  std::string s = gnuplot_preamble(1200, 760);
  std::string names;
  for (const auto& sm : summaries) names += (names.empty() ? "" : " ") + sm.name;
  s += fmt::format("names = \"{}\"\n", names);
  s += R"gp(
sel(a) = strcol(1) eq a
set output 'curvature.png'
set multiplot layout 2,3 title "First and second derivatives by ember's double backward (lines) against the closed forms (circles); black: extrema of f''; each panel has its own y scale"
set xlabel 'x'
set xrange [-6:6]
set xtics 2
set autoscale y
set offsets 0, 0, graph 0.06, graph 0.06
set key below horizontal
do for [k=1:words(names)] {
  a = word(names, k)
  set title a
  plot 0 with lines lc rgb '#aaaaaa' notitle, \
    'curvature.csv' using (sel(a) ? $2 : NaN):4 with lines lw 2.5 lc rgb '#1f77b4' title "f'", \
    '' using (sel(a) ? $2 : NaN):5 with lines lw 2.5 lc rgb '#d62728' title "f''", \
    '' every 16 using (sel(a) ? $2 : NaN):6 with points pt 6 ps 0.8 lc rgb '#08306b' title "f' exact", \
    '' every 16 using (sel(a) ? $2 : NaN):7 with points pt 6 ps 0.8 lc rgb '#67000d' title "f'' exact", \
    'extrema.csv' using (sel(a) ? $4 : NaN):5 with points pt 7 ps 1.2 lc rgb '#000000' notitle
}
unset multiplot
)gp";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The activations' curvature: f' and f'' of sigmoid, tanh, softplus, gelu, silu and elu by ember's "
               "double backward, against their closed forms"};
  Options options;
  add_common_options(app, options, "activation_curvature", 0);
  Index points = 480;
  double half_width = 6;
  app.add_option("--points", points, "Grid points over [-range, range] (--quick: 120)")->capture_default_str()
      ->check(CLI::Range(Index(8), Index(1000000)));
  app.add_option("--range", half_width, "The grid covers [-range, range]")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.quick && !app.count("--points")) points = 120;

  try {
    prepare_run(options);
    // Cell midpoints: symmetric about 0, and never exactly on elu's kink.
    std::vector<double> xs(static_cast<std::size_t>(points));
    const double h = 2 * half_width / double(points);
    for (Index i = 0; i < points; ++i) xs[std::size_t(i)] = -half_width + (double(i) + 0.5) * h;
    fmt::print("{} grid points over [-{}, {}] (cell midpoints, spacing {}), float64; f' = grad(sum(f(x)), x, "
               "create_graph), f'' = grad(sum(f'), x)\n",
               points, half_width, half_width, h);

    CsvWriter curve(options.out / "curvature.csv", {"activation", "x", "value", "d1", "d2", "d1_exact", "d2_exact"});
    std::vector<Summary> summaries;
    Stopwatch watch;
    for (const Nonlinearity& a : activations()) {
      Derivatives d = derivatives(a, xs);
      Summary sm;
      sm.name = a.name;
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const double e1 = a.d1(xs[i]), e2 = a.d2(xs[i]);
        curve.row(a.name, xs[i], d.value[i], d.d1[i], d.d2[i], e1, e2);
        sm.err_d1 = std::max(sm.err_d1, std::abs(d.d1[i] - e1));
        sm.err_d2 = std::max(sm.err_d2, std::abs(d.d2[i] - e2));
        if (std::abs(d.d2[i]) > sm.peak_d2) {
          sm.peak_d2 = std::abs(d.d2[i]);
          sm.peak_x = xs[i];
        }
      }
      int flat = 0, saturated = 0;
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const bool d2_flat = std::abs(d.d2[i]) < kFlat;
        flat += d2_flat;
        saturated += d2_flat && std::abs(d.d1[i]) < kFlat;
      }
      sm.ends = derivatives(a, {-half_width, half_width});
      sm.flat_d2 = double(flat) / double(xs.size());
      sm.saturated = double(saturated) / double(xs.size());
      sm.extrema = extrema_of_d2(a, xs, d.d2);
      summaries.push_back(sm);
    }
    curve.close();
    const double seconds = watch.seconds();

    CsvWriter summary(options.out / "summary.csv", {"activation", "max_abs_error_d1", "max_abs_error_d2", "peak_abs_d2",
                                                    "peak_x", "flat_d2_fraction", "saturated_fraction"});
    CsvWriter extrema(options.out / "extrema.csv", {"activation", "kind", "x_grid", "x", "d2", "refined", "x_closed_form"});
    heading("ember's f' and f'' against the closed forms, and where they vanish");
    Table t1({"activation", "max |f' err|", "max |f'' err|", "peak |f''|", "at x", fmt::format("f', f'' at x = -{}", half_width),
              fmt::format("f', f'' at x = +{}", half_width), fmt::format("|f''| < {}", kFlat),
              fmt::format("|f'|, |f''| < {}", kFlat)});
    for (const Summary& sm : summaries) {
      summary.row(sm.name, sm.err_d1, sm.err_d2, sm.peak_d2, sm.peak_x, sm.flat_d2, sm.saturated);
      t1.add({sm.name, sci(sm.err_d1), sci(sm.err_d2), fixed(sm.peak_d2, 4), fixed(sm.peak_x, 4),
              fmt::format("{}, {}", sci(sm.ends.d1[0]), sci(sm.ends.d2[0])),
              fmt::format("{}, {}", sci(sm.ends.d1[1]), sci(sm.ends.d2[1])), percent(sm.flat_d2), percent(sm.saturated)});
      for (const Extremum& e : sm.extrema)
        extrema.row(sm.name, e.kind, e.x_grid, e.x, e.d2, e.refined ? 1 : 0, e.closed_form ? *e.closed_form : std::nan(""));
    }
    t1.print();
    summary.close();
    extrema.close();
    fmt::print("(errors: max over the grid of |ember - closed form|; peak |f''| and its x on the grid; the last two "
               "columns: fractions of the grid; {:.2f} s for all six)\n",
               seconds);

    heading("Where the curvature peaks: extrema of f'', refined to f''' = 0 (ember's third derivative, bisection)");
    Table t2({"activation", "f''", "x (grid)", "x (f''' = 0)", "f'' there", "closed form", "|difference|"});
    double worst_location = 0;
    int located = 0;
    for (const Summary& sm : summaries)
      for (const Extremum& e : sm.extrema) {
        std::string closed = "-", diff = "-";
        if (e.closed_form && e.refined) {
          closed = fmt::format("{:.12f}", *e.closed_form);
          diff = sci(std::abs(e.x - *e.closed_form));
          worst_location = std::max(worst_location, std::abs(e.x - *e.closed_form));
          ++located;
        }
        t2.add({sm.name, e.kind, fixed(e.x_grid, 4), e.refined ? fmt::format("{:.12f}", e.x) : "kink: no f''' = 0",
                fixed(e.d2, 6), closed, diff});
      }
    t2.print();
    const Nonlinearity elu_act = activations().back();
    const Derivatives at_kink = derivatives(elu_act, {-1e-9, 0.0, 1e-9});
    fmt::print("elu's f'' jumps at its kink: ember gives f'' = {} at x = -1e-9, {} at x = 0, {} at x = +1e-9 "
               "(and f' = {} at x = 0, alpha as documented)\n",
               fixed(at_kink.d2[0], 6), fixed(at_kink.d2[1], 6), fixed(at_kink.d2[2], 6), fixed(at_kink.d1[1], 6));

    heading("Verdict");
    const Summary& sig = summaries[0];
    const Summary& th = summaries[1];
    double relu_like_d1 = 1, relu_like_d2 = 0;  // over softplus, gelu, silu, elu: smallest f'(+range), largest |f''| at the ends
    for (std::size_t k = 2; k < summaries.size(); ++k) {
      relu_like_d1 = std::min(relu_like_d1, summaries[k].ends.d1[1]);
      relu_like_d2 = std::max({relu_like_d2, std::abs(summaries[k].ends.d2[0]), std::abs(summaries[k].ends.d2[1])});
    }
    fmt::print("Saturation is flat to second order: |f'| and |f''| are both under {0} on {1} of [-{2}, {2}] for "
               "sigmoid and on {3} for tanh, at both ends, so a second-order method finds no curvature where gradient "
               "descent finds no slope. softplus, gelu, silu and elu keep f' >= {4} at x = {2}, yet their |f''| is at "
               "most {5} at x = +-{2}: close to linear on the right and to constant on the left, their curvature lives in a band around 0 "
               "(peaks in the table above).\n",
               kFlat, percent(sig.saturated), half_width, percent(th.saturated), fixed(relu_like_d1, 4),
               sci(relu_like_d2));

    render_plots(options, "activation_curvature", plot_script(summaries));

    if (options.check) {
      heading("Checks");
      Checker check;
      check.expect_csv_header(options.out / "curvature.csv", "activation,x,value,d1,d2,d1_exact,d2_exact");
      check.expect_csv_header(options.out / "summary.csv",
                              "activation,max_abs_error_d1,max_abs_error_d2,peak_abs_d2,peak_x,flat_d2_fraction,"
                              "saturated_fraction");
      check.expect_csv_header(options.out / "extrema.csv", "activation,kind,x_grid,x,d2,refined,x_closed_form");
      for (const Summary& sm : summaries)
        check.expect(sm.err_d1 < 1e-10 && sm.err_d2 < 1e-10,
                     fmt::format("{}: max |f' err| {} and max |f'' err| {} < 1e-10", sm.name, sci(sm.err_d1),
                                 sci(sm.err_d2)));
      int expected = 0;
      for (const Nonlinearity& a : activations()) expected += int(a.extrema.size());
      check.expect(located == expected,
                   fmt::format("{} of the {} closed-form extrema of f'' found and refined", located, expected));
      check.expect(worst_location < 1e-9,
                   fmt::format("refined extrema within 1e-9 of the closed forms (sigmoid +-ln(2+sqrt 3), tanh "
                               "+-atanh(1/sqrt 3), gelu 0 and +-2, softplus and silu 0): worst {}",
                               sci(worst_location)));
      auto flat_at_both_ends = [](const Summary& sm) {
        return std::abs(sm.ends.d1[0]) < kFlat && std::abs(sm.ends.d2[0]) < kFlat && std::abs(sm.ends.d1[1]) < kFlat &&
               std::abs(sm.ends.d2[1]) < kFlat;
      };
      check.expect(flat_at_both_ends(sig) && flat_at_both_ends(th),
                   fmt::format("sigmoid and tanh: |f'| and |f''| < {} at both ends of the grid", kFlat));
      check.expect(relu_like_d1 > 0.99 && relu_like_d2 < 0.02,
                   fmt::format("softplus, gelu, silu, elu: f'(+range) >= {} > 0.99, |f''| at the ends <= {} < 0.02",
                               fixed(relu_like_d1, 4), sci(relu_like_d2)));
      return check.exit_code();
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "activation_curvature: {}\n", e.what());
    return 1;
  }
  return 0;
}
