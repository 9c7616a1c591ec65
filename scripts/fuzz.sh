#!/usr/bin/env bash
# Runs libFuzzer targets (fuzz/*_fuzz.cc) under ASan + UBSan.
#   scripts/fuzz.sh TARGET [SECONDS]   one target (e.g. gguf_fuzz), 60 s by default
#   scripts/fuzz.sh all [SECONDS]      every target in turn, SECONDS each (what CI runs)
# Seeds come from the test suite (tests/fuzz_seeds_test.cc writes them); the growing corpus is kept
# in build-fuzz/corpus/TARGET, and a crashing input is saved as build-fuzz/findings/TARGET-*.
# Exits non-zero on the first finding (crash, sanitizer report, leak, timeout or out-of-memory).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh TARGET|all [SECONDS]}"
secs="${2:-60}"

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

seeds=build-fuzz/seeds
if [ ! -d "$seeds" ]; then
  # The seeds need the release build's tritium binary and the seed test.
  cmake --preset default >/dev/null
  cmake --build --preset default -j "$(nproc)" --target tritium fuzz_seeds_test
  TRITIUM_FUZZ_SEEDS="$PWD/$seeds" ./build/fuzz_seeds_test --gtest_brief=1
fi

if [ "$target" = all ]; then
  targets=$(cd build-fuzz && ls ./*_fuzz | sed 's|^\./||')
else
  targets="$target"
fi
mkdir -p build-fuzz/findings
for t in $targets; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus" "$seeds/$t"
  echo "== fuzzing $t for ${secs} s"
  # The readers take paths: each process writes its input to its own file under TMPDIR.
  log=build-fuzz/$t.log
  status=0
  TMPDIR="${TMPDIR:-/tmp}" ./build-fuzz/"$t" -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/findings/$t-" "$corpus" "$seeds/$t" >"$log" 2>&1 || status=$?
  grep -E "^(INFO: seed corpus|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|Test unit written|error does not name" "$log" || true
  if [ "$status" -ne 0 ]; then
    grep -E "runtime error|what\(\)|#[0-9]+ 0x[0-9a-f]+ in tritium" "$log" | head -20 >&2 || true
    echo "fuzz: $t found a problem (exit $status); input saved under build-fuzz/findings/, log in $log" >&2
    exit 1
  fi
done
