// The base-3 trit layout (QKind::kTritB3, quant_kernels.h) on AVX-512 VBMI + VNNI. Its own
// translation unit: VBMI's byte permutes must not leak into the VNNI-only instance, which also
// runs on CPUs without them.
//
// Decoding a 64-byte vector (4 columns x 16 lanes x 5 digits, v = c0 + 3 c1 + 9 c2 + 27 c3 + 84 c4):
//   x  = v >> 2 (16-bit shift; vpermb reads only the low 6 bits of each index byte)
//   c4 = vpermb(x, top)           top[x] = x / 21 (84 = 4 x 21, so v >> 2 alone decides c4)
//   r  = v - vpermb(x, corr)      corr[x] = 84 (x / 21): r = c0 + 3 c1 + 9 c2 + 27 c3 <= 80
//   cs = vpermi2b(r, table_s)     the digit s of r (128-entry tables, two registers each)
// 9 instructions for 320 trits, then one dpbusd per digit: lane l of digit s's vector holds row
// 5 l + s, so every dpbusd accumulates 16 rows and there are no horizontal sums. The 2-bit layout
// needs 12 instructions (256-bit) for 128 trits and 25% more bytes (docs/kernels.md).
//
// The order of integer and float operations is the one every target follows (quant_kernels.h):
// the results equal the scalar twin, and the 2-bit layout's kernels, bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "src/kernels/cpu/quant_kernels.h"

// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_*(), which
// -Wmaybe-uninitialized reports as a use of an uninitialized value at every inlined call.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tritium {

namespace {

struct B3Tables {
  alignas(64) uint8_t digit[4][128];
  alignas(64) uint8_t top[64];
  alignas(64) uint8_t corr[64];
};

const B3Tables& Tables() {
  static const B3Tables t = [] {
    B3Tables t{};
    for (int r = 0; r < 128; ++r) {
      int v = r;
      for (int s = 0; s < 4; ++s, v /= 3) t.digit[s][r] = static_cast<uint8_t>(v % 3);
    }
    for (int x = 0; x < 64; ++x) {
      constexpr int kTop = kTritB3Weight[4];
      static_assert(kTop % 4 == 0 && kTop / 4 > 80 / 4, "v >> 2 must decide the top digit");
      const int c4 = std::min(x / (kTop / 4), 2);  // x = 63 never occurs (v <= 248)
      t.top[x] = static_cast<uint8_t>(c4);
      t.corr[x] = static_cast<uint8_t>(kTop * c4);
    }
    return t;
  }();
  return t;
}

struct Decoder {
  __m512i lo[4], hi[4], top, corr;
  explicit Decoder(const B3Tables& t) {
#pragma GCC unroll 8
    for (int s = 0; s < 4; ++s) {
      lo[s] = _mm512_load_si512(t.digit[s]);
      hi[s] = _mm512_load_si512(t.digit[s] + 64);
    }
    top = _mm512_load_si512(t.top);
    corr = _mm512_load_si512(t.corr);
  }
  // The codes (0, 1, 2) of digit s of every byte, for s = 0..4.
  inline void Decode(__m512i v, __m512i* c) const {
    const __m512i x = _mm512_srli_epi16(v, 2);
    c[4] = _mm512_permutexvar_epi8(x, top);
    const __m512i r = _mm512_sub_epi8(v, _mm512_permutexvar_epi8(x, corr));
#pragma GCC unroll 8
    for (int s = 0; s < 4; ++s) c[s] = _mm512_permutex2var_epi8(lo[s], r, hi[s]);
  }
};

inline __m512i Bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
// The 16 fp16 scales of digit s's lanes (rows 5 l + s) of plane k.
inline __m512 Scales16(const uint8_t* bg, int k, int s) {
  return _mm512_cvtph_ps(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bg + 2 * (kQRowBlockB3 * k + 16 * s))));
}

// Writes lane l of v[s] to row 5 l + s of block row0 (rows past `rows` are padding).
void StoreB3Rows(const __m512* v, int64_t row0, int64_t rows, float* y, bool add) {
  alignas(64) float out[5][16];
#pragma GCC unroll 8
  for (int s = 0; s < 5; ++s) _mm512_store_ps(out[s], v[s]);
  const int n = static_cast<int>(std::min<int64_t>(kQRowBlockB3, rows - row0));
  for (int r = 0; r < n; ++r) {
    float* dst = y + row0 + r;
    *dst = (add ? *dst : 0.0f) + out[r % 5][r / 5];
  }
}

// GEMV of one 80-row block, one plane of a group at a time: 5 accumulators, the 10 table
// registers and the decoded digits fit the 32 registers. (Two blocks in lockstep, i.e. two DRAM
// streams per core, measured the same on a Zen 4 EPYC and three slower: see QTritB3GemvVbmi.)
void GemvBlock(const QMatrix& w, const QActs& a, const Decoder& dec, int64_t b, float* y) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block(), G = w.group;
  const size_t sb = w.scale_bytes(), pb = w.plane_bytes();
  __m512 yv[5];
#pragma GCC unroll 8
  for (int s = 0; s < 5; ++s) yv[s] = _mm512_setzero_ps();
  for (int g0 = 0; g0 < ng; g0 += gpb) {
    __m512 acc[5];
#pragma GCC unroll 8
    for (int s = 0; s < 5; ++s) acc[s] = _mm512_setzero_ps();
    for (int g = g0; g < std::min(ng, g0 + gpb); ++g) {
      const uint8_t* bg = w.block_group(b, g);
      const int8_t* q = a.nat.data() + static_cast<size_t>(g) * G;
      const __m512 d = _mm512_set1_ps(a.d[g]);
      const __m512i qsum = _mm512_set1_epi32(a.sum[g]);
      for (int k = 0; k < w.planes; ++k) {
        __m512i si[5];
#pragma GCC unroll 8
        for (int s = 0; s < 5; ++s) si[s] = _mm512_setzero_si512();
        const uint8_t* codes = bg + sb + k * pb;
        for (int p = 0; p < G / 4; ++p) {
          const __m512i qb = Bcast4(q + 4 * p);
          __m512i c[5];
          dec.Decode(_mm512_loadu_si512(codes + 64 * p), c);
#pragma GCC unroll 8
          for (int s = 0; s < 5; ++s) si[s] = _mm512_dpbusd_epi32(si[s], c[s], qb);
        }
#pragma GCC unroll 8
        for (int s = 0; s < 5; ++s) {
          const __m512i i32 = _mm512_sub_epi32(si[s], qsum);
          acc[s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), _mm512_mul_ps(Scales16(bg, k, s), d),
                                   acc[s]);
        }
      }
    }
#pragma GCC unroll 8
    for (int s = 0; s < 5; ++s) yv[s] = _mm512_add_ps(yv[s], acc[s]);
  }
  StoreB3Rows(yv, b * kQRowBlockB3, w.rows, y, false);
}

// GEMM sub-tile: T tokens x the 16 rows of digit s, over groups [g0, g1) of a block whose codes
// `dec` holds decoded (per group, plane, digit: G/4 vectors of 64 code bytes).
template <int T>
void TileB3(const QMatrix& w, const QActs& a, const uint8_t* bgs, const uint8_t* dec, int s,
            int g0, int g1, const int8_t* tq, size_t qstride, int64_t t0, __m512* out) {
  const int G = w.group, K = w.planes, ng = a.n_groups;
  const size_t bgb = w.block_group_bytes();
  __m512 f[T];
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) f[t] = _mm512_setzero_ps();
  for (int g = g0; g < g1; ++g) {
    const int8_t* qg = tq + static_cast<size_t>(g) * (G / 4) * qstride;
    for (int k = 0; k < K; ++k) {
      const uint8_t* wv = dec + (static_cast<size_t>((g - g0) * K + k) * 5 + s) * 16 * G;
      __m512i acc[T];
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_si512();
#pragma GCC unroll 1
      for (int p = 0; p < G / 4; ++p) {
        const __m512i c = _mm512_load_si512(wv + 64 * p);
        const int8_t* qs = qg + p * qstride;
#pragma GCC unroll 12
        for (int t = 0; t < T; ++t) {
          acc[t] = _mm512_dpbusd_epi32(acc[t], c, Bcast4(qs + 4 * t));
          // As in the 2-bit tiles: keeps GCC from hoisting every broadcast ahead of the products.
          asm volatile("" : "+v"(acc[t])::"memory");
        }
      }
      const __m512 sc = Scales16(bgs + (g - g0) * bgb, k, s);
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) {
        const size_t at = static_cast<size_t>(t0 + t) * ng + g;
        const __m512i i32 = _mm512_sub_epi32(acc[t], _mm512_set1_epi32(a.sum[at]));
        f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), _mm512_mul_ps(sc, _mm512_set1_ps(a.d[at])),
                               f[t]);
      }
    }
  }
#pragma GCC unroll 12
  for (int t = 0; t < T; ++t) out[t] = f[t];
}

using TileB3Fn = void (*)(const QMatrix&, const QActs&, const uint8_t*, const uint8_t*, int, int,
                          int, const int8_t*, size_t, int64_t, __m512*);

}  // namespace

void QTritB3GemvVbmi(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  const Decoder dec(Tables());
  // One block (one DRAM stream) at a time: two blocks in lockstep measured the same on a Zen 4
  // EPYC (4096 x 14336, K = 1 and 2, GEMV paired with a triad: within the host's noise, K = 1
  // 5-10% slower), and three slower; unlike Zen 3 (docs/kernels.md), one stream per core comes
  // close to the triad here.
  for (int64_t b = b0; b < b1; ++b) GemvBlock(w, a, dec, b, y);
}

void QTritB3GemmVbmi(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
                     int64_t y_stride) {
  static constexpr int kSizes[] = {12, 8, 4, 2, 1};
  static const TileB3Fn kFns[] = {TileB3<12>, TileB3<8>, TileB3<4>, TileB3<2>, TileB3<1>};
  const Decoder dec(Tables());
  const int ng = w.n_groups(), gpb = w.groups_per_col_block(), G = w.group, K = w.planes;
  const size_t sb = w.scale_bytes(), pb = w.plane_bytes();
  const int64_t nt = a.n_tokens;
  // One block's codes of one column block, decoded once and reused by every token tile: 80 G K
  // bytes a group (327 KB for 2048 columns at K = 2, an L2's worth).
  thread_local std::vector<uint8_t> buf;
  buf.resize(static_cast<size_t>(gpb) * K * kQRowBlockB3 * G + 64);
  uint8_t* dec_codes = reinterpret_cast<uint8_t*>(
      (reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t{63});
  for (int g0 = 0; g0 < ng; g0 += gpb) {
    const int g1 = std::min(ng, g0 + gpb);
    for (int64_t b = b0; b < b1; ++b) {
      for (int g = g0; g < g1; ++g) {
        const uint8_t* codes = w.block_group(b, g) + sb;
        for (int k = 0; k < K; ++k) {
          uint8_t* dst = dec_codes + static_cast<size_t>((g - g0) * K + k) * kQRowBlockB3 * G;
          for (int p = 0; p < G / 4; ++p) {
            __m512i c[5];
            dec.Decode(_mm512_loadu_si512(codes + k * pb + 64 * p), c);
#pragma GCC unroll 8
            for (int s = 0; s < 5; ++s) _mm512_store_si512(dst + (16 * s * G) + 64 * p, c[s]);
          }
        }
      }
      const uint8_t* bgs = w.block_group(b, g0);
      for (int64_t u0 = 0; u0 < nt; u0 += kQTokenTile) {
        const int64_t tile_n = std::min<int64_t>(kQTokenTile, nt - u0);
        const size_t qstride = 4 * static_cast<size_t>(tile_n);
        int si = 0;
        for (int64_t t = u0; t < u0 + tile_n;) {
          while (kSizes[si] > u0 + tile_n - t) ++si;
          const int T = kSizes[si];
          __m512 out[5][kQTokenTile];
#pragma GCC unroll 8
          for (int s = 0; s < 5; ++s) {
            kFns[si](w, a, bgs, dec_codes, s, g0, g1, a.tile(u0) + 4 * (t - u0), qstride, t,
                     out[s]);
          }
          for (int tt = 0; tt < T; ++tt) {
            __m512 v[5];
#pragma GCC unroll 8
            for (int s = 0; s < 5; ++s) v[s] = out[s][tt];
            StoreB3Rows(v, b * kQRowBlockB3, w.rows, y + (t + tt) * y_stride, g0 != 0);
          }
          t += T;
        }
      }
    }
  }
}

}  // namespace tritium
