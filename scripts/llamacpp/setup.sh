#!/usr/bin/env bash
# Unpacks llama.cpp's prebuilt libraries from the npm registry package @node-llama-cpp/linux-x64
# into a scratch folder outside the repo and builds our measuring harness (llamacpp_ref.c) against
# them. Nothing of llama.cpp is built here or copied into the repo: the package's shared libraries
# are used as they are, for side-by-side measurements and to make test data with llama.cpp's own
# quantizer. Prints the two variables the other scripts need.
#
#   scripts/llamacpp/setup.sh [SCRATCH]      (default /tmp/tritium-llamacpp)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scratch=${1:-/tmp/tritium-llamacpp}
version=${LLAMACPP_NPM_VERSION:-3.22.1}
mkdir -p "$scratch"
cd "$scratch"
if [[ ! -f package/bins/linux-x64/libllama.v0.5.0.so ]]; then
  npm pack --silent "@node-llama-cpp/linux-x64@$version" > /dev/null
  tar xzf node-llama-cpp-linux-x64-"$version".tgz
fi
lib=$scratch/package/bins/linux-x64
first() { for f in "$@"; do [[ -f $f ]] && { echo "$f"; return; }; done; echo "no $1 in $lib" >&2; exit 1; }
llama=$(first "$lib"/libllama.v*.so "$lib"/libllama.so)
ggml=$(first "$lib"/libggml.v*.so "$lib"/libggml.so)
gcc -O2 -Wall -o "$scratch/llamacpp_ref" "$here/llamacpp_ref.c" -L"$lib" -l:"$(basename "$llama")" \
  -l:"$(basename "$ggml")" -Wl,-rpath,"$lib" -lm
echo "LLAMACPP_LIB=$lib"
echo "LLAMACPP_REF=$scratch/llamacpp_ref"
