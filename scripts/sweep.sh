#!/usr/bin/env bash
# Regenerates the data-free sweep of docs/quality.md: quantizes llama-docs-28m with each config
# below, evaluates every result against the float model on the first CHUNKS windows of
# WikiText-2 (ctx 512; PPL, KL divergence, top-1 agreement) and writes docs/quality-sweep.{md,csv,svg},
# then pastes the table into docs/quality.md between the sweep markers.
#   ./scripts/sweep.sh                 # 40 windows (20,440 scored tokens), ~10 min on 2 cores
#   CHUNKS=10 BUILD=build-eval ./scripts/sweep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${TRITIUM_SHARED:-../shared}"
model="$shared/models/llama-docs-28m"
text="$shared/data/wikitext-2/wiki.test.raw"
build="${BUILD:-build}"
chunks="${CHUNKS:-40}"
configs="rtn:bits=2,group=128 rtn:bits=3,group=128 rtn:bits=4,group=128 rtn:bits=8,group=128
ptqtp:planes=1,group=128 ptqtp:planes=2,group=128 ptqtp:planes=3,group=128
ptqtp:planes=2,group=64"
# Always (re)build: a stale binary would lack the sweep verb or measure old code.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTRITIUM_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target tritium
"$build/tritium" sweep "$model" "$text" --ctx 512 --chunks "$chunks" --configs "$configs" \
  -o docs/quality-sweep
# Paste the table into docs/quality.md (only between the markers; other sections stay as they are).
python3 - <<'PY'
import re
doc = open("docs/quality.md").read()
table = open("docs/quality-sweep.md").read().rstrip("\n")
begin, end = "<!-- sweep-table:begin -->", "<!-- sweep-table:end -->"
if begin not in doc or end not in doc:
    raise SystemExit("docs/quality.md: sweep markers missing")
head, rest = doc.split(begin, 1)
_, tail = rest.split(end, 1)
open("docs/quality.md", "w").write(head + begin + "\n" + table + "\n" + end + tail)
PY
echo "updated docs/quality.md, docs/quality-sweep.{md,csv,svg}"
