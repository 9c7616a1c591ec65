// F16 (ggml id 1): IEEE binary16, little-endian, `cols` values per row, no header.
// Bits per weight: exactly 16. Encoding rounds to nearest even; finite inputs beyond the fp16 range
// saturate to +-65504 and non-finite inputs are stored as 0, so every encoder output passes
// validate_row, which rejects non-finite values. Bound: |err| <= max(2^-11 |x|, 2^-25) inside the
// range (half an ulp; 2^-25 is half the subnormal spacing), |x| - 65504 beyond it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "src/base/fp16.h"
#include "src/formats/builtin_formats.h"

namespace tritium::formats_internal {
namespace {

constexpr float kF16Max = 65504.0f;

Status CheckParams(int64_t cols, const FormatParams& p) { return CheckNoParams("F16", cols, p); }

size_t RowBytes(int64_t cols, const FormatParams&) { return static_cast<size_t>(cols) * 2; }

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

void Dequantize(const uint8_t* src, float* dst, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) dst[i] = F16ToF32(Load16(src + 2 * i));
}

Status Validate(const uint8_t* src, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) {
    if ((Load16(src + 2 * i) & 0x7c00) == 0x7c00) {
      return DataLossError("F16: non-finite weight at column " + std::to_string(i));
    }
  }
  return OkStatus();
}

void Quantize(const float* src, uint8_t* dst, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) {
    float v = std::isfinite(src[i]) ? std::clamp(src[i], -kF16Max, kF16Max) : 0.0f;
    uint16_t h = F32ToF16(v);
    dst[2 * i] = static_cast<uint8_t>(h);
    dst[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
}

void ErrorBound(const float* src, const uint8_t*, float* bound, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) {
    float a = std::fabs(src[i]);
    bound[i] = std::max({a * 0x1p-11f, 0x1p-25f, a - kF16Max});
  }
}

}  // namespace

extern const Format kF16Format = {FormatId::kF16, "F16",    CheckParams, RowBytes,
                                  Dequantize,     Validate, Quantize,    ErrorBound};

}  // namespace tritium::formats_internal
