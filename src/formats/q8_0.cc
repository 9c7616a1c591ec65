// Q8_0 (ggml id 8): byte-identical to ggml's q8_0, so llama.cpp reads these tensors.
//
// Layout: cols must be a multiple of 32. Per block of 32 weights, 34 bytes:
//   [d: fp16, little-endian][q[0..31]: int8]          x[i] ~ d * q[i]
// Bits per weight: 34 * 8 / 32 = 8.5.
//
// Encoder (as ggml's reference quantizer): amax = max |x| over the block, d = amax / 127 in float,
// q = roundf(x * (1/d)) (half away from zero; q = 0 when d = 0), and the stored scale is fp16(d)
// (round to nearest even). tritium's additions: non-finite inputs count as 0 (ggml leaves them
// undefined) and a scale beyond the fp16 range saturates to 65504, so every output validates.
// Bound per element: |err| <= (0.5 + 2^-16) d + 127 |d - fp16(d)| + 2^-22 |x| (half a step, a
// last-bit slip of x * (1/d), the scale's rounding times the largest code, the decoder's product).
#include <algorithm>
#include <cmath>
#include <string>

#include "src/base/fp16.h"
#include "src/formats/builtin_formats.h"

namespace tritium::formats_internal {
namespace {

constexpr int kBlock = 32;
constexpr size_t kBlockBytes = 2 + kBlock;

Status CheckParams(int64_t cols, const FormatParams& p) {
  TRITIUM_RETURN_IF_ERROR(CheckNoParams("Q8_0", cols, p));
  if (cols % kBlock != 0) {
    return InvalidArgumentError("Q8_0: cols (" + std::to_string(cols) +
                                ") must be a multiple of 32");
  }
  return OkStatus();
}

size_t RowBytes(int64_t cols, const FormatParams&) {
  return static_cast<size_t>(cols / kBlock) * kBlockBytes;
}

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

void Dequantize(const uint8_t* src, float* dst, int64_t cols, const FormatParams&) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const uint8_t* blk = src + b * kBlockBytes;
    float d = F16ToF32(Load16(blk));
    for (int j = 0; j < kBlock; ++j) {
      dst[b * kBlock + j] = d * static_cast<float>(static_cast<int8_t>(blk[2 + j]));
    }
  }
}

Status Validate(const uint8_t* src, int64_t cols, const FormatParams&) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    if ((Load16(src + b * kBlockBytes) & 0x7c00) == 0x7c00) {
      return DataLossError("Q8_0: non-finite scale in block " + std::to_string(b));
    }
  }
  return OkStatus();
}

float BlockScale(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    if (std::isfinite(x[j])) amax = std::max(amax, std::fabs(x[j]));
  }
  return amax / 127.0f;
}

void Quantize(const float* src, uint8_t* dst, int64_t cols, const FormatParams&) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* x = src + b * kBlock;
    uint8_t* blk = dst + b * kBlockBytes;
    const float d = BlockScale(x);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t h = F32ToF16(std::min(d, 65504.0f));
    blk[0] = static_cast<uint8_t>(h);
    blk[1] = static_cast<uint8_t>(h >> 8);
    for (int j = 0; j < kBlock; ++j) {
      float v = std::isfinite(x[j]) ? x[j] * id : 0.0f;
      blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(v)));
    }
  }
}

void ErrorBound(const float* src, const uint8_t*, float* bound, int64_t cols, const FormatParams&) {
  for (int64_t b = 0; b < cols / kBlock; ++b) {
    const float* x = src + b * kBlock;
    const float d = BlockScale(x);
    const float dh = RoundToF16(std::min(d, 65504.0f));
    const float base = (0.5f + 0x1p-16f) * d + 127.0f * std::fabs(d - dh);
    for (int j = 0; j < kBlock; ++j) bound[b * kBlock + j] = base + 0x1p-22f * std::fabs(x[j]);
  }
}

}  // namespace

extern const Format kQ8_0Format = {FormatId::kQ8_0, "Q8_0",   CheckParams, RowBytes,
                                   Dequantize,      Validate, Quantize,    ErrorBound};

}  // namespace tritium::formats_internal
