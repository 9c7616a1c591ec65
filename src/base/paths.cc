#include "src/base/paths.h"

#include <cstdlib>

#include "src/base/file.h"

#ifndef TRITIUM_SOURCE_DIR
#define TRITIUM_SOURCE_DIR "."
#endif

namespace tritium {

std::string SharedDir() {
  if (const char* env = std::getenv("TRITIUM_SHARED"); env != nullptr && *env != '\0') return env;
  std::string from_source = JoinPath(TRITIUM_SOURCE_DIR, "../shared");
  if (IsDirectory(from_source)) return from_source;
  return "../shared";
}

std::string SharedPath(const std::string& rel) { return JoinPath(SharedDir(), rel); }

}  // namespace tritium
