// llama2.c's tokenizer.bin (max token length, then score, length and bytes per token).
#include "fuzz/fuzz_util.h"
#include "fuzz/tokenizer_fuzz_common.h"
#include "src/tokenizer/tokenizer_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name = "fuzzed/tokenizer.bin";
  auto t = tritium::tokenizer_internal::Llama2cFromBytes(
      std::string(reinterpret_cast<const char*>(data), size), /*vocab_size=*/-1, name);
  if (!t.ok()) {
    tritium::fuzz::CheckNamesFile(t.status(), name);
    return 0;
  }
  tritium::fuzz::Exercise(**t);
  return 0;
}
