#!/usr/bin/env bash
# Sets up, builds and runs the main job on the default model (../shared/models/llama-docs-28m):
# quantize it to trit-planes (PTQTP, K = 2, G = 128), generate text with the quantized file, and
# measure WikiText-2 perplexity (ctx 512) of the float model and of the quantized one.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${TRITIUM_SHARED:-../shared}"
model="$shared/models/llama-docs-28m"
text="$shared/data/wikitext-2/wiki.test.raw"
out="${OUT_DIR:-build}/llama-docs-28m-ptqtp-k2.gguf"
./scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target tritium
./build/tritium quantize "$model" "$out" --method ptqtp --planes 2 --group 128
./build/tritium run "$out" -p "The history of" -n 40 --temp 0
./build/tritium ppl "$model" "$text" --ctx 512
./build/tritium ppl "$out" "$text" --ctx 512
