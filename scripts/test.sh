#!/usr/bin/env bash
# Sets up (packages, configure, build) and runs the full test suite.
#   scripts/test.sh [preset]   (release by default; asan and tsan for the sanitizer runs)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
scripts/setup.sh "$preset"
ctest --preset "$preset"
