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
    &kQ8_0Format,        // id 8
    &kBF16Format,        // id 30
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

const Format* const* AllFormats(size_t* count) {
  *count = kNumFormats;
  return kAllFormats;
}

double BitsPerWeight(const Format& f, int64_t cols, const FormatParams& p) {
  // Rows are packed independently, so the ratio does not depend on the number of rows.
  return 8.0 * static_cast<double>(f.row_bytes(cols, p)) / static_cast<double>(cols);
}

}  // namespace tritium
