#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz preset: clang 14, ASan + UBSan) and runs
# each for SECONDS (default 60), one after the other, on a corpus kept in
# build/fuzz/corpus/<target> (seeded from tests/fuzz/corpus/<target>).
# Findings (crash-*, leak-*, timeout-*) land in build/fuzz/findings/.
#   scripts/fuzz.sh [SECONDS [target...]]   targets: checkpoint csv graph
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(checkpoint csv graph)

scripts/setup.sh fuzz  # installs clang and libFuzzer too

mkdir -p build/fuzz/findings
status=0
for t in "${targets[@]}"; do
  corpus=build/fuzz/corpus/$t
  mkdir -p "$corpus"
  [[ -d tests/fuzz/corpus/$t ]] && cp -n tests/fuzz/corpus/$t/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz_$t for ${seconds}s"
  log=build/fuzz/fuzz_$t.log
  if ! build/fuzz/tests/fuzz/fuzz_$t "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix=build/fuzz/findings/"$t"- >"$log" 2>&1; then
    status=1
    echo "fuzz_$t: FINDING (see $log and build/fuzz/findings/)"
  fi
  grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)|^stat::(number_of_executed_units|peak_rss_mb)|ERROR|SUMMARY|deadly signal" "$log" || true
done
exit $status
