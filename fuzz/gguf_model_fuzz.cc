// A GGUF model end to end: hyperparameters, the tokenizer rebuilt from the vocabulary metadata,
// every tensor's format and shape checks, and the repack the engine does at load.
#include "fuzz/fuzz_util.h"
#include "src/model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tritium::fuzz::WriteInput(data, size, ".gguf");
  tritium::LoadOptions opts;
  opts.require_tokenizer = false;
  auto m = tritium::Model::Load(path, opts);
  if (!m.ok()) {
    tritium::fuzz::CheckNamesFile(m.status(), path);
    return 0;
  }
  if (const tritium::Tokenizer* tok = (*m)->tokenizer()) {
    (void)tok->Decode(tok->Encode("Hello world, 123 <s> naïve", true));
  }
  return 0;
}
