// F32 (ggml id 0): IEEE binary32, little-endian, `cols` values per row, no header.
// Bits per weight: exactly 32. Encoding is exact; non-finite inputs are stored as 0 so that every
// encoder output passes validate_row, which rejects non-finite values as corruption.
#include <cmath>
#include <cstring>
#include <string>

#include "src/formats/builtin_formats.h"

namespace tritium::formats_internal {
namespace {

Status CheckParams(int64_t cols, const FormatParams& p) { return CheckNoParams("F32", cols, p); }

size_t RowBytes(int64_t cols, const FormatParams&) { return static_cast<size_t>(cols) * 4; }

void Dequantize(const uint8_t* src, float* dst, int64_t cols, const FormatParams&) {
  std::memcpy(dst, src, static_cast<size_t>(cols) * 4);
}

Status Validate(const uint8_t* src, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) {
    float v;
    std::memcpy(&v, src + 4 * i, 4);
    if (!std::isfinite(v))
      return DataLossError("F32: non-finite weight at column " + std::to_string(i));
  }
  return OkStatus();
}

void Quantize(const float* src, uint8_t* dst, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) {
    float v = std::isfinite(src[i]) ? src[i] : 0.0f;
    std::memcpy(dst + 4 * i, &v, 4);
  }
}

void ErrorBound(const float*, const uint8_t*, float* bound, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) bound[i] = 0.0f;
}

}  // namespace

extern const Format kF32Format = {FormatId::kF32, "F32",    CheckParams, RowBytes,
                                  Dequantize,     Validate, Quantize,    ErrorBound};

}  // namespace tritium::formats_internal
