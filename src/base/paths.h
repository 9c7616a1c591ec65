// Where the read-only shared assets (models, data, fixtures) live: $TRITIUM_SHARED, else ../shared
// relative to the source tree (baked in at build time), else ../shared relative to the working dir.
#ifndef TRITIUM_BASE_PATHS_H_
#define TRITIUM_BASE_PATHS_H_

#include <string>

namespace tritium {

std::string SharedDir();
// SharedDir() + "/" + rel.
std::string SharedPath(const std::string& rel);

}  // namespace tritium

#endif  // TRITIUM_BASE_PATHS_H_
