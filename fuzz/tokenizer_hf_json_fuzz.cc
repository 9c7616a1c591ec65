// Hugging Face tokenizer.json (byte-level BPE: vocabulary, merges, added tokens, normalizers,
// pre-tokenizers and the post-processor).
#include "fuzz/fuzz_util.h"
#include "fuzz/tokenizer_fuzz_common.h"
#include "src/tokenizer/tokenizer_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name = "fuzzed/tokenizer.json";
  auto t = tritium::tokenizer_internal::HfJsonFromBytes(
      std::string(reinterpret_cast<const char*>(data), size), name, "", "");
  if (!t.ok()) {
    tritium::fuzz::CheckNamesFile(t.status(), name);
    return 0;
  }
  tritium::fuzz::Exercise(**t);
  return 0;
}
