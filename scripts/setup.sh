#!/usr/bin/env bash
# Installs the Debian packages tritium builds against. Idempotent: packages already present are skipped.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsentencepiece-dev nlohmann-json3-dev libcli11-dev
      libgtest-dev libgmock-dev libbenchmark-dev libeigen3-dev libpcre2-dev libutf8proc-dev
      libxxhash-dev libcpp-httplib-dev g++-aarch64-linux-gnu qemu-user-static
      python3  # the server tests' client (standard library only)
      clang libclang-rt-14-dev  # libFuzzer and the sanitizers of scripts/fuzz.sh
      time)  # /usr/bin/time -v: peak memory in scripts/scale.sh
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
