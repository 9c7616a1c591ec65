// INT_G: see int_g.h for the byte layout, bits per weight and the encoder's error bound.
#include "src/formats/int_g.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "src/base/fp16.h"
#include "src/formats/builtin_formats.h"

namespace tritium::formats_internal {
namespace {

constexpr int kGroups[] = {32, 64, 128, 256};
constexpr int kBits[] = {2, 3, 4, 8};
constexpr uint16_t kF16MaxBits = 0x7bff;  // 65504

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
void Store16(uint16_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// fp16 bits of the largest half <= x (saturating at -65504), for finite x.
uint16_t F16RoundDown(float x) {
  if (x <= -65504.0f) return 0x8000 | kF16MaxBits;
  uint16_t h = F32ToF16(x);
  if (F16ToF32(h) > x) {
    if (h == 0x0000 || h == 0x8000) return 0x8001;  // just below zero
    h = (h & 0x8000) ? h + 1 : h - 1;               // more negative / less positive
  }
  return h;
}

// fp16 bits of the smallest half >= x (saturating at 65504), for finite x >= 0.
uint16_t F16RoundUp(float x) {
  if (x >= 65504.0f) return kF16MaxBits;
  uint16_t h = F32ToF16(x);
  if (F16ToF32(h) < x) ++h;
  return h;
}

Status CheckParams(int64_t cols, const FormatParams& p) {
  if (cols < 1) return InvalidArgumentError("INT_G: cols must be >= 1");
  bool group_ok = false, bits_ok = false;
  for (int g : kGroups) group_ok |= p.group == g;
  for (int b : kBits) bits_ok |= p.bits == b;
  if (!group_ok) {
    return InvalidArgumentError("INT_G: group must be 32, 64, 128 or 256, got " +
                                std::to_string(p.group));
  }
  if (!bits_ok) {
    return InvalidArgumentError("INT_G: bits must be 2, 3, 4 or 8, got " + std::to_string(p.bits));
  }
  if (p.planes != 0) return InvalidArgumentError("INT_G: takes no planes parameter");
  return OkStatus();
}

size_t RowBytes(int64_t cols, const FormatParams& p) { return IntGRowBytes(cols, p.group, p.bits); }

void Dequantize(const uint8_t* src, float* dst, int64_t cols, const FormatParams& p) {
  for (int64_t c0 = 0; c0 < cols; c0 += p.group) {
    const int n = static_cast<int>(std::min<int64_t>(p.group, cols - c0));
    const float s = F16ToF32(Load16(src));
    const float m = F16ToF32(Load16(src + 2));
    const uint8_t* codes = src + kIntGHeaderBytes;
    for (int i = 0; i < n; ++i) {
      dst[c0 + i] = m + s * static_cast<float>(IntGGetCode(codes, i, p.bits));
    }
    src += IntGGroupBytes(n, p.bits);
  }
}

Status Validate(const uint8_t* src, int64_t cols, const FormatParams& p) {
  for (int64_t c0 = 0; c0 < cols; c0 += p.group) {
    const int n = static_cast<int>(std::min<int64_t>(p.group, cols - c0));
    if ((Load16(src) & 0x7c00) == 0x7c00 || (Load16(src + 2) & 0x7c00) == 0x7c00) {
      return DataLossError("INT_G: non-finite scale or minimum in the group at column " +
                           std::to_string(c0));
    }
    const int used_bits = (n * p.bits) % 8;
    if (used_bits != 0) {
      const uint8_t last = src[kIntGHeaderBytes + IntGCodeBytes(n, p.bits) - 1];
      if ((last >> used_bits) != 0) {
        return DataLossError("INT_G: non-zero padding bits in the group at column " +
                             std::to_string(c0));
      }
    }
    src += IntGGroupBytes(n, p.bits);
  }
  return OkStatus();
}

void Quantize(const float* src, uint8_t* dst, int64_t cols, const FormatParams& p) {
  const int levels = (1 << p.bits) - 1;
  for (int64_t c0 = 0; c0 < cols; c0 += p.group) {
    const int n = static_cast<int>(std::min<int64_t>(p.group, cols - c0));
    const float* x = src + c0;
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; ++i) {
      if (!std::isfinite(x[i])) continue;
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    if (lo > hi) lo = hi = 0.0f;  // no finite input
    const uint16_t mh = F16RoundDown(lo);
    const float m = F16ToF32(mh);
    const double exact_step = (static_cast<double>(hi) - m) / levels;
    float step = static_cast<float>(exact_step);
    if (step < exact_step) step = std::nextafter(step, INFINITY);
    const uint16_t sh = F16RoundUp(step);
    const float s = F16ToF32(sh);
    Store16(sh, dst);
    Store16(mh, dst + 2);
    uint8_t* codes = dst + kIntGHeaderBytes;
    std::memset(codes, 0, IntGCodeBytes(n, p.bits));
    for (int i = 0; i < n; ++i) {
      const double v = std::isfinite(x[i]) ? x[i] : 0.0;
      long q = s > 0 ? std::lround((v - m) / s) : 0;
      q = std::clamp<long>(q, 0, levels);
      const size_t bit = static_cast<size_t>(i) * p.bits;
      codes[bit / 8] |= static_cast<uint8_t>(q << (bit % 8));
      if (bit % 8 + p.bits > 8) codes[bit / 8 + 1] |= static_cast<uint8_t>(q >> (8 - bit % 8));
    }
    dst += IntGGroupBytes(n, p.bits);
  }
}

void ErrorBound(const float*, const uint8_t* dst, float* bound, int64_t cols,
                const FormatParams& p) {
  const int levels = (1 << p.bits) - 1;
  for (int64_t c0 = 0; c0 < cols; c0 += p.group) {
    const int n = static_cast<int>(std::min<int64_t>(p.group, cols - c0));
    const float s = F16ToF32(Load16(dst));
    const float m = F16ToF32(Load16(dst + 2));
    const float b = 0.5f * s + 0x1p-21f * (std::fabs(m) + levels * s);
    for (int i = 0; i < n; ++i) bound[c0 + i] = b;
    dst += IntGGroupBytes(n, p.bits);
  }
}

}  // namespace

extern const Format kIntGFormat = {FormatId::kIntG, "INT_G",  CheckParams, RowBytes,
                                   Dequantize,      Validate, Quantize,    ErrorBound};

}  // namespace tritium::formats_internal
