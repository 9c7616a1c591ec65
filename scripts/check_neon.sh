#!/usr/bin/env bash
# Cross-compiles every NEON kernel (src/**/*_neon.cc) for AArch64, so x86 CI catches NEON build
# breaks. Needs g++-aarch64-linux-gnu (scripts/setup.sh installs it). Compile only: nothing runs.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX_AARCH64:-aarch64-linux-gnu-g++}
if ! command -v "$CXX" >/dev/null; then
  echo "check_neon: $CXX not found (apt-get install g++-aarch64-linux-gnu)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
while IFS= read -r f; do
  echo "check_neon: $f"
  "$CXX" -std=c++20 -march=armv8.2-a+dotprod+fp16 -O2 -Wall -Wextra -Wno-unused-parameter -Werror \
    -I. -c "$f" -o "$out/$(basename "$f").o"
  n=$((n + 1))
done < <(find src -name '*_neon.cc' | sort)
echo "check_neon: $n file(s) compiled for aarch64"
