#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (the command CI runs).
#   scripts/test.sh           Release build (preset "default")
#   scripts/test.sh asan      AddressSanitizer + UBSan build (preset "asan")
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
./scripts/setup.sh
# The NEON kernels cannot run here; they must at least compile for aarch64.
./scripts/check_neon.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"
