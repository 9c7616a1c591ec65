// NEON (armv8.2-a + dotprod) twins of the integer-format kernels; quant_kernels.h gives the shared
// order of operations. sdot is s8 x s8, so codes 0/1/2 and nibbles 0..15 go in as they are; for
// trits the GEMV feeds sdot the negated code -(s > lo) - (s > hi) straight from the compares (one
// instruction less than taking abs) and negates the int32 sum once per group plane.
// Compiled only for AArch64 (file suffix); scripts/check_neon.sh cross-compiles it on x86.
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/cpu/quant_kernels.h"

namespace tritium {

namespace {

constexpr int64_t kTokenBlock = 128;

size_t GroupBytes(const QMatrix& w, int n) {
  return w.kind == QKind::kTrit ? TritGroupBytes(n, w.planes) : IntGGroupBytes(n, 4);
}
const uint8_t* BlockGroup(const QMatrix& w, int64_t b, int g) {
  return w.data + static_cast<size_t>(b) * kQRowBlock * w.row_bytes +
         static_cast<size_t>(g) * kQRowBlock * GroupBytes(w, w.group);
}

inline int32x4_t Reduce4(int32x4_t v0, int32x4_t v1, int32x4_t v2, int32x4_t v3) {
  return vpaddq_s32(vpaddq_s32(v0, v1), vpaddq_s32(v2, v3));
}

inline float32x4_t LoadHalf4(const uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}

inline int8x16_t NegCode(int8x16_t s, int8x16_t lo, int8x16_t hi) {
  return vaddq_s8(vreinterpretq_s8_u8(vcgtq_s8(s, lo)), vreinterpretq_s8_u8(vcgtq_s8(s, hi)));
}

inline int8x16_t Times3(int8x16_t s) { return vaddq_s8(vaddq_s8(s, s), s); }

void GemvNeon(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const int8x16_t lo = vdupq_n_s8(-43), hi = vdupq_n_s8(42);
  const uint8x16_t nib = vdupq_n_u8(15);
  for (int64_t b = b0; b < b1; ++b) {
    float32x4_t yv = vdupq_n_f32(0.0f);
    for (int g0 = 0; g0 < ng; g0 += gpb) {
      float32x4_t acc = vdupq_n_f32(0.0f);
      for (int g = g0; g < std::min(ng, g0 + gpb); ++g) {
        const int n = w.group_len(g);
        const uint8_t* bg = BlockGroup(w, b, g);
        const int8_t* act = a.lanes.data() + static_cast<size_t>(g) * a.lane_slot;
        const float32x4_t d = vdupq_n_f32(a.d[g]);
        if (w.kind == QKind::kTrit) {
          const int p = TritPlaneBytes(n), halves = (p + 15) / 16, kp = w.planes * p;
          const uint8_t* pay = bg + 8 * w.planes;
          for (int k = 0; k < w.planes; ++k) {
            int32x4_t s32[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
            for (int h = 0; h < halves; ++h) {
              // Half h of chunk h / 2: lanes 16 (h % 2) .. of each digit vector.
              const int8_t* ac = act + 160 * (h / 2) + 16 * (h % 2);
              int8x16_t s[4];
              for (int r = 0; r < 4; ++r) {
                s[r] = vreinterpretq_s8_u8(vld1q_u8(pay + r * kp + k * p + 16 * h));
              }
              for (int digit = 0; digit < 5; ++digit) {
                const int8x16_t q = vld1q_s8(ac + 32 * digit);
                for (int r = 0; r < 4; ++r) {
                  s32[r] = vdotq_s32(s32[r], NegCode(s[r], lo, hi), q);
                  if (digit < 4) s[r] = Times3(s[r]);
                }
              }
            }
            // sum(c q) = -sum(-c q); minus Q gives sum(t q).
            const int32x4_t sums = vsubq_s32(vnegq_s32(Reduce4(s32[0], s32[1], s32[2], s32[3])),
                                             vdupq_n_s32(a.sum[g]));
            acc = vfmaq_f32(acc, vcvtq_f32_s32(sums), vmulq_f32(LoadHalf4(bg + 8 * k), d));
          }
        } else {
          const int cb = static_cast<int>(IntGCodeBytes(n, 4)), halves = (cb + 15) / 16;
          const uint8_t* pay = bg + 16;
          int32x4_t s32[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
          for (int h = 0; h < halves; ++h) {
            const int8_t* ac = act + 64 * (h / 2) + 16 * (h % 2);
            const int8x16_t qe = vld1q_s8(ac), qo = vld1q_s8(ac + 32);
            for (int r = 0; r < 4; ++r) {
              const uint8x16_t v = vld1q_u8(pay + r * cb + 16 * h);
              s32[r] = vdotq_s32(s32[r], vreinterpretq_s8_u8(vandq_u8(v, nib)), qe);
              s32[r] = vdotq_s32(s32[r], vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), qo);
            }
          }
          const int32x4_t sums = Reduce4(s32[0], s32[1], s32[2], s32[3]);
          // Scales are [s0 m0 s1 m1 s2 m2 s3 m3].
          const uint16x4x2_t sm = vld2_u16(reinterpret_cast<const uint16_t*>(bg));
          const float32x4_t sc = vcvt_f32_f16(vreinterpret_f16_u16(sm.val[0]));
          const float32x4_t mn = vcvt_f32_f16(vreinterpret_f16_u16(sm.val[1]));
          acc = vfmaq_f32(acc, vcvtq_f32_s32(sums), vmulq_f32(sc, d));
          acc = vfmaq_f32(acc, vdupq_n_f32(static_cast<float>(a.sum[g])), vmulq_f32(mn, d));
        }
      }
      yv = vaddq_f32(yv, acc);
    }
    float out[4];
    vst1q_f32(out, yv);
    for (int r = 0; r < kQRowBlock && b * kQRowBlock + r < w.rows; ++r) {
      y[b * kQRowBlock + r] = out[r];
    }
  }
}

// 4 rows x 1 token over groups [g0, g1) of one column block; returns [r0..r3].
float32x4_t Tile4x1(const QMatrix& w, const QActs& a, int g0, int g1, const uint8_t* codes,
                    const float* scales, int64_t t) {
  const int ngb = g1 - g0, K = w.planes, G = w.group, ng = a.n_groups;
  const int8_t* x = a.nat.data() + static_cast<size_t>(t) * a.nat_stride;
  const size_t row_stride = static_cast<size_t>(ngb) * K * G;
  float32x4_t acc = vdupq_n_f32(0.0f);
  for (int g = g0; g < g1; ++g) {
    const int n = w.group_len(g), halves = (n + 15) / 16;
    const int8_t* q = x + static_cast<size_t>(g) * G;
    const float32x4_t d = vdupq_n_f32(a.d[t * ng + g]);
    const float* sc = scales + static_cast<size_t>(g - g0) * (w.kind == QKind::kTrit ? K : 2) * 4;
    for (int k = 0; k < K; ++k) {
      const uint8_t* c0 = codes + (static_cast<size_t>(g - g0) * K + k) * G;
      int32x4_t s[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
      for (int h = 0; h < halves; ++h) {
        const int8x16_t qv = vld1q_s8(q + 16 * h);
        for (int r = 0; r < 4; ++r) {
          s[r] = vdotq_s32(s[r], vreinterpretq_s8_u8(vld1q_u8(c0 + r * row_stride + 16 * h)), qv);
        }
      }
      int32x4_t sums = Reduce4(s[0], s[1], s[2], s[3]);
      const float32x4_t sk = vld1q_f32(sc + 4 * k);
      if (w.kind == QKind::kTrit) {
        sums = vsubq_s32(sums, vdupq_n_s32(a.sum[t * ng + g]));
        acc = vfmaq_f32(acc, vcvtq_f32_s32(sums), vmulq_f32(sk, d));
      } else {
        acc = vfmaq_f32(acc, vcvtq_f32_s32(sums), vmulq_f32(sk, d));
        acc = vfmaq_f32(acc, vdupq_n_f32(static_cast<float>(a.sum[t * ng + g])),
                        vmulq_f32(vld1q_f32(sc + 4), d));
      }
    }
  }
  return acc;
}

void GemmNeon(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
              int64_t y_stride, std::vector<uint8_t>* scratch) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const size_t code_bytes = QDecodeBytes(w);
  const size_t scale_floats = static_cast<size_t>(gpb) * std::max(w.planes, 2) * kQRowBlock;
  scratch->resize(code_bytes + scale_floats * sizeof(float) + 64);
  uint8_t* codes = scratch->data();
  float* scales = reinterpret_cast<float*>(
      (reinterpret_cast<uintptr_t>(codes + code_bytes) + 63) & ~uintptr_t{63});
  for (int64_t tb = 0; tb < a.n_tokens; tb += kTokenBlock) {
    const int64_t te = std::min(a.n_tokens, tb + kTokenBlock);
    for (int g0 = 0; g0 < ng; g0 += gpb) {
      const int g1 = std::min(ng, g0 + gpb);
      for (int64_t b = b0; b < b1; ++b) {
        QDecodeBlock(w, b, g0, g1, codes, scales);
        const int nr = static_cast<int>(std::min<int64_t>(kQRowBlock, w.rows - b * kQRowBlock));
        for (int64_t t = tb; t < te; ++t) {
          float out[4];
          vst1q_f32(out, Tile4x1(w, a, g0, g1, codes, scales, t));
          float* yr = y + t * y_stride + b * kQRowBlock;
          for (int r = 0; r < nr; ++r) yr[r] = (g0 == 0 ? 0.0f : yr[r]) + out[r];
        }
      }
    }
  }
}

}  // namespace

const QKernels kQKernelsNeon = {GemvNeon, GemmNeon, "neon_dotprod"};

}  // namespace tritium
