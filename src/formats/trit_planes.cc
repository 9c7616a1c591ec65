// TRIT_PLANES: see trit_planes.h for the byte layout and bits per weight. There is no canonical
// encoder (quantize_row is nullptr): the trits and scales come from a Method (src/quant/ptqtp.cc).
#include "src/formats/trit_planes.h"

#include <algorithm>
#include <string>

#include "src/base/fp16.h"
#include "src/formats/builtin_formats.h"

namespace tritium {
namespace {

struct DecodeTable {
  int8_t t[kTritValidBytes][kTritsPerByte];
  constexpr DecodeTable() : t() {
    for (int b = 0; b < kTritValidBytes; ++b) {
      int v = b;
      for (int i = 0; i < kTritsPerByte; ++i) {
        t[b][i] = static_cast<int8_t>(v % 3 - 1);
        v /= 3;
      }
    }
  }
};
constexpr DecodeTable kDecode;

constexpr int kPow3[6] = {1, 3, 9, 27, 81, 243};

}  // namespace

const int8_t (&TritDecodeTable())[kTritValidBytes][kTritsPerByte] { return kDecode.t; }

void PackTritGroup(const int8_t* trits, int n, uint8_t* out) {
  for (int b = 0; b < TritPlaneBytes(n); ++b) {
    int v = 0;
    for (int i = kTritsPerByte - 1; i >= 0; --i) {
      int j = b * kTritsPerByte + i;
      v = v * 3 + (j < n ? trits[j] + 1 : 1);
    }
    out[b] = static_cast<uint8_t>(v);
  }
}

void UnpackTritGroup(const uint8_t* in, int n, int8_t* trits) {
  for (int j = 0; j < n; ++j) {
    uint8_t b = in[j / kTritsPerByte];
    trits[j] = b < kTritValidBytes ? kDecode.t[b][j % kTritsPerByte] : 0;
  }
}

bool TritGroupValid(const uint8_t* in, int n) {
  const int nb = TritPlaneBytes(n);
  for (int b = 0; b < nb; ++b) {
    if (in[b] >= kTritValidBytes) return false;
  }
  const int used = n - (nb - 1) * kTritsPerByte;  // digits used in the last byte, 1..5
  // The padding digits (all 1) read as a base-3 number of 5 - used ones: (3^(5-used) - 1) / 2.
  return nb == 0 || in[nb - 1] / kPow3[used] == (kPow3[kTritsPerByte - used] - 1) / 2;
}

namespace formats_internal {
namespace {

constexpr int kGroups[] = {32, 64, 128, 256};

Status CheckParams(int64_t cols, const FormatParams& p) {
  if (cols < 1) return InvalidArgumentError("TRIT_PLANES: cols must be >= 1");
  if (p.planes < 1 || p.planes > kTritMaxPlanes) {
    return InvalidArgumentError("TRIT_PLANES: planes must be in 1..4, got " +
                                std::to_string(p.planes));
  }
  bool group_ok = false;
  for (int g : kGroups) group_ok |= p.group == g;
  if (!group_ok) {
    return InvalidArgumentError("TRIT_PLANES: group must be 32, 64, 128 or 256, got " +
                                std::to_string(p.group));
  }
  if (p.bits != 0) return InvalidArgumentError("TRIT_PLANES: takes no bits parameter");
  return OkStatus();
}

size_t RowBytes(int64_t cols, const FormatParams& p) {
  return TritRowBytes(cols, p.group, p.planes);
}

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

void Dequantize(const uint8_t* src, float* dst, int64_t cols, const FormatParams& p) {
  const int K = p.planes;
  for (int64_t c0 = 0; c0 < cols; c0 += p.group) {
    const int n = static_cast<int>(std::min<int64_t>(p.group, cols - c0));
    float a[kTritMaxPlanes];
    for (int k = 0; k < K; ++k) a[k] = F16ToF32(Load16(src + TritScaleOffset(k)));
    for (int j = 0; j < n; ++j) dst[c0 + j] = 0.0f;
    for (int k = 0; k < K; ++k) {
      const uint8_t* plane = src + TritPlaneOffset(n, K, k);
      for (int j = 0; j < n; ++j) {
        uint8_t b = plane[j / kTritsPerByte];
        int t = b < kTritValidBytes ? kDecode.t[b][j % kTritsPerByte] : 0;
        dst[c0 + j] += a[k] * static_cast<float>(t);
      }
    }
    src += TritGroupBytes(n, K);
  }
}

Status Validate(const uint8_t* src, int64_t cols, const FormatParams& p) {
  const int K = p.planes;
  for (int64_t c0 = 0; c0 < cols; c0 += p.group) {
    const int n = static_cast<int>(std::min<int64_t>(p.group, cols - c0));
    for (int k = 0; k < K; ++k) {
      if ((Load16(src + TritScaleOffset(k)) & 0x7c00) == 0x7c00) {
        return DataLossError("TRIT_PLANES: non-finite scale of plane " + std::to_string(k) +
                             " in the group at column " + std::to_string(c0));
      }
      if (!TritGroupValid(src + TritPlaneOffset(n, K, k), n)) {
        return DataLossError("TRIT_PLANES: invalid trit byte or padding in plane " +
                             std::to_string(k) + " of the group at column " + std::to_string(c0));
      }
    }
    src += TritGroupBytes(n, K);
  }
  return OkStatus();
}

}  // namespace

extern const Format kTritPlanesFormat = {FormatId::kTritPlanes,
                                         "TRIT_PLANES",
                                         CheckParams,
                                         RowBytes,
                                         Dequantize,
                                         Validate,
                                         nullptr,
                                         nullptr};

}  // namespace formats_internal
}  // namespace tritium
