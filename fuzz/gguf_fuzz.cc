// The GGUF container reader: header, metadata of every type, tensor table, offsets and sizes.
#include "fuzz/fuzz_util.h"
#include "src/io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tritium::fuzz::WriteInput(data, size, ".gguf");
  auto f = tritium::GgufFile::Open(path);
  if (!f.ok()) {
    tritium::fuzz::CheckNamesFile(f.status(), path);
    return 0;
  }
  // Everything the reader accepted must be readable: touch every tensor byte and every value.
  volatile uint64_t sum = 0;
  for (const tritium::GgufTensorInfo& t : (*f)->tensors()) {
    for (uint64_t i = 0; i < t.nbytes; ++i) sum = sum + t.data[i];
  }
  for (const auto& [key, v] : (*f)->metadata()) {
    sum = sum + key.size();
    if (auto s = v.AsStringArray(); s.ok()) sum = sum + s->size();
    if (auto a = v.AsFloatArray(); a.ok()) sum = sum + a->size();
    if (auto s = v.AsString(); s.ok()) sum = sum + s->size();
  }
  return 0;
}
