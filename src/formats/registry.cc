// The one table of formats. Ids are explicit in FormatId (format.h) and never reused; adding a
// format means one line here, and format_conformance_test.cc then covers it without edits.
#include <strings.h>

#include <string>

#include "src/formats/builtin_formats.h"
#include "src/formats/format.h"

namespace tritium {
namespace {

using namespace formats_internal;  // NOLINT: the table below names every format

constexpr const Format* kAllFormats[] = {
    &kF32Format,         // id 0
    &kF16Format,         // id 1
    &kQ4_0Format,        // id 2
    &kQ4_1Format,        // id 3
    &kQ5_0Format,        // id 6
    &kQ5_1Format,        // id 7
    &kQ8_0Format,        // id 8
    &kQ2_KFormat,        // id 10
    &kQ3_KFormat,        // id 11
    &kQ4_KFormat,        // id 12
    &kQ5_KFormat,        // id 13
    &kQ6_KFormat,        // id 14
    &kIQ4_NLFormat,      // id 20
    &kIQ4_XSFormat,      // id 23
    &kBF16Format,        // id 30
    &kTQ1_0Format,       // id 34
    &kTQ2_0Format,       // id 35
    &kTritPlanesFormat,  // id 1000
    &kIntGFormat,        // id 1001
};
constexpr size_t kNumFormats = sizeof(kAllFormats) / sizeof(kAllFormats[0]);

}  // namespace

namespace formats_internal {

Status CheckNoParams(const char* name, int64_t cols, const FormatParams& p) {
  if (cols < 1) return InvalidArgumentError(std::string(name) + ": cols must be >= 1");
  if (p.planes != 0 || p.group != 0 || p.bits != 0) {
    return InvalidArgumentError(std::string(name) + ": takes no planes/group/bits parameters");
  }
  return OkStatus();
}

}  // namespace formats_internal

const Format* FindFormat(FormatId id) {
  for (const Format* f : kAllFormats) {
    if (f->id == id) return f;
  }
  return nullptr;
}

const Format* FindFormatByRawId(uint32_t raw_id) {
  return FindFormat(static_cast<FormatId>(raw_id));
}

const Format* FindFormatByName(const std::string& name) {
  for (const Format* f : kAllFormats) {
    if (strcasecmp(f->name, name.c_str()) == 0) return f;
  }
  return nullptr;
}

const char* GgmlTypeName(uint32_t raw_id) {
  // ggml's type ids, including the ones it has retired (their numbers stay taken).
  static constexpr const char* kNames[] = {
      "F32",     "F16",     "Q4_0",       "Q4_1",       "Q4_2 (retired)", "Q4_3 (retired)",
      "Q5_0",    "Q5_1",    "Q8_0",       "Q8_1",       "Q2_K",           "Q3_K",
      "Q4_K",    "Q5_K",    "Q6_K",       "Q8_K",       "IQ2_XXS",        "IQ2_XS",
      "IQ3_XXS", "IQ1_S",   "IQ4_NL",     "IQ3_S",      "IQ2_S",          "IQ4_XS",
      "I8",      "I16",     "I32",        "I64",        "F64",            "IQ1_M",
      "BF16",    "Q4_0_4_4 (retired)",    "Q4_0_4_8 (retired)",             "Q4_0_8_8 (retired)",
      "TQ1_0",   "TQ2_0",   "IQ4_NL_4_4 (retired)", "IQ4_NL_4_8 (retired)",
      "IQ4_NL_8_8 (retired)",             "MXFP4"};
  constexpr uint32_t n = sizeof(kNames) / sizeof(kNames[0]);
  return raw_id < n ? kNames[raw_id] : nullptr;
}

const Format* const* AllFormats(size_t* count) {
  *count = kNumFormats;
  return kAllFormats;
}

double BitsPerWeight(const Format& f, int64_t cols, const FormatParams& p) {
  // Rows are packed independently, so the ratio does not depend on the number of rows.
  return 8.0 * static_cast<double>(f.row_bytes(cols, p)) / static_cast<double>(cols);
}

}  // namespace tritium
