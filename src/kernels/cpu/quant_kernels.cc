// Scalar twins of the integer-format kernels, plus what every target shares: the fixed-point trit
// bytes, activation quantization and the GEMM weight decoder.
#include "src/kernels/cpu/quant_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "src/base/fp16.h"
#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/cpu/cpu_features.h"

namespace tritium {

namespace {

struct FixedPointTables {
  uint8_t to_fixed[256];   // on-disk base-3 byte -> fixed-point byte (bytes >= 243 map to trit 0s)
  uint64_t codes[256];     // fixed-point byte -> 5 codes in the low 5 bytes
  FixedPointTables() {
    for (int b = 0; b < 256; ++b) {
      int v = b < kTritValidBytes ? b : 121;  // 121 = all digits 1 = five zero trits
      int digits[5];
      for (int i = 0; i < 5; ++i) {
        digits[i] = v % 3;
        v /= 3;
      }
      const int value = 81 * digits[0] + 27 * digits[1] + 9 * digits[2] + 3 * digits[3] + digits[4];
      const int m = (value * 256 + 242) / 243;  // ceil(value * 256 / 243)
      to_fixed[b] = static_cast<uint8_t>(m ^ 0x80);
    }
    for (int fp = 0; fp < 256; ++fp) {
      uint8_t c[5];
      TritFixedPointCodes(static_cast<uint8_t>(fp), c);
      uint64_t packed = 0;
      for (int i = 0; i < 5; ++i) packed |= static_cast<uint64_t>(c[i]) << (8 * i);
      codes[fp] = packed;
    }
  }
};

const FixedPointTables& Tables() {
  static const FixedPointTables t;
  return t;
}

size_t GroupBytes(const QMatrix& w, int n) {
  return w.kind == QKind::kTrit ? TritGroupBytes(n, w.planes) : IntGGroupBytes(n, 4);
}

// Start of block b, group g.
const uint8_t* BlockGroup(const QMatrix& w, int64_t b, int g) {
  return w.data + static_cast<size_t>(b) * kQRowBlock * w.row_bytes +
         static_cast<size_t>(g) * kQRowBlock * GroupBytes(w, w.group);
}

int32_t QuantizeValue(float v) {
  // Round half away from zero: one fixed rule every target reproduces.
  int32_t q = static_cast<int32_t>(v + (v >= 0.0f ? 0.5f : -0.5f));
  return std::clamp(q, -127, 127);
}

// One row of one token, the order of operations every target follows (see the header).
float ScalarRowToken(const QMatrix& w, const QActs& a, int64_t b, int r, int64_t t,
                     std::vector<uint8_t>* tmp) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const int8_t* qn = a.nat.data() + static_cast<size_t>(t) * a.nat_stride;
  const float* d = a.d.data() + static_cast<size_t>(t) * ng;
  const int32_t* qs = a.sum.data() + static_cast<size_t>(t) * ng;
  tmp->resize(static_cast<size_t>(w.group) + 8);
  uint8_t* codes = tmp->data();
  float y = 0.0f;
  for (int g0 = 0; g0 < ng; g0 += gpb) {
    float acc = 0.0f;
    for (int g = g0; g < std::min(ng, g0 + gpb); ++g) {
      const int n = w.group_len(g);
      const uint8_t* bg = BlockGroup(w, b, g);
      const int8_t* q = qn + static_cast<size_t>(g) * w.group;
      if (w.kind == QKind::kTrit) {
        const int p = TritPlaneBytes(n);
        const uint8_t* payload = bg + 8 * w.planes + static_cast<size_t>(r) * w.planes * p;
        for (int k = 0; k < w.planes; ++k) {
          for (int i = 0; i < p; ++i) TritFixedPointCodes(payload[k * p + i], codes + 5 * i);
          int32_t s = -qs[g];
          for (int j = 0; j < n; ++j) s += codes[j] * q[j];
          uint16_t h;
          std::memcpy(&h, bg + 2 * (k * kQRowBlock + r), 2);
          acc = std::fma(static_cast<float>(s), F16ToF32(h) * d[g], acc);
        }
      } else {
        const uint8_t* payload = bg + 16 + static_cast<size_t>(r) * IntGCodeBytes(n, 4);
        int32_t s = 0;
        for (int j = 0; j < n; ++j) s += IntGGetCode(payload, j, 4) * q[j];
        uint16_t hs, hm;
        std::memcpy(&hs, bg + 4 * r, 2);
        std::memcpy(&hm, bg + 4 * r + 2, 2);
        acc = std::fma(static_cast<float>(s), F16ToF32(hs) * d[g], acc);
        acc = std::fma(static_cast<float>(qs[g]), F16ToF32(hm) * d[g], acc);
      }
    }
    y += acc;
  }
  return y;
}

void GemvScalar(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  std::vector<uint8_t> tmp;
  for (int64_t b = b0; b < b1; ++b) {
    for (int r = 0; r < kQRowBlock && b * kQRowBlock + r < w.rows; ++r) {
      y[b * kQRowBlock + r] = ScalarRowToken(w, a, b, r, 0, &tmp);
    }
  }
}

void GemmScalar(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
                int64_t y_stride, std::vector<uint8_t>* scratch) {
  for (int64_t b = b0; b < b1; ++b) {
    for (int r = 0; r < kQRowBlock && b * kQRowBlock + r < w.rows; ++r) {
      for (int64_t t = 0; t < a.n_tokens; ++t) {
        y[t * y_stride + b * kQRowBlock + r] = ScalarRowToken(w, a, b, r, t, scratch);
      }
    }
  }
}

}  // namespace

uint8_t TritFixedPointByte(uint8_t base3) { return Tables().to_fixed[base3]; }

void TritFixedPointCodes(uint8_t fp, uint8_t codes[5]) {
  int s = static_cast<int8_t>(fp);  // m - 128
  for (int i = 0; i < 5; ++i) {
    codes[i] = static_cast<uint8_t>((s > -43) + (s > 42));
    s = static_cast<int8_t>(static_cast<uint8_t>(3 * s));  // 3 m mod 256, kept as m - 128
  }
}

size_t QLaneSlot(const QMatrix& w) {
  if (w.kind == QKind::kTrit) return static_cast<size_t>((TritPlaneBytes(w.group) + 31) / 32) * 160;
  return static_cast<size_t>((w.group + 63) / 64) * 64;
}

void QActsResize(const QMatrix& w, int64_t n_tokens, bool lanes, QActs* a) {
  a->n_tokens = n_tokens;
  a->n_groups = w.n_groups();
  a->nat_stride = static_cast<size_t>(a->n_groups) * w.group;
  a->lane_slot = QLaneSlot(w);
  a->lane_stride = lanes ? static_cast<size_t>(a->n_groups) * a->lane_slot : 0;
  // Slots past a group's end must read as zero: assign, not resize, so no stale values remain.
  a->nat.assign(a->nat_stride * n_tokens + kQOverread, 0);
  a->lanes.assign(a->lane_stride * n_tokens + kQOverread, 0);
  a->d.assign(static_cast<size_t>(a->n_groups) * n_tokens, 0.0f);
  a->sum.assign(a->d.size(), 0);
}

void QuantizeActs(const QMatrix& w, const float* x, int64_t t0, int64_t t1, bool lanes, QActs* a) {
  const int ng = a->n_groups;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * w.cols;
    int8_t* qn = a->nat.data() + static_cast<size_t>(t) * a->nat_stride;
    for (int g = 0; g < ng; ++g) {
      const int n = w.group_len(g);
      const float* xg = xt + static_cast<int64_t>(g) * w.group;
      float amax = 0.0f;
      for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(xg[j]));
      const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
      int8_t* q = qn + static_cast<size_t>(g) * w.group;
      int32_t sum = 0;
      for (int j = 0; j < n; ++j) {
        q[j] = static_cast<int8_t>(QuantizeValue(xg[j] * id));
        sum += q[j];
      }
      a->d[t * ng + g] = amax / 127.0f;
      a->sum[t * ng + g] = sum;
      if (!lanes) continue;
      int8_t* l = a->lanes.data() + static_cast<size_t>(t) * a->lane_stride +
                  static_cast<size_t>(g) * a->lane_slot;
      if (w.kind == QKind::kTrit) {
        // Element j = 5 (32 c + i) + digit sits in chunk c, vector digit, lane i.
        for (int j = 0; j < n; ++j) {
          const int byte = j / 5, digit = j % 5;
          l[(byte / 32) * 160 + digit * 32 + byte % 32] = q[j];
        }
      } else {
        for (int j = 0; j < n; ++j) l[(j / 64) * 64 + (j % 2) * 32 + (j % 64) / 2] = q[j];
      }
    }
  }
}

size_t QDecodeBytes(const QMatrix& w) {
  return static_cast<size_t>(kQRowBlock) * w.groups_per_col_block() * w.planes * w.group + 8;
}

void QDecodeBlock(const QMatrix& w, int64_t b, int g0, int g1, uint8_t* codes, float* scales) {
  const FixedPointTables& tab = Tables();
  const int ng = g1 - g0;
  for (int g = g0; g < g1; ++g) {
    const int n = w.group_len(g);
    const uint8_t* bg = BlockGroup(w, b, g);
    float* sc = scales + static_cast<size_t>(g - g0) * (w.kind == QKind::kTrit ? w.planes : 2) *
                             kQRowBlock;
    if (w.kind == QKind::kTrit) {
      const int p = TritPlaneBytes(n);
      for (int i = 0; i < w.planes * kQRowBlock; ++i) {
        uint16_t h;
        std::memcpy(&h, bg + 2 * i, 2);
        sc[i] = F16ToF32(h);
      }
      for (int r = 0; r < kQRowBlock; ++r) {
        for (int k = 0; k < w.planes; ++k) {
          const uint8_t* src = bg + 8 * w.planes + static_cast<size_t>(r * w.planes + k) * p;
          uint8_t* dst =
              codes + (static_cast<size_t>(r * ng + (g - g0)) * w.planes + k) * w.group;
          // Overlapping 8-byte stores (byte i's 5 codes land at 5 i) while they stay inside the
          // slot; the last bytes copy only their codes that belong to the group.
          int i = 0;
          for (; i < p && 5 * i + 8 <= w.group; ++i) {
            std::memcpy(dst + 5 * i, &tab.codes[src[i]], 8);
          }
          for (; i < p; ++i) {
            std::memcpy(dst + 5 * i, &tab.codes[src[i]], std::min(5, n - 5 * i));
          }
        }
      }
    } else {
      for (int r = 0; r < kQRowBlock; ++r) {
        uint16_t hs, hm;
        std::memcpy(&hs, bg + 4 * r, 2);
        std::memcpy(&hm, bg + 4 * r + 2, 2);
        sc[r] = F16ToF32(hs);
        sc[kQRowBlock + r] = F16ToF32(hm);
        const uint8_t* src = bg + 16 + static_cast<size_t>(r) * IntGCodeBytes(n, 4);
        uint8_t* dst = codes + static_cast<size_t>(r * ng + (g - g0)) * w.group;
        for (int i = 0; i < (n + 1) / 2; ++i) {
          dst[2 * i] = src[i] & 15;
          dst[2 * i + 1] = src[i] >> 4;
        }
      }
    }
  }
}

const QKernels kQKernelsScalar = {GemvScalar, GemmScalar, "scalar"};

const QKernels& BestQKernels() {
  const CpuFeatures& f = GetCpuFeatures();
#if defined(__x86_64__)
  if (f.avx512_vnni) return kQKernelsAvx512;
  if (f.avx2_fma) return kQKernelsAvx2;
#elif defined(__aarch64__)
  if (f.neon_dotprod) return kQKernelsNeon;
#endif
  (void)f;
  return kQKernelsScalar;
}

}  // namespace tritium
