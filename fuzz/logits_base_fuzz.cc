// The KLD logits-base file (`ppl --kld-base`): header, window hashes, top-k records, checksum.
#include "fuzz/fuzz_util.h"
#include "src/eval/kld.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tritium::fuzz::WriteInput(data, size, ".kldbase");
  auto b = tritium::LogitsBase::Open(path);
  if (!b.ok()) {
    tritium::fuzz::CheckNamesFile(b.status(), path);
    return 0;
  }
  const tritium::LogitsBaseInfo& info = (*b)->info();
  volatile uint64_t sum = 0;
  for (int64_t w = 0; w < info.windows; ++w) {
    sum = sum + (*b)->window_hash(w);
    for (int64_t i = 0; i < info.ScoredPerWindow(); ++i) sum = sum + *(*b)->record(w, i);
  }
  return 0;
}
