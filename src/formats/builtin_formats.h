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
extern const Format kQ4_0Format;
extern const Format kQ4_1Format;
extern const Format kQ5_0Format;
extern const Format kQ5_1Format;
extern const Format kQ2_KFormat;
extern const Format kQ3_KFormat;
extern const Format kQ4_KFormat;
extern const Format kQ5_KFormat;
extern const Format kQ6_KFormat;
extern const Format kIQ4_NLFormat;
extern const Format kIQ4_XSFormat;
extern const Format kTQ1_0Format;
extern const Format kTQ2_0Format;

// Shared by the formats that take no parameters: all fields must be 0 (see check_params).
Status CheckNoParams(const char* name, int64_t cols, const FormatParams& p);

}  // namespace tritium::formats_internal

#endif  // TRITIUM_FORMATS_BUILTIN_FORMATS_H_
