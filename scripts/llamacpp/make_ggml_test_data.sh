#!/usr/bin/env bash
# Makes tests/data/ggml: a tiny random Llama whose rows are multiples of 256 (so every ggml type
# applies without fallbacks), written as F16 by tritium, quantized by llama.cpp's own quantizer to
# each type, with llama.cpp's own logits (llamacpp_ref logits) and its own dequantization (its
# requantization to F32, first 8 rows of each matrix) recorded beside each file. Run setup.sh first.
#
#   scripts/llamacpp/make_ggml_test_data.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
eval "$("$here/setup.sh" | sed 's/^/export /')"
shared=${TRITIUM_SHARED:-$repo/../shared}
out=$repo/tests/data/ggml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/tritium" synth llama2-7b "$work/hf" --layers 1 --hidden 256 --intermediate 256 --heads 4 \
  --kv-heads 2 --head-dim 64 --vocab 512 --std 0.08 --seed 7 > /dev/null 2>&1
cp "$shared/models/stories260K/tok512.model" "$work/hf/tokenizer.model"
"$build/tritium" quantize "$work/hf" "$work/f16.gguf" --tensor-type '*=F16' > /dev/null
ids=$(python3 -c "import json; print(','.join(map(str, json.load(open('$out/reference.json'))['input_ids'])))")
"$LLAMACPP_REF" logits "$work/f16.gguf" "$ids" "$out/tiny-f16.logits.f32" > /dev/null 2>&1
# llama_ftype numbers of llama.cpp's public API.
for t in q4_0:2 q4_1:3 q5_0:8 q5_1:9 q2_K:10 q3_K_S:11 q4_K_M:15 q5_K_M:17 q6_K:18 iq4_nl:25 \
         iq4_xs:30 tq1_0:36 tq2_0:37; do
  name=${t%%:*}
  "$LLAMACPP_REF" quantize "$work/f16.gguf" "$out/tiny-$name.gguf" "${t##*:}" 2 > /dev/null 2>&1
  "$LLAMACPP_REF" logits "$out/tiny-$name.gguf" "$ids" "$out/tiny-$name.logits.f32" > /dev/null 2>&1
  "$LLAMACPP_REF" quantize "$out/tiny-$name.gguf" "$work/deq.gguf" 0 2 > /dev/null 2>&1
  python3 "$here/gguf_rows.py" "$work/deq.gguf" 8 "$out/tiny-$name.deq8.f32"
  echo "tiny-$name.gguf"
done
