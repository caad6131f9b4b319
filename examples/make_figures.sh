#!/usr/bin/env bash
# Regenerates every figure in docs/ from the example trainers: runs each one
# with its defaults (results go to results/<trainer>/, the terminal summary to
# results/<trainer>/summary.txt) and copies its PNGs to docs/img/.
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

git rev-parse --short HEAD > results/COMMIT  # the commit the pages name (scripts/render_docs.py)
run vanishing_gradients q1 init_profile.png saturation_at_init.png grad_curves.png fixes.png
run zero_centered q2 single_neuron.png zigzag.png speed_vs_lr.png speed.png conditioning.png
python3 scripts/render_docs.py --results results docs/pages/q1-vanishing-gradients.md.in docs/pages/q2-zero-centered.md.in
run activation_race q4 race.png dead_units.png
run bitnet_activations q6 accuracy-digits.png accuracy-breast_cancer.png zero-weights.png sparsity.png grad-norms.png lr.png
echo "figures are in docs/img/"
