// Shared by the libFuzzer targets (fuzz/*_fuzz.cc): the readers under test take paths, so each
// input is written to one per-process file first. Every target asserts the contract of
// docs/reliability.md: a reader either accepts the bytes or returns an error that names the file;
// a crash, a sanitizer report, a timeout or an out-of-memory is a finding.
#ifndef TRITIUM_FUZZ_FUZZ_UTIL_H_
#define TRITIUM_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "src/base/status.h"

namespace tritium::fuzz {

// Writes the input to $TMPDIR/tritium_fuzz_<pid><suffix> and returns the path.
inline std::string WriteInput(const uint8_t* data, size_t size, const std::string& suffix) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/tritium_fuzz_" +
                           std::to_string(::getpid()) + suffix;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size)) std::abort();
  std::fclose(f);
  return path;
}

// An error must say which file it is about (the readers' contract); anything else is a finding.
inline void CheckNamesFile(const Status& s, const std::string& name) {
  if (s.ok()) return;
  if (s.message().find(name) == std::string::npos) {
    std::fprintf(stderr, "error does not name '%s': %s\n", name.c_str(), s.message().c_str());
    std::abort();
  }
}

}  // namespace tritium::fuzz

#endif  // TRITIUM_FUZZ_FUZZ_UTIL_H_
