// tokenizer.model (SentencePiece protobuf).
#include "fuzz/fuzz_util.h"
#include "fuzz/tokenizer_fuzz_common.h"
#include "src/tokenizer/tokenizer_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name = "fuzzed/tokenizer.model";
  auto t = tritium::tokenizer_internal::SentencePieceFromBytes(
      std::string(reinterpret_cast<const char*>(data), size), name);
  if (!t.ok()) {
    tritium::fuzz::CheckNamesFile(t.status(), name);
    return 0;
  }
  tritium::fuzz::Exercise(**t);
  return 0;
}
