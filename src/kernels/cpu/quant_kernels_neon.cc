// NEON (armv8.2-a + dotprod) twins of the integer-format kernels on the repacked layout of
// quant_kernels.h. A 32-byte chunk is two 16-byte halves (rows 0-3, rows 4-7); sdot by lane
// (vdotq_laneq_s32) multiplies each row's 4 codes with one 4-byte activation quadruple picked from
// a register, so lane r of each int32x4 accumulates row r. sdot is s8 x s8: codes 0/1/2 and
// nibbles 0..15 go in as they are, and the sums are int32 from the start (no int16 stage).
// GEMM tiles: up to 8 tokens x 8 rows; a 16-byte load of the interleaved tile activations holds
// the quadruples of 4 consecutive tokens, one per lane.
// Compiled only for AArch64 (file suffix); scripts/check_neon.sh cross-compiles it on x86.
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "src/kernels/cpu/quant_kernels.h"

namespace tritium {

namespace {

inline float32x4_t LoadHalf4(const uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}
inline int8x16_t Codes2(uint8x16_t v, int s) {
  const uint8x16_t m3 = vdupq_n_u8(3);
  switch (s) {
    case 0: return vreinterpretq_s8_u8(vandq_u8(v, m3));
    case 1: return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), m3));
    case 2: return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), m3));
    default: return vreinterpretq_s8_u8(vshrq_n_u8(v, 6));
  }
}
// acc += codes . (quadruple `lane` of q), lane a compile-time constant.
#define TRITIUM_SDOT_LANE(acc, c, q, lane)       \
  switch (lane) {                                \
    case 0: acc = vdotq_laneq_s32(acc, c, q, 0); break; \
    case 1: acc = vdotq_laneq_s32(acc, c, q, 1); break; \
    case 2: acc = vdotq_laneq_s32(acc, c, q, 2); break; \
    default: acc = vdotq_laneq_s32(acc, c, q, 3); break; \
  }

void StoreRows(float32x4_t lo, float32x4_t hi, int64_t row0, int64_t rows, float* y) {
  float out[kQRowBlock];
  vst1q_f32(out, lo);
  vst1q_f32(out + 4, hi);
  for (int r = 0; r < kQRowBlock && row0 + r < rows; ++r) y[row0 + r] = out[r];
}

void GemvNeon(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  if (w.kind == QKind::kTritB3) return QTritB3Expand(kQKernelsNeon, w, a, b0, b1, y, 0, true);
  const int ng = w.n_groups(), gpb = w.groups_per_col_block(), G = w.group, K = w.planes;
  const size_t pb = w.plane_bytes();
  const bool trit = w.kind == QKind::kTrit;
  for (int64_t b = b0; b < b1; ++b) {
    float32x4_t ylo = vdupq_n_f32(0.0f), yhi = ylo;
    for (int g0 = 0; g0 < ng; g0 += gpb) {
      float32x4_t alo = vdupq_n_f32(0.0f), ahi = alo;
      for (int g = g0; g < std::min(ng, g0 + gpb); ++g) {
        const uint8_t* bg = w.block_group(b, g);
        const int8_t* q = a.nat.data() + static_cast<size_t>(g) * G;
        const float32x4_t d = vdupq_n_f32(a.d[g]);
        if (trit) {
          const uint8_t* codes = bg + 16 * K;
          for (int k = 0; k < K; ++k) {
            int32x4_t slo = vdupq_n_s32(0), shi = slo;
            for (int j = 0; j < G / 16; ++j) {
              const int8x16_t qv = vld1q_s8(q + 16 * j);
              const uint8x16_t vlo = vld1q_u8(codes + k * pb + 32 * j);
              const uint8x16_t vhi = vld1q_u8(codes + k * pb + 32 * j + 16);
              for (int s = 0; s < 4; ++s) {
                const int8x16_t clo = Codes2(vlo, s), chi = Codes2(vhi, s);
                TRITIUM_SDOT_LANE(slo, clo, qv, s);
                TRITIUM_SDOT_LANE(shi, chi, qv, s);
              }
            }
            const int32x4_t qs = vdupq_n_s32(a.sum[g]);
            alo = vfmaq_f32(alo, vcvtq_f32_s32(vsubq_s32(slo, qs)),
                            vmulq_f32(LoadHalf4(bg + 16 * k), d));
            ahi = vfmaq_f32(ahi, vcvtq_f32_s32(vsubq_s32(shi, qs)),
                            vmulq_f32(LoadHalf4(bg + 16 * k + 8), d));
          }
        } else {
          const uint8_t* codes = bg + 32;
          const uint8x16_t m15 = vdupq_n_u8(15);
          const int32x4_t off = vdupq_n_s32(w.offset * a.sum[g]);
          int32x4_t slo = off, shi = off;
          if (w.kind == QKind::kIntG4) {
            for (int j = 0; j < G / 8; ++j) {
              const int8x16_t qv = vcombine_s8(vld1_s8(q + 8 * j), vdup_n_s8(0));
              const uint8x16_t vlo = vld1q_u8(codes + 32 * j);
              const uint8x16_t vhi = vld1q_u8(codes + 32 * j + 16);
              slo = vdotq_laneq_s32(slo, vreinterpretq_s8_u8(vandq_u8(vlo, m15)), qv, 0);
              shi = vdotq_laneq_s32(shi, vreinterpretq_s8_u8(vandq_u8(vhi, m15)), qv, 0);
              slo = vdotq_laneq_s32(slo, vreinterpretq_s8_u8(vshrq_n_u8(vlo, 4)), qv, 1);
              shi = vdotq_laneq_s32(shi, vreinterpretq_s8_u8(vshrq_n_u8(vhi, 4)), qv, 1);
            }
          } else {  // kInt8: signed values, s8 x s8 as they are
            for (int j = 0; j < G / 16; ++j) {
              const int8x16_t qv = vld1q_s8(q + 16 * j);
              for (int l = 0; l < 4; ++l) {
                const int8x16_t vlo = vld1q_s8(reinterpret_cast<const int8_t*>(codes) + 32 * (4 * j + l));
                const int8x16_t vhi = vld1q_s8(reinterpret_cast<const int8_t*>(codes) + 32 * (4 * j + l) + 16);
                TRITIUM_SDOT_LANE(slo, vlo, qv, l);
                TRITIUM_SDOT_LANE(shi, vhi, qv, l);
              }
            }
          }
          const float32x4_t qsum = vdupq_n_f32(static_cast<float>(a.sum[g]));
          alo = vfmaq_f32(alo, vcvtq_f32_s32(slo), vmulq_f32(LoadHalf4(bg), d));
          ahi = vfmaq_f32(ahi, vcvtq_f32_s32(shi), vmulq_f32(LoadHalf4(bg + 8), d));
          alo = vfmaq_f32(alo, qsum, vmulq_f32(LoadHalf4(bg + 16), d));
          ahi = vfmaq_f32(ahi, qsum, vmulq_f32(LoadHalf4(bg + 24), d));
        }
      }
      ylo = vaddq_f32(ylo, alo);
      yhi = vaddq_f32(yhi, ahi);
    }
    StoreRows(ylo, yhi, b * kQRowBlock, w.rows, y);
  }
}

// T (<= 8) tokens x 8 rows of block b over groups [g0, g1), accumulating into fa[t][8]; otherwise
// the rest as QTileFn (quant_kernels.h).
template <int T>
void TileNeon(const QMatrix& w, const QActs& a, int64_t b, int g0, int g1, const int8_t* tq,
              size_t qstride, int64_t t0, float* fa) {
  const int G = w.group, ng = a.n_groups, K = w.planes;
  const size_t pb = w.plane_bytes();
  const bool trit = w.kind == QKind::kTrit;
  constexpr int NQ = (T + 3) / 4;  // 16-byte activation loads per quadruple
  for (int g = g0; g < g1; ++g) {
    const uint8_t* bg = w.block_group(b, g);
    const int8_t* qg = tq + static_cast<size_t>(g) * (G / 4) * qstride;
    for (int k = 0; k < (trit ? K : 1); ++k) {
      int32x4_t slo[T], shi[T];
      for (int t = 0; t < T; ++t) slo[t] = shi[t] = vdupq_n_s32(0);
      const uint8_t* codes = bg + w.scale_bytes() + k * pb;
      // Column quadruples per 32-byte chunk: 4 (2-bit codes), 2 (nibbles), 1 (int8).
      const int subs = trit ? 4 : w.kind == QKind::kIntG4 ? 2 : 1;
      const int steps = G / (4 * subs);  // 32-byte chunks
      for (int j = 0; j < steps; ++j) {
        const uint8x16_t vlo = vld1q_u8(codes + 32 * j), vhi = vld1q_u8(codes + 32 * j + 16);
        for (int s = 0; s < subs; ++s) {
          int8x16_t clo, chi;
          if (trit) {
            clo = Codes2(vlo, s);
            chi = Codes2(vhi, s);
          } else if (subs == 1) {
            clo = vreinterpretq_s8_u8(vlo);
            chi = vreinterpretq_s8_u8(vhi);
          } else {
            clo = vreinterpretq_s8_u8(s == 0 ? vandq_u8(vlo, vdupq_n_u8(15)) : vshrq_n_u8(vlo, 4));
            chi = vreinterpretq_s8_u8(s == 0 ? vandq_u8(vhi, vdupq_n_u8(15)) : vshrq_n_u8(vhi, 4));
          }
          const int8_t* qp = qg + static_cast<size_t>(subs * j + s) * qstride;
          int8x16_t qv[NQ];
          for (int i = 0; i < NQ; ++i) qv[i] = vld1q_s8(qp + 16 * i);
          for (int t = 0; t < T; ++t) {
            TRITIUM_SDOT_LANE(slo[t], clo, qv[t / 4], t % 4);
            TRITIUM_SDOT_LANE(shi[t], chi, qv[t / 4], t % 4);
          }
        }
      }
      for (int t = 0; t < T; ++t) {
        const size_t at = static_cast<size_t>(t0 + t) * ng + g;
        const float32x4_t d = vdupq_n_f32(a.d[at]);
        float32x4_t flo = vld1q_f32(fa + 8 * t), fhi = vld1q_f32(fa + 8 * t + 4);
        if (trit) {
          const int32x4_t qs = vdupq_n_s32(a.sum[at]);
          flo = vfmaq_f32(flo, vcvtq_f32_s32(vsubq_s32(slo[t], qs)),
                          vmulq_f32(LoadHalf4(bg + 16 * k), d));
          fhi = vfmaq_f32(fhi, vcvtq_f32_s32(vsubq_s32(shi[t], qs)),
                          vmulq_f32(LoadHalf4(bg + 16 * k + 8), d));
        } else {
          const float32x4_t qsum = vdupq_n_f32(static_cast<float>(a.sum[at]));
          const int32x4_t off = vdupq_n_s32(w.offset * a.sum[at]);
          flo = vfmaq_f32(flo, vcvtq_f32_s32(vaddq_s32(slo[t], off)), vmulq_f32(LoadHalf4(bg), d));
          fhi = vfmaq_f32(fhi, vcvtq_f32_s32(vaddq_s32(shi[t], off)),
                          vmulq_f32(LoadHalf4(bg + 8), d));
          flo = vfmaq_f32(flo, qsum, vmulq_f32(LoadHalf4(bg + 16), d));
          fhi = vfmaq_f32(fhi, qsum, vmulq_f32(LoadHalf4(bg + 24), d));
        }
        vst1q_f32(fa + 8 * t, flo);
        vst1q_f32(fa + 8 * t + 4, fhi);
      }
    }
  }
}

void GemmNeon(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
              int64_t y_stride) {
  if (w.kind == QKind::kTritB3) {
    return QTritB3Expand(kQKernelsNeon, w, a, b0, b1, y, y_stride, false);
  }
  static constexpr int kSizes[] = {8, 4, 2, 1};
  static const QTileFn kFns[] = {TileNeon<8>, TileNeon<4>, TileNeon<2>, TileNeon<1>};
  QGemmTiles(w, a, b0, b1, y, y_stride, kSizes, kFns);
}

#undef TRITIUM_SDOT_LANE

}  // namespace

const QKernels kQKernelsNeon = {GemvNeon, GemmNeon, "neon_dotprod"};

}  // namespace tritium
