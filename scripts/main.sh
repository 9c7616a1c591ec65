#!/usr/bin/env bash
# Sets up, builds and runs the main job on the default model (../shared/models/llama-docs-28m):
# quantize it to trit-planes (PTQTP, K = 2, G = 128), generate text with the quantized file,
# measure WikiText-2 perplexity (ctx 512, the first $PPL_CHUNKS windows) and decode speed of the
# float model and of the quantized one, and end with one summary table. About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${TRITIUM_SHARED:-../shared}"
model="$shared/models/llama-docs-28m"
text="$shared/data/wikitext-2/wiki.test.raw"
dir="${OUT_DIR:-build}"
out="$dir/llama-docs-28m-ptqtp-k2.gguf"
chunks="${PPL_CHUNKS:-60}"
./scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target tritium
t=./build/tritium
step() { echo; echo "== $* ($(date +%T))"; }

step "quantize $model -> $out"
$t quantize "$model" "$out" --method ptqtp --planes 2 --group 128 --json >"$dir/main_quantize.json"
python3 - "$dir/main_quantize.json" "$out" <<'PY'
import json, sys
q = json.load(open(sys.argv[1]))
print("%s: %.3f bits per weight in the quantized matrices, %.3f over the whole file"
      % (sys.argv[2], q["bpw_linear"], q["bpw_file"]))
PY

step "generate with the quantized file"
$t run "$out" -p "The history of" -n 40 --temp 0

for pair in "float:$model" "quant:$out"; do
  m="${pair#*:}"
  step "perplexity of $m (WikiText-2, $chunks windows of 512)"
  $t ppl "$m" "$text" --ctx 512 --chunks "$chunks" --json >"$dir/main_ppl_${pair%%:*}.json"
  python3 - "$dir/main_ppl_${pair%%:*}.json" "$m" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
print("%s: PPL = %.4f +/- %.4f over %d windows" % (sys.argv[2], p["ppl"], p["ppl_se"], p["windows"]))
PY
done

step "decode and prefill speed (tritium bench, interleaved float / quantized, 3 rounds)"
for r in 1 2 3; do
  $t bench "$model" -p 128 -n 64 -r 3 --json >"$dir/main_bench_float_$r.json"
  $t bench "$out" -p 128 -n 64 -r 3 --json >"$dir/main_bench_quant_$r.json"
done

python3 - "$dir" "$model" "$out" <<'PY'
import json, os, statistics, sys
d, model, out = sys.argv[1:4]
q = json.load(open(f"{d}/main_quantize.json"))
pf = json.load(open(f"{d}/main_ppl_float.json"))
pq = json.load(open(f"{d}/main_ppl_quant.json"))
bf = [json.load(open(f"{d}/main_bench_float_{r}.json")) for r in (1, 2, 3)]
bq = [json.load(open(f"{d}/main_bench_quant_{r}.json")) for r in (1, 2, 3)]
med = lambda runs, k: statistics.median(x for b in runs for x in b[k]["tps"])
def size(p):
    if os.path.isdir(p):
        return sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p) if f.endswith(".safetensors"))
    return os.path.getsize(p)
rows = [("float (bf16 safetensors)", model, size(model), bf[0]["bpw_layers"], pf, bf),
        ("PTQTP K=2 G=128", out, size(out), bq[0]["bpw_layers"], pq, bq)]
print()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"== summary (CPU: {cpu}, kernels {bf[0]['cpu']}, {bf[0]['threads']} threads; WikiText-2 test, "
      f"{pf['windows']} windows of {pf['ctx'] if 'ctx' in pf else 512})")
print(f"| {'model':<26} | {'file MB':>8} | {'bpw':>6} | {'PPL':>9} | {'decode t/s':>10} | {'prefill t/s':>11} |")
print(f"|{'-'*28}|{'-'*10}|{'-'*8}|{'-'*11}|{'-'*12}|{'-'*13}|")
for name, path, sz, bpw, p, b in rows:
    print(f"| {name:<26} | {sz/1e6:>8.1f} | {bpw:>6.3f} | {p['ppl']:>9.4f} | {med(b, 'tg'):>10.1f} | {med(b, 'pp'):>11.1f} |")
rel = pq["ppl"] / pf["ppl"] - 1
print(f"quantized vs float: perplexity {rel*100:+.2f}%, file {size(out)/size(model):.3f}x, "
      f"decode {med(bq, 'tg')/med(bf, 'tg'):.2f}x, prefill {med(bq, 'pp')/med(bf, 'pp'):.2f}x "
      f"(medians of 9 interleaved runs)")
PY
