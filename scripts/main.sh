#!/usr/bin/env bash
# Sets up, builds and runs the main job on the default model (../shared/models/llama-docs-28m):
# generate text, then WikiText-2 perplexity (ctx 512) of the float model.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${TRITIUM_SHARED:-../shared}"
model="$shared/models/llama-docs-28m"
./scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target tritium
./build/tritium run "$model" -p "The history of" -n 40 --temp 0
./build/tritium ppl "$model" "$shared/data/wikitext-2/wiki.test.raw" --ctx 512
