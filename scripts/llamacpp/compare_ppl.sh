#!/usr/bin/env bash
# llama.cpp's quantized files of a model, scored by llama.cpp and by tritium on the same windows
# (first CHUNKS windows of 512 of WikiText-2, second half scored, BOS starting each window: the
# protocol of `tritium ppl --score-second-half`, which llamacpp_ref ppl follows). The F16 file is
# written by tritium; every other file by llama.cpp's own quantizer. Prints a markdown table.
#
#   scripts/llamacpp/compare_ppl.sh [MODEL_DIR] [CHUNKS] [WORK_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${TRITIUM_SHARED:-$repo/../shared}
model=${1:-$shared/models/llama-docs-29m}
chunks=${2:-20}
work=${3:-/tmp/tritium-llamacpp/compare}
tritium=${TRITIUM:-$repo/build/tritium}
text=$shared/data/wikitext-2/wiki.test.raw
eval "$("$here/setup.sh" | sed 's/^/export /')"
mkdir -p "$work"
"$tritium" quantize "$model" "$work/f16.gguf" --tensor-type '*=F16' > /dev/null
echo "| type | bits/weight (file) | llama.cpp PPL | tritium PPL | difference |"
echo "|---|---|---|---|---|"
for t in f16:1 q8_0:7 q6_K:18 q5_K_M:17 q5_1:9 q5_0:8 q4_K_M:15 q4_K_S:14 q4_1:3 q4_0:2 iq4_nl:25 \
         iq4_xs:30 q3_K_M:12 q3_K_S:11 q2_K:10 tq2_0:37 tq1_0:36; do
  name=${t%%:*}
  f=$work/$name.gguf
  [[ $name == f16 ]] || "$LLAMACPP_REF" quantize "$work/f16.gguf" "$f" "${t##*:}" 2 > /dev/null 2>&1
  lc=$("$LLAMACPP_REF" ppl "$f" "$text" 512 "$chunks" 2 2> /dev/null |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["ppl"])')
  tr=$("$tritium" ppl "$f" "$text" --chunks "$chunks" --score-second-half --json 2> /dev/null |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["ppl"])')
  bpw=$("$tritium" inspect "$f" --json 2> /dev/null |
        python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["bpw"])')
  python3 -c "lc=$lc; tr=$tr; print(f'| $name | $bpw | {lc:.4f} | {tr:.4f} | {100*(tr-lc)/lc:+.3f}% |')"
done
