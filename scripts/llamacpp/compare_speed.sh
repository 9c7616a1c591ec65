#!/usr/bin/env bash
# Prefill and decode speed, tritium against llama.cpp, in one script on one machine: rounds
# interleave the two tools (A B A B ...) so that a noisy, shared host slows both alike, and the
# table reports medians and the ratio of medians. Each pair is "TRITIUM_FILE=LLAMACPP_FILE" (the
# same model in each tool's format of choice; either may be the same file when tritium reads
# llama.cpp's). Prints a markdown table; names the CPU.
#
#   scripts/llamacpp/compare_speed.sh [-p 128] [-n 32] [-r 5] [-t 2] PAIR...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tritium=${TRITIUM:-$repo/build/tritium}
p=128 n=32 r=5 t=2
while getopts "p:n:r:t:" o; do
  case $o in p) p=$OPTARG ;; n) n=$OPTARG ;; r) r=$OPTARG ;; t) t=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
eval "$("$here/setup.sh" | sed 's/^/export /')"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
  "prefill $p tokens, decode $n tokens, $t threads, $r interleaved rounds, medians"
echo
echo "| tritium file | llama.cpp file | prefill tok/s tritium | llama.cpp | ratio | decode tok/s tritium | llama.cpp | ratio |"
echo "|---|---|---|---|---|---|---|---|"
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
for pair in "$@"; do
  a=${pair%%=*} b=${pair##*=}
  tp=() tg=() lp=() lg=()
  for ((i = 0; i < r; i++)); do
    j=$("$tritium" bench "$a" -p "$p" -n "$n" -r 1 -t "$t" --json 2> /dev/null)
    tp+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pp"]["tps_mean"])' "$j")")
    tg+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["tg"]["tps_mean"])' "$j")")
    j=$("$LLAMACPP_REF" bench "$b" "$p" "$n" "$t" 2> /dev/null)
    lp+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["prefill_tok_s"])' "$j")")
    lg+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["decode_tok_s"])' "$j")")
  done
  python3 - "$(basename "$a")" "$(basename "$b")" "$(median "${tp[@]}")" "$(median "${lp[@]}")" \
    "$(median "${tg[@]}")" "$(median "${lg[@]}")" <<'PY'
import sys
a, b, tp, lp, tg, lg = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
print(f"| {a} | {b} | {tp:.1f} | {lp:.1f} | {tp/lp:.2f} | {tg:.2f} | {lg:.2f} | {tg/lg:.2f} |")
PY
done
