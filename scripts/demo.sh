#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the main demo: why sigmoid
# kills gradients. Results (CSV, PNG plots) go to results/vanishing_gradients/.
#   scripts/demo.sh [trainer options, e.g. --quick or --help]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
exec build/release/examples/vanishing_gradients "$@"
