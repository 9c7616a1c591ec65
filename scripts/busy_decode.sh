#!/usr/bin/env bash
# Decode speed at -t 1 and -t 2, on an idle machine and beside one busy competitor process (a
# CPU-bound loop, as a shared host has), interleaved rounds, medians and ratios. Issue 14's bar:
# with one competitor, -t 2 decode must be at least 0.7x -t 1.
#
#   scripts/busy_decode.sh MODEL [ROUNDS] [TRITIUM]     (default 5 rounds, ./build/tritium)
set -euo pipefail
model="$1"
rounds="${2:-5}"
t="${3:-./build/tritium}"
out=$(mktemp -d)
trap 'kill "${busy:-}" 2>/dev/null || true; rm -rf "$out"' EXIT
bench() {  # $1 = label; rest = bench args
  local label=$1
  shift
  "$t" bench "$model" -p 0 -n 64 -r 3 --json "$@" | python3 -c \
    'import json,sys; print(max(json.load(sys.stdin)["tg"]["tps"]))' >>"$out/$label"
}
for r in $(seq "$rounds"); do
  bench idle_t1 -t 1
  bench idle_t2 -t 2
  python3 -c 'while True: pass' &
  busy=$!
  sleep 0.5
  bench busy_t1 -t 1
  bench busy_t2 -t 2
  kill "$busy"
  wait "$busy" 2>/dev/null || true
  busy=
done
python3 - "$out" "$model" <<'PY'
import os, statistics, sys
d, model = sys.argv[1:3]
m = {k: statistics.median(float(x) for x in open(os.path.join(d, k))) for k in os.listdir(d)}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"{model} on {cpu} ({os.cpu_count()} CPUs), decode tokens/s, medians of the rounds' best-of-3:")
print(f"| | -t 1 | -t 2 | -t 2 / -t 1 |")
print(f"|---|---|---|---|")
for k in ("idle", "busy"):
    a, b = m[k + "_t1"], m[k + "_t2"]
    print(f"| {k} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
PY
