// config.json of a Hugging Face checkpoint: JSON syntax, every key's type, and the consistency
// checks between hyperparameters.
#include "fuzz/fuzz_util.h"
#include "src/model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tritium::fuzz::WriteInput(data, size, "_config.json");
  auto c = tritium::ParseHfConfig(path);
  if (!c.ok()) tritium::fuzz::CheckNamesFile(c.status(), path);
  return 0;
}
