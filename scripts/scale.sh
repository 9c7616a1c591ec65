#!/usr/bin/env bash
# Real-size measurements for docs/scale.md: synthetic 1.1B and 7B checkpoints (tritium synth), then
# quantize (data-free and calibrated) and run, each under /usr/bin/time -v for wall time and peak
# resident memory. Needs about 18 GB of disk in WORK and about 45 minutes on 2 cores; with
# FULL_CALIB=1 it also runs the calibrated 32-layer 7B (about 6.5 hours here, docs/scale.md).
#   scripts/scale.sh [WORK_DIR]          (default /tmp/tritium-scale)
# Results: WORK_DIR/steps.log (one line per step), WORK_DIR/<step>.{out,err}.
set -u
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset default >/dev/null && cmake --build --preset default -j "$(nproc)" --target tritium >/dev/null
T="$PWD/build/tritium"
W="${1:-/tmp/tritium-scale}"
mkdir -p "$W" && cd "$W"
echo "# $(date -u +%FT%TZ) $(git -C "$OLDPWD" rev-parse --short HEAD 2>/dev/null) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" >> steps.log
step() {
  local name=$1; shift
  echo "=== $name: $*" >> steps.log
  /usr/bin/time -v "$@" > "$name.out" 2> "$name.err"
  echo "rc=$? $(grep -E 'Elapsed|Maximum resident' "$name.err" | tr -s ' \t' ' ' | tr '\n' ' ')" >> steps.log
}
[ -f tinyllama/config.json ] || step synth1b "$T" synth tinyllama-1.1b tinyllama
[ -f llama2-7b/config.json ] || step synth7b "$T" synth llama2-7b llama2-7b
[ -f llama2-7b-1l/config.json ] || step synth7b1l "$T" synth llama2-7b llama2-7b-1l --layers 1
step q1b_k2 "$T" quantize tinyllama tinyllama-k2.gguf --method ptqtp --planes 2 -t 2
step q1b_rtn4 "$T" quantize tinyllama tinyllama-rtn4.gguf --method rtn --bits 4 -t 2
step q7b_k2 "$T" quantize llama2-7b llama2-7b-k2.gguf --method ptqtp --planes 2 -t 2
step q7b_rtn4 "$T" quantize llama2-7b llama2-7b-rtn4.gguf --method rtn --bits 4 -t 2
step run1b_k2 "$T" run tinyllama-k2.gguf -p "Once upon a time" -n 16 --temp 0 -t 2
step run7b_k2 "$T" run llama2-7b-k2.gguf -p "Once upon a time" -n 16 --temp 0 -t 2
step run7b_f "$T" run llama2-7b -p "Once upon a time" -n 4 --temp 0 -t 2
# Calibrated memory is per layer: one layer at the 7B widths shows the peak of any depth.
step q7b1l_gptq "$T" quantize llama2-7b-1l llama2-7b-1l-ptqtp-gptq.gguf --method ptqtp-gptq --calib-seqs 32 -t 2
if [ "${FULL_CALIB:-0}" = 1 ]; then
  step q7b_gptq "$T" quantize llama2-7b llama2-7b-ptqtp-gptq.gguf --method ptqtp-gptq --calib-seqs 32 -t 2
fi
echo "# done $(date -u +%FT%TZ)" >> steps.log
