#!/usr/bin/env bash
# Memory soak (not part of scripts/test.sh): 10^6 SGD steps of a small MLP
# with RSS sampled as it goes (fails if it grows by more than 1 MiB after
# warm-up), then a 10^6-node graph built and freed.
#   scripts/soak.sh [steps]        (default 1000000; release preset)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release ember_soak
exec build/release/tests/ember_soak "$@"
