#!/usr/bin/env bash
# Installs the Debian packages ember needs (only the missing ones), then
# configures and builds the given CMake preset: every target, or only the
# named ones (and what they need). Idempotent: a re-run installs nothing and
# rebuilds only what changed.
#   scripts/setup.sh [preset [target...]]        (default: release, all targets)
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done

# OpenBLAS (the OpenMP build, so its threads follow ember's count) takes the
# matrix products where it measured faster than Eigen (engine/gemm.hpp;
# -DEMBER_BLAS=OFF keeps Eigen only).
packages=(build-essential cmake ccache libeigen3-dev libfmt-dev doctest-dev nlohmann-json3-dev libcli11-dev gnuplot-nox python3-numpy libopenmpi-dev openmpi-bin libopenblas-dev libopenblas0-openmp)
if [[ $preset == fuzz ]]; then packages+=(clang-14 libfuzzer-14-dev libclang-rt-14-dev); fi  # libFuzzer needs clang
# The benchmarks compare against libtorch.
if [[ $preset == bench ]]; then packages+=(libtorch-dev); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ember: installing missing Debian packages: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "ember: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs" "${targets[@]}"
