// A llama2.c checkpoint: the seven-int header, the exact size it implies, and the weights.
#include "fuzz/fuzz_util.h"
#include "src/model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tritium::fuzz::WriteInput(data, size, ".bin");
  tritium::LoadOptions opts;
  opts.require_tokenizer = false;
  auto m = tritium::Model::Load(path, opts);
  if (!m.ok()) tritium::fuzz::CheckNamesFile(m.status(), path);
  return 0;
}
