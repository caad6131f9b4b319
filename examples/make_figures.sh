#!/usr/bin/env bash
# Regenerates every figure in docs/ from the example trainers: runs each one
# with its defaults (results go to results/<trainer>/, the terminal summary to
# results/<trainer>/summary.txt), copies its PNGs to docs/img/, writes the
# commit the results come from to results/COMMIT (-dirty when the tree has
# uncommitted changes) and renders every page template docs/pages/*.md.in
# into docs/ (scripts/render_docs.py), and docs/diagnostics.md's blocks.
#   examples/make_figures.sh [build dir]      (default: build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
command -v gnuplot >/dev/null || { echo "make_figures: needs gnuplot (sudo apt-get install gnuplot-nox)" >&2; exit 1; }
mkdir -p docs/img

run() {  # trainer, doc prefix, pngs...
  local trainer=$1 prefix=$2
  shift 2
  mkdir -p "results/$trainer"
  echo "== $build/examples/$trainer"
  "$build/examples/$trainer" | tee "results/$trainer/summary.txt"
  for png in "$@"; do cp "results/$trainer/$png" "docs/img/$prefix-$png"; done
}

run vanishing_gradients q1 init_profile.png saturation_at_init.png grad_curves.png fixes.png
run zero_centered q2 single_neuron.png zigzag.png speed_vs_lr.png speed.png conditioning.png
run activation_race q4 race.png dead_units.png
run bitnet_activations q6 accuracy-digits.png accuracy-breast_cancer.png zero-weights.png sparsity.png grad-norms.png lr.png
cp results/activation_race/lr_sweep.png docs/img/q4-lr_sweep.png
# Q3: training-step timing (varies run to run: its own file, timing.json) and
# the activation rows of the committed ember_bench run (docs/bench/).
"$build/examples/activation_race" --time --out results/activation_race | tee results/activation_race/timing.txt
scripts/bench_activation_table.py "$(ls docs/bench/*-activations.jsonl | tail -1)" --out results/ember_bench
# Q6's kernel table: the ternary_matmul rows of the committed ember_bench run.
scripts/ternary_bench_table.py "$(ls docs/bench/*-ternary.jsonl | tail -1)" results/ember_bench
# The commit the results come from, -dirty when a tracked file outside docs/
# (this script's outputs) differs from HEAD; then every page template.
commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- . ':!docs' 2>/dev/null || commit="$commit-dirty"
echo "$commit" > results/COMMIT
scripts/render_docs.py --results results docs/pages/*.md.in
# docs/diagnostics.md's blocks: what diagnostics_tour prints.
mkdir -p results/diagnostics_tour
"$build/examples/diagnostics_tour" --no-plots --out results/diagnostics_tour > results/diagnostics_tour/summary.txt
scripts/render_docs.py --results results docs/diagnostics.md
echo "figures are in docs/img/, pages rendered from results/ at $commit"
