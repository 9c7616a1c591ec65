// The Format records each src/formats/<name>.cc defines; only registry.cc should need this header.
#ifndef TRITIUM_FORMATS_BUILTIN_FORMATS_H_
#define TRITIUM_FORMATS_BUILTIN_FORMATS_H_

#include "src/formats/format.h"

namespace tritium::formats_internal {

extern const Format kF32Format;
extern const Format kF16Format;
extern const Format kBF16Format;
extern const Format kQ8_0Format;
extern const Format kTritPlanesFormat;
extern const Format kIntGFormat;

// Shared by the formats that take no parameters: all fields must be 0 (see check_params).
Status CheckNoParams(const char* name, int64_t cols, const FormatParams& p);

}  // namespace tritium::formats_internal

#endif  // TRITIUM_FORMATS_BUILTIN_FORMATS_H_
