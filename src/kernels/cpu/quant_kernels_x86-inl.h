// The x86 integer-format kernels, written once and compiled per target by quant_kernels_avx2.cc
// (maddubs into int16, widened by madd) and quant_kernels_avx512.cc (VNNI dpbusd straight into
// int32). The including file defines QDOT(acc, u8, s8), QWIDEN(acc, ones16), QKERNELS_NAME and
// QKERNELS_STR; everything else, including the order of float operations, is shared.
//
// GEMV (decode): weights are decoded in registers. A 32-byte load of fixed-point trit bytes yields
// 5 digit vectors (two signed compares + abs give the code 0/1/2; s += 2 s moves to the next
// digit), each multiplied with the matching activation vector of the lanes layout (u8 x s8, pairs
// summed: 5 digits x 2 x 2 x 127 = 2540 fits int16). Four rows share each activation load; their
// int32 sums are reduced together by hadd into one vector of 4 rows.
// GEMM (prefill): a block of 4 rows is unpacked once per column block and token block into natural
// order codes (QDecodeBlock), then a 4 rows x 2 tokens tile runs on plain loads.
// No include guard: meant to be included once per target translation unit.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/cpu/quant_kernels.h"

namespace tritium {

namespace {

constexpr int64_t kTokenBlock = 128;  // activations of one column block stay in L2

size_t GroupBytes(const QMatrix& w, int n) {
  return w.kind == QKind::kTrit ? TritGroupBytes(n, w.planes) : IntGGroupBytes(n, 4);
}
const uint8_t* BlockGroup(const QMatrix& w, int64_t b, int g) {
  return w.data + static_cast<size_t>(b) * kQRowBlock * w.row_bytes +
         static_cast<size_t>(g) * kQRowBlock * GroupBytes(w, w.group);
}

// Sums of the 8 int32 lanes of each of 4 vectors, as [v0, v1, v2, v3].
inline __m128i Reduce4(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
  __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

inline __m256i TritCode(__m256i s, __m256i lo, __m256i hi) {
  // -(s > lo) - (s > hi) in {0, -1, -2}; abs gives the code. (Two subtractions from zero instead
  // of add + abs measured no faster on Zen 3.)
  return _mm256_abs_epi8(_mm256_add_epi8(_mm256_cmpgt_epi8(s, lo), _mm256_cmpgt_epi8(s, hi)));
}
inline __m256i Times3(__m256i s) { return _mm256_add_epi8(_mm256_add_epi8(s, s), s); }

void Gemv(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const __m256i lo = _mm256_set1_epi8(-43), hi = _mm256_set1_epi8(42);
  const __m256i ones16 = _mm256_set1_epi16(1);
  const __m256i nib = _mm256_set1_epi8(15);
  for (int64_t b = b0; b < b1; ++b) {
    __m128 yv = _mm_setzero_ps();
    for (int g0 = 0; g0 < ng; g0 += gpb) {
      __m128 acc = _mm_setzero_ps();
      for (int g = g0; g < std::min(ng, g0 + gpb); ++g) {
        const int n = w.group_len(g);
        const uint8_t* bg = BlockGroup(w, b, g);
        const int8_t* act = a.lanes.data() + static_cast<size_t>(g) * a.lane_slot;
        const __m128 d = _mm_set1_ps(a.d[g]);
        if (w.kind == QKind::kTrit) {
          const int p = TritPlaneBytes(n), chunks = (p + 31) / 32, kp = w.planes * p;
          const uint8_t* pay = bg + 8 * w.planes;
          const __m128i qsum = _mm_set1_epi32(a.sum[g]);
          for (int k = 0; k < w.planes; ++k) {
            // One row at a time through the 5 digits: its chain s -> 3 s is short, rows are
            // independent for the out-of-order core, and 4 live rows would spill registers.
            __m256i accs[4];
            for (int r = 0; r < 4; ++r) {
              __m256i acc = _mm256_setzero_si256();
              for (int c = 0; c < chunks; ++c) {
                __m256i s = _mm256_loadu_si256(
                    reinterpret_cast<const __m256i*>(pay + r * kp + k * p + 32 * c));
                const int8_t* ac = act + 160 * c;
                for (int digit = 0; digit < 5; ++digit) {
                  const __m256i q =
                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ac + 32 * digit));
                  acc = QDOT(acc, TritCode(s, lo, hi), q);
                  if (digit < 4) s = Times3(s);
                }
              }
              accs[r] = acc;
            }
            const __m256i a0 = accs[0], a1 = accs[1], a2 = accs[2], a3 = accs[3];
            const __m128i sums = _mm_sub_epi32(
                Reduce4(QWIDEN(a0, ones16), QWIDEN(a1, ones16),
                        QWIDEN(a2, ones16), QWIDEN(a3, ones16)),
                qsum);
            const __m128 scale = _mm_mul_ps(
                _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bg + 8 * k))), d);
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), scale, acc);
          }
        } else {
          const int cb = static_cast<int>(IntGCodeBytes(n, 4)), chunks = (cb + 31) / 32;
          const uint8_t* pay = bg + 16;
          __m256i acc16[4];
          for (int r = 0; r < 4; ++r) acc16[r] = _mm256_setzero_si256();
          for (int c = 0; c < chunks; ++c) {
            const __m256i qe = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act + 64 * c));
            const __m256i qo =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act + 64 * c + 32));
            for (int r = 0; r < 4; ++r) {
              const __m256i v = _mm256_loadu_si256(
                  reinterpret_cast<const __m256i*>(pay + static_cast<size_t>(r) * cb + 32 * c));
              const __m256i even = _mm256_and_si256(v, nib);
              const __m256i odd = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
              acc16[r] = QDOT(acc16[r], even, qe);
              acc16[r] = QDOT(acc16[r], odd, qo);
            }
          }
          const __m128i sums =
              Reduce4(QWIDEN(acc16[0], ones16), QWIDEN(acc16[1], ones16),
                      QWIDEN(acc16[2], ones16), QWIDEN(acc16[3], ones16));
          // Scales are [s0 m0 s1 m1 s2 m2 s3 m3].
          const __m256 sm = _mm256_permutevar8x32_ps(
              _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg))),
              _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
          acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), _mm_mul_ps(_mm256_castps256_ps128(sm), d),
                             acc);
          acc = _mm_fmadd_ps(_mm_set1_ps(static_cast<float>(a.sum[g])),
                             _mm_mul_ps(_mm256_extractf128_ps(sm, 1), d), acc);
        }
      }
      yv = _mm_add_ps(yv, acc);
    }
    float out[4];
    _mm_storeu_ps(out, yv);
    for (int r = 0; r < kQRowBlock && b * kQRowBlock + r < w.rows; ++r) {
      y[b * kQRowBlock + r] = out[r];
    }
  }
}

// 4 rows x 2 tokens over groups [g0, g1) of one column block; codes/scales from QDecodeBlock.
// Returns the accumulator [t0: r0..r3 | t1: r0..r3].
__m256 Tile4x2(const QMatrix& w, const QActs& a, int g0, int g1, const uint8_t* codes,
               const float* scales, int64_t t0, int64_t t1) {
  const int ngb = g1 - g0, K = w.planes, G = w.group;
  const int ng = a.n_groups;
  const __m256i ones16 = _mm256_set1_epi16(1);
  const int8_t* x0 = a.nat.data() + static_cast<size_t>(t0) * a.nat_stride;
  const int8_t* x1 = a.nat.data() + static_cast<size_t>(t1) * a.nat_stride;
  const size_t row_stride = static_cast<size_t>(ngb) * K * G;
  __m256 acc = _mm256_setzero_ps();
  for (int g = g0; g < g1; ++g) {
    const int n = w.group_len(g), chunks = (n + 31) / 32;
    const int8_t* q0 = x0 + static_cast<size_t>(g) * G;
    const int8_t* q1 = x1 + static_cast<size_t>(g) * G;
    const __m256 d = _mm256_set_m128(_mm_set1_ps(a.d[t1 * ng + g]), _mm_set1_ps(a.d[t0 * ng + g]));
    const __m256i qs =
        _mm256_set_m128i(_mm_set1_epi32(a.sum[t1 * ng + g]), _mm_set1_epi32(a.sum[t0 * ng + g]));
    const float* sc = scales + static_cast<size_t>(g - g0) * (w.kind == QKind::kTrit ? K : 2) * 4;
    for (int k = 0; k < K; ++k) {
      const uint8_t* c0 = codes + (static_cast<size_t>(g - g0) * K + k) * G;
      __m256i s00 = _mm256_setzero_si256(), s10 = s00, s20 = s00, s30 = s00;
      __m256i s01 = s00, s11 = s00, s21 = s00, s31 = s00;
      for (int c = 0; c < chunks; ++c) {
        const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + 32 * c));
        const __m256i w1 =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + row_stride + 32 * c));
        const __m256i w2 =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + 2 * row_stride + 32 * c));
        const __m256i w3 =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c0 + 3 * row_stride + 32 * c));
        __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q0 + 32 * c));
        s00 = QDOT(s00, w0, q);
        s10 = QDOT(s10, w1, q);
        s20 = QDOT(s20, w2, q);
        s30 = QDOT(s30, w3, q);
        q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q1 + 32 * c));
        s01 = QDOT(s01, w0, q);
        s11 = QDOT(s11, w1, q);
        s21 = QDOT(s21, w2, q);
        s31 = QDOT(s31, w3, q);
      }
      const __m128i r0 = Reduce4(QWIDEN(s00, ones16), QWIDEN(s10, ones16),
                                 QWIDEN(s20, ones16), QWIDEN(s30, ones16));
      const __m128i r1 = Reduce4(QWIDEN(s01, ones16), QWIDEN(s11, ones16),
                                 QWIDEN(s21, ones16), QWIDEN(s31, ones16));
      __m256i sums = _mm256_set_m128i(r1, r0);
      const __m256 a_or_s = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(sc + 4 * k));
      if (w.kind == QKind::kTrit) {
        sums = _mm256_sub_epi32(sums, qs);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(a_or_s, d), acc);
      } else {
        const __m256 m = _mm256_broadcast_ps(reinterpret_cast<const __m128*>(sc + 4));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(a_or_s, d), acc);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(qs), _mm256_mul_ps(m, d), acc);
      }
    }
  }
  return acc;
}

void Gemm(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
              int64_t y_stride, std::vector<uint8_t>* scratch) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const size_t code_bytes = QDecodeBytes(w);
  const size_t scale_floats = static_cast<size_t>(gpb) * std::max(w.planes, 2) * kQRowBlock;
  scratch->resize(code_bytes + scale_floats * sizeof(float) + 64);
  uint8_t* codes = scratch->data();
  float* scales = reinterpret_cast<float*>(
      (reinterpret_cast<uintptr_t>(codes + code_bytes) + 63) & ~uintptr_t{63});
  const int64_t nt = a.n_tokens;
  for (int64_t tb = 0; tb < nt; tb += kTokenBlock) {
    const int64_t te = std::min(nt, tb + kTokenBlock);
    for (int g0 = 0; g0 < ng; g0 += gpb) {
      const int g1 = std::min(ng, g0 + gpb);
      for (int64_t b = b0; b < b1; ++b) {
        QDecodeBlock(w, b, g0, g1, codes, scales);
        const int nr = static_cast<int>(std::min<int64_t>(kQRowBlock, w.rows - b * kQRowBlock));
        for (int64_t t = tb; t < te; t += 2) {
          const int64_t t1 = std::min(t + 1, te - 1);
          const __m256 acc = Tile4x2(w, a, g0, g1, codes, scales, t, t1);
          float out[8];
          _mm256_storeu_ps(out, acc);
          for (int64_t tt = t; tt <= t1; ++tt) {
            float* yr = y + tt * y_stride + b * kQRowBlock;
            const float* o = out + 4 * (tt - t);
            for (int r = 0; r < nr; ++r) yr[r] = (g0 == 0 ? 0.0f : yr[r]) + o[r];
          }
        }
      }
    }
  }
}

}  // namespace

const QKernels QKERNELS_NAME = {Gemv, Gemm, QKERNELS_STR};

}  // namespace tritium
