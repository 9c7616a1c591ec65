// BF16 (ggml id 30): bfloat16 (the top 16 bits of an IEEE binary32), little-endian, `cols` values
// per row, no header. Bits per weight: exactly 16. Encoding rounds to nearest even; finite inputs
// that would round to infinity saturate to +-max bf16 and non-finite inputs are stored as 0, so
// every encoder output passes validate_row, which rejects non-finite values. Bound: |err| <=
// max(2^-8 |x|, 2^-134) (half an ulp of an 8-bit significand; 2^-134 covers subnormals), or the
// distance to max bf16 beyond it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "src/base/fp16.h"
#include "src/formats/builtin_formats.h"

namespace tritium::formats_internal {
namespace {

constexpr uint16_t kBf16MaxBits = 0x7f7f;

Status CheckParams(int64_t cols, const FormatParams& p) { return CheckNoParams("BF16", cols, p); }

size_t RowBytes(int64_t cols, const FormatParams&) { return static_cast<size_t>(cols) * 2; }

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

void Dequantize(const uint8_t* src, float* dst, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) dst[i] = Bf16ToF32(Load16(src + 2 * i));
}

Status Validate(const uint8_t* src, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) {
    if ((Load16(src + 2 * i) & 0x7f80) == 0x7f80) {
      return DataLossError("BF16: non-finite weight at column " + std::to_string(i));
    }
  }
  return OkStatus();
}

void Quantize(const float* src, uint8_t* dst, int64_t cols, const FormatParams&) {
  for (int64_t i = 0; i < cols; ++i) {
    uint16_t h = 0;
    if (std::isfinite(src[i])) {
      h = F32ToBf16(src[i]);
      if ((h & 0x7fff) > kBf16MaxBits) h = static_cast<uint16_t>((h & 0x8000) | kBf16MaxBits);
    }
    dst[2 * i] = static_cast<uint8_t>(h);
    dst[2 * i + 1] = static_cast<uint8_t>(h >> 8);
  }
}

void ErrorBound(const float* src, const uint8_t*, float* bound, int64_t cols, const FormatParams&) {
  const float max_bf16 = Bf16ToF32(kBf16MaxBits);
  for (int64_t i = 0; i < cols; ++i) {
    float a = std::fabs(src[i]);
    bound[i] = std::max({a * 0x1p-8f, 0x1p-134f, a - max_bf16});
  }
}

}  // namespace

extern const Format kBF16Format = {FormatId::kBF16, "BF16",   CheckParams, RowBytes,
                                   Dequantize,      Validate, Quantize,    ErrorBound};

}  // namespace tritium::formats_internal
