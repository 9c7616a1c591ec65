#!/usr/bin/env bash
# NEON on an x86 machine, in two steps:
#  1. cross-compiles every NEON kernel (src/**/*_neon.cc) for AArch64 with -Werror, so x86 CI
#     catches NEON build breaks;
#  2. builds tests/neon/kernels_twin_main.cc statically for AArch64 with the sources it needs and
#     runs it under qemu-user (-cpu max: armv8.x with dotprod): the NEON kernels must equal their
#     scalar twin bit for bit, and run-time feature detection must pick them.
# Needs g++-aarch64-linux-gnu and qemu-user-static (scripts/setup.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=${CXX_AARCH64:-aarch64-linux-gnu-g++}
QEMU=${QEMU_AARCH64:-qemu-aarch64-static}
if ! command -v "$CXX" >/dev/null; then
  echo "check_neon: $CXX not found (apt-get install g++-aarch64-linux-gnu)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
FLAGS=(-std=c++20 -O2 -Wall -Wextra -Wno-unused-parameter -Werror -I.)
NEON_FLAGS=(-march=armv8.2-a+dotprod+fp16)
n=0
neon_objs=()
while IFS= read -r f; do
  echo "check_neon: $f"
  o="$out/$(basename "$f").o"
  "$CXX" "${FLAGS[@]}" "${NEON_FLAGS[@]}" -c "$f" -o "$o"
  neon_objs+=("$o")
  n=$((n + 1))
done < <(find src -name '*_neon.cc' | sort)
echo "check_neon: $n file(s) compiled for aarch64"

if ! command -v "$QEMU" >/dev/null; then
  echo "check_neon: $QEMU not found (apt-get install qemu-user-static): NEON kernels NOT run" >&2
  exit 1
fi
# Everything the twin check links besides the NEON objects: baseline armv8-a, as a real build.
srcs=(tests/neon/kernels_twin_main.cc src/kernels/cpu/quant_kernels.cc
      src/kernels/prepared_weight.cc src/base/cpu_features.cc)
while IFS= read -r f; do srcs+=("$f"); done < <(find src/formats -name '*.cc' ! -name '*_test.cc' | sort)
objs=()
for f in "${srcs[@]}"; do
  o="$out/$(echo "$f" | tr / _).o"
  "$CXX" "${FLAGS[@]}" -c "$f" -o "$o"
  objs+=("$o")
done
"$CXX" -static "${objs[@]}" "${neon_objs[@]}" -o "$out/kernels_twin"
echo "check_neon: running the NEON kernels under $QEMU -cpu max"
"$QEMU" -cpu max "$out/kernels_twin"
