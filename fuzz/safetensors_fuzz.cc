// The safetensors reader: the JSON header, dtypes, shapes and data offsets, then every tensor's
// conversion to float32.
#include "fuzz/fuzz_util.h"
#include "src/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tritium::fuzz::WriteInput(data, size, ".safetensors");
  auto s = tritium::SafetensorsSet::Open(path);
  if (!s.ok()) {
    tritium::fuzz::CheckNamesFile(s.status(), path);
    return 0;
  }
  for (const auto& [name, t] : (*s)->tensors()) {
    auto v = tritium::StTensorToF32(t, /*require_finite=*/true);
    if (!v.ok()) tritium::fuzz::CheckNamesFile(v.status(), path);
  }
  return 0;
}
