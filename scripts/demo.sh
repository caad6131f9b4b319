#!/usr/bin/env bash
# Sets up (packages, configure, and a build of the demo and the library only)
# and runs the main demo: why sigmoid kills gradients. Results (CSV, PNG
# plots) go to results/vanishing_gradients/ (results/vanishing_gradients-quick/
# with --quick). scripts/test.sh builds the rest.
#   scripts/demo.sh [trainer options, e.g. --quick or --help]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release vanishing_gradients
exec build/release/examples/vanishing_gradients "$@"
