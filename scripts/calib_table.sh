#!/usr/bin/env bash
# The calibration comparison table of docs/calibration.md: perplexity, bits per weight and
# quantization time of float, RTN, GPTQ, data-free PTQTP and the calibrated trit-plane methods, on
# llama-docs-28m (WikiText-2 test, ctx 512; plus TinyStories val100 as the off-domain check) and
# stories260K (TinyStories val100). Calibration text: the shared Brown corpus (the default), which
# overlaps neither evaluation text. Only calls `tritium`; prints Markdown rows.
#
# Usage: scripts/calib_table.sh [BUILD_DIR] [CHUNKS] [CALIB_SEQS]
#   CHUNKS: windows of each perplexity evaluation (0 = the whole file; default 20)
#   CALIB_SEQS: calibration windows of 512 tokens (default 32)
set -euo pipefail
BUILD=${1:-build}
CHUNKS=${2:-20}
SEQS=${3:-32}
T="$BUILD/tritium"
SHARED=${TRITIUM_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
OUT=${CALIB_TABLE_TMP:-/tmp/calib_table.$$}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
WIKI="$SHARED/data/wikitext-2/wiki.test.raw"
TS="$SHARED/data/tinystories/val100.txt"
M28="$SHARED/models/llama-docs-28m"
M260="$SHARED/models/stories260K/stories260K.bin"
TOK260="$SHARED/models/stories260K/tok512.bin"
CH=()
[ "$CHUNKS" != 0 ] && CH=(--chunks "$CHUNKS")

field() { grep -oE "\"$1\":[0-9.e+-]+" | head -1 | cut -d: -f2; }

ppl() {  # MODEL TEXT [extra ppl flags...]
  local m=$1 t=$2; shift 2
  "$T" ppl "$m" "$t" --ctx 512 "${CH[@]}" -t "$THREADS" --json "$@" | field ppl
}

# row LABEL MODEL_ID OUTNAME [quantize flags...]; MODEL_ID: 28m or 260k
row() {
  local label=$1 id=$2 name=$3; shift 3
  local model extra=() ppls=()
  if [ "$id" = 28m ]; then model=$M28; else model=$M260; extra=(--tokenizer "$TOK260"); fi
  local f="$OUT/$name.gguf" bpw="16 (bf16)" secs="-"
  if [ "$name" = float ]; then
    f=$model
  else
    local j
    j=$("$T" quantize "$model" "$f" "${extra[@]}" -t "$THREADS" --calib-seqs "$SEQS" --json "$@")
    bpw=$(printf '%.3f' "$(echo "$j" | field bpw_linear)")
    secs=$(printf '%.1f' "$(echo "$j" | field seconds)")
  fi
  if [ "$id" = 28m ]; then
    local p1 p2="-"
    p1=$(ppl "$f" "$WIKI")
    if [ -n "${OFFDOMAIN:-}" ]; then p2=$(printf '%.2f' "$(ppl "$f" "$TS")"); fi
    printf '| %s | %s | %.2f | %s | %s |\n' "$label" "$bpw" "$p1" "$p2" "$secs"
  else
    local p1
    p1=$(ppl "$f" "$TS" --tokenizer "$TOK260")
    printf '| %s | %s | %.3f | %s |\n' "$label" "$bpw" "$p1" "$secs"
  fi
}

echo "llama-docs-28m: WikiText-2 test ppl (ctx 512, chunks: ${CHUNKS:-all}), TinyStories val100 ppl"
echo "(off-domain check), calibration $SEQS x 512 tokens of Brown, $THREADS threads"
echo
echo "| method | bpw (linear) | WikiText-2 | TinyStories | quantize s |"
echo "|---|---|---|---|---|"
OFFDOMAIN=1 row "float" 28m float
for b in 2 3 4; do row "RTN $b-bit G=128" 28m rtn$b --method rtn --bits $b --group 128; done
for b in 2 3 4; do row "GPTQ $b-bit G=128" 28m gptq$b --method gptq --bits $b --group 128; done
for k in 1 3; do row "PTQTP K=$k G=128 (data-free)" 28m ptqtp$k --method ptqtp --planes $k; done
OFFDOMAIN=1 row "PTQTP K=2 G=128 (data-free)" 28m ptqtp2 --method ptqtp --planes 2
for m in ptqtp-w ptqtp-ls ptqtp-gptq ptqtp-gptq-w ptqtp-gptq-ls; do
  OFFDOMAIN=1 row "$m K=2 G=128" 28m "$m-2" --method $m --planes 2
done
for k in 1 3; do row "ptqtp-gptq-ls K=$k G=128" 28m "ptqtp-gptq-ls-$k" --method ptqtp-gptq-ls --planes $k; done

echo
echo "stories260K: TinyStories val100 ppl (ctx 512, chunks: ${CHUNKS:-all}), G = 32"
echo
echo "| method | bpw (linear) | TinyStories | quantize s |"
echo "|---|---|---|---|"
row "float" 260k float
for b in 2 3 4; do row "RTN $b-bit G=32" 260k s-rtn$b --method rtn --bits $b --group 32; done
for b in 2 3 4; do row "GPTQ $b-bit G=32" 260k s-gptq$b --method gptq --bits $b --group 32; done
for k in 1 2 3; do
  row "PTQTP K=$k G=32 (data-free)" 260k s-ptqtp$k --method ptqtp --planes $k --group 32
done
for m in ptqtp-w ptqtp-ls ptqtp-gptq ptqtp-gptq-w ptqtp-gptq-ls; do
  row "$m K=2 G=32" 260k "s-$m-2" --method $m --planes 2 --group 32
done

# Determinism: the same bytes for 1 and 2 threads.
"$T" quantize "$M260" "$OUT/d1.gguf" --tokenizer "$TOK260" --method ptqtp-gptq-ls --group 32 \
  --calib-seqs "$SEQS" -t 1 --json >/dev/null
"$T" quantize "$M260" "$OUT/d2.gguf" --tokenizer "$TOK260" --method ptqtp-gptq-ls --group 32 \
  --calib-seqs "$SEQS" -t 2 --json >/dev/null
if cmp -s "$OUT/d1.gguf" "$OUT/d2.gguf"; then echo; echo "1 vs 2 threads: identical bytes"; \
else echo; echo "1 vs 2 threads: DIFFERENT bytes"; fi
