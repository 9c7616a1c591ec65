#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (the command CI runs).
#   scripts/test.sh           Release build (preset "default"), then the hardening stage below
#   scripts/test.sh asan      AddressSanitizer + UBSan build of everything (preset "asan")
# The hardening stage (docs/reliability.md), skipped with TRITIUM_SKIP_HARDENING=1:
#   - the tests that read untrusted input (io, tokenizers, config, model loading, llama.cpp's files,
#     eval files, the CLI and the malformed-input corpus) again under ASan + UBSan, with the CLI
#     built the same way;
#   - every fuzz target for TRITIUM_FUZZ_SECONDS (default 30) seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
./scripts/setup.sh
# The NEON kernels cannot run here; they must at least compile for aarch64.
./scripts/check_neon.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"

if [ "$preset" = default ] && [ "${TRITIUM_SKIP_HARDENING:-0}" != 1 ]; then
  echo "== untrusted-input tests under ASan + UBSan (${SECONDS} s in)"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$(nproc)" --target tritium base_test gguf_test config_test \
    tokenizer_test kld_test cli_test malformed_input_test fuzz_seeds_test chat_template_test \
    ggml_interop_test
  ctest --preset asan -j "$(nproc)" -R \
    '^(MappedFileTest|AtomicFileWriterTest|GgufTest|GgufValueTest|ConfigTest|BadInputTest|ByteBpeTest|HfJsonTest|InvalidUtf8Test|Llama2cTest|LoadTest|RoundTripTest|ScoreBpeTest|SentencePieceTest|Kld|CliLlama2c|CliTest|CliVerbs|MalformedInput[A-Za-z]*|FuzzSeedsTest|ChatTemplateTest|GgmlInteropTest|LlamaCppFiles/GgmlInteropTest)\.|^serve_test$'
  echo "== fuzzing every reader (${SECONDS} s in)"
  ./scripts/fuzz.sh all "${TRITIUM_FUZZ_SECONDS:-30}"
fi
echo "== scripts/test.sh done in ${SECONDS} s"
