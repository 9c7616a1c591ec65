// The x86 integer-format kernels, written once and compiled per target by quant_kernels_avx2.cc
// (maddubs into int16, widened by madd) and quant_kernels_avx512.cc (VNNI dpbusd straight into
// int32). The including file defines QDOT(acc, u8, s8), QWIDEN(acc, ones16), QKERNELS_NAME,
// QKERNELS_STR and QTRITB3_GEMV / QTRITB3_GEMM (the base-3 layout's entry points); everything
// else, including the order of float operations, is shared.
//
// Both GEMV and GEMM run on the repacked layout of quant_kernels.h: a 32-byte vector masked (and
// shifted) gives the codes of 4 columns of 8 rows; the 4 activations of those columns, broadcast to
// every 32-bit lane, meet it in one QDOT, and lane r accumulates row r. Int16 bounds (AVX2): a
// trit step adds at most 2 x 2 x 127 = 508 per lane and a group plane has at most G / 4 = 64
// steps (32512); an INT_G step adds at most 2 x 15 x 127 = 3810, so int16 sums are widened every
// 8 steps.
// GEMV: four row blocks in lockstep, all planes of a group together so the 4 activation
// broadcasts of a chunk serve every plane.
// GEMM: tiles of up to 12 tokens (INT_G: 6) x 8 rows; the tile's activations are interleaved
// (QActs::tiled) so each broadcast is one load at a constant offset. The per-token float
// accumulators live in a small stack array; the int16 ones in registers.
// No include guard: meant to be included once per target translation unit.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "src/kernels/cpu/quant_kernels.h"

namespace tritium {

namespace {

inline __m256i Bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
inline __m256i Load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
inline __m256 Scales8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
// Codes of sub-step s (columns 4 s .. 4 s + 3 of the chunk) from a chunk of 2-bit codes.
template <int S>
inline __m256i Trit2(__m256i v, __m256i m3) {
  if constexpr (S == 0) {
    return _mm256_and_si256(v, m3);
  } else {
    return _mm256_and_si256(_mm256_srli_epi16(v, 2 * S), m3);
  }
}

void StoreRows(const __m256& v, int64_t row0, int64_t rows, float* y) {
  if (row0 + kQRowBlock <= rows) {
    _mm256_storeu_ps(y + row0, v);
    return;
  }
  float out[kQRowBlock];
  _mm256_storeu_ps(out, v);
  for (int64_t r = 0; row0 + r < rows; ++r) y[row0 + r] = out[r];
}

// GEMV: NB row blocks in lockstep, group by group: NB concurrent streams from DRAM (one stream per
// core leaves bandwidth unused, docs/kernels.md), and the activation broadcasts serve all of
// them.
// A Group type supplies the per-format body: Group::Run<NB>(w, a, g, bg, block_stride, acc) adds
// group g of the NB blocks (the first at bg, the next block_stride bytes on) into acc[0..NB).
template <class Group, int NB>
void GemvBlocks(const QMatrix& w, const QActs& a, int64_t b, int64_t bstep, float* y) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const size_t block_stride = static_cast<size_t>(ng) * w.block_group_bytes() * bstep;
  __m256 yv[NB];
  for (int n = 0; n < NB; ++n) yv[n] = _mm256_setzero_ps();
  for (int g0 = 0; g0 < ng; g0 += gpb) {
    __m256 acc[NB];
    for (int n = 0; n < NB; ++n) acc[n] = _mm256_setzero_ps();
    for (int g = g0; g < std::min(ng, g0 + gpb); ++g) {
      Group::template Run<NB>(w, a, g, w.block_group(b, g), block_stride, acc);
    }
    for (int n = 0; n < NB; ++n) yv[n] = _mm256_add_ps(yv[n], acc[n]);
  }
  for (int n = 0; n < NB; ++n) StoreRows(yv[n], (b + n * bstep) * kQRowBlock, w.rows, y);
}

// Cuts [b0, b1) into kGemvStreams equal runs and walks them in lockstep (block i of every run
// together); the blocks left over go one at a time. Four streams per core ran the 4096 x 14336
// GEMVs 3-17% faster than two (docs/kernels.md), and 4 blocks x K planes of int16 accumulators
// still fit the 16 vector registers beside the 4 activation broadcasts for K <= 2.
constexpr int kGemvStreams = 4;
template <class Group>
void GemvStreams(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  const int64_t run = (b1 - b0) / kGemvStreams;
  for (int64_t i = 0; i < run; ++i) GemvBlocks<Group, kGemvStreams>(w, a, b0 + i, run, y);
  for (int64_t b = b0 + kGemvStreams * run; b < b1; ++b) GemvBlocks<Group, 1>(w, a, b, 0, y);
}

template <int K>
struct TritGroup {
  template <int NB>
  static void Run(const QMatrix& w, const QActs& a, int g, const uint8_t* bg, size_t stride,
                  __m256* acc) {
    const int chunks = w.group / 16;
    const size_t pb = w.plane_bytes();
    const __m256i m3 = _mm256_set1_epi8(3), ones16 = _mm256_set1_epi16(1);
    const int8_t* q = a.nat.data() + static_cast<size_t>(g) * w.group;
    __m256i s[NB][K];
    for (int n = 0; n < NB; ++n) {
      for (int k = 0; k < K; ++k) s[n][k] = _mm256_setzero_si256();
    }
    for (int j = 0; j < chunks; ++j) {
      const __m256i q0 = Bcast4(q + 16 * j), q1 = Bcast4(q + 16 * j + 4);
      const __m256i q2 = Bcast4(q + 16 * j + 8), q3 = Bcast4(q + 16 * j + 12);
      for (int n = 0; n < NB; ++n) {
        for (int k = 0; k < K; ++k) {
          const __m256i v = Load32(bg + n * stride + 16 * K + k * pb + 32 * j);
          __m256i t = QDOT(s[n][k], Trit2<0>(v, m3), q0);
          t = QDOT(t, Trit2<1>(v, m3), q1);
          t = QDOT(t, Trit2<2>(v, m3), q2);
          s[n][k] = QDOT(t, Trit2<3>(v, m3), q3);
        }
      }
    }
    const __m256 d = _mm256_set1_ps(a.d[g]);
    const __m256i qsum = _mm256_set1_epi32(a.sum[g]);
    for (int n = 0; n < NB; ++n) {
      for (int k = 0; k < K; ++k) {
        const __m256i i32 = _mm256_sub_epi32(QWIDEN(s[n][k], ones16), qsum);
        acc[n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32),
                                 _mm256_mul_ps(Scales8(bg + n * stride + 16 * k), d), acc[n]);
      }
    }
  }
};

// INT_G's two float steps, shared by the 4-bit and the int8 layouts: C s d, then Q m d.
inline __m256 IntGFinish(__m256 acc, __m256i c32, const uint8_t* scales, __m256 d, __m256 qsum) {
  acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c32), _mm256_mul_ps(Scales8(scales), d), acc);
  return _mm256_fmadd_ps(qsum, _mm256_mul_ps(Scales8(scales + 16), d), acc);
}

struct IntG4Group {
  template <int NB>
  static void Run(const QMatrix& w, const QActs& a, int g, const uint8_t* bg, size_t stride,
                  __m256* acc) {
    const int chunks = w.group / 8;
    const __m256i m15 = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);
    const int8_t* q = a.nat.data() + static_cast<size_t>(g) * w.group;
    __m256i c32[NB];
    for (int n = 0; n < NB; ++n) c32[n] = _mm256_setzero_si256();
    for (int j0 = 0; j0 < chunks; j0 += 4) {
      // At most 8 int16 steps (2 per chunk) before widening: 8 x 3810 < 32768.
      __m256i s16[NB];
      for (int n = 0; n < NB; ++n) s16[n] = _mm256_setzero_si256();
      for (int j = j0; j < std::min(chunks, j0 + 4); ++j) {
        const __m256i qlo = Bcast4(q + 8 * j), qhi = Bcast4(q + 8 * j + 4);
        for (int n = 0; n < NB; ++n) {
          const __m256i v = Load32(bg + n * stride + 32 + 32 * j);
          const __m256i t = QDOT(s16[n], _mm256_and_si256(v, m15), qlo);
          s16[n] = QDOT(t, _mm256_and_si256(_mm256_srli_epi16(v, 4), m15), qhi);
        }
      }
      for (int n = 0; n < NB; ++n) c32[n] = _mm256_add_epi32(c32[n], QWIDEN(s16[n], ones16));
    }
    const __m256 d = _mm256_set1_ps(a.d[g]);
    const __m256 qsum = _mm256_set1_ps(static_cast<float>(a.sum[g]));
    for (int n = 0; n < NB; ++n) acc[n] = IntGFinish(acc[n], c32[n], bg + n * stride, d, qsum);
  }
};

// Signed int8 weights (kInt8): u8 x s8 instructions take |v| and sign(q, v); a pair of products
// reaches 2 x 128 x 127, so every step is widened to int32 at once.
inline __m256i Int8Dot(__m256i acc32, __m256i v, __m256i q, __m256i ones16) {
  return _mm256_add_epi32(
      acc32, QWIDEN(QDOT(_mm256_setzero_si256(), _mm256_abs_epi8(v), _mm256_sign_epi8(q, v)),
                    ones16));
}

struct Int8Group {
  template <int NB>
  static void Run(const QMatrix& w, const QActs& a, int g, const uint8_t* bg, size_t stride,
                  __m256* acc) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    const int8_t* q = a.nat.data() + static_cast<size_t>(g) * w.group;
    __m256i c32[NB];
    for (int n = 0; n < NB; ++n) c32[n] = _mm256_setzero_si256();
    for (int j = 0; j < w.group / 4; ++j) {
      const __m256i qj = Bcast4(q + 4 * j);
      for (int n = 0; n < NB; ++n) {
        c32[n] = Int8Dot(c32[n], Load32(bg + n * stride + 32 + 32 * j), qj, ones16);
      }
    }
    const __m256 d = _mm256_set1_ps(a.d[g]);
    const __m256 qsum = _mm256_set1_ps(static_cast<float>(a.sum[g]));
    const __m256i off = _mm256_set1_epi32(w.offset * a.sum[g]);
    for (int n = 0; n < NB; ++n) {
      acc[n] = IntGFinish(acc[n], _mm256_add_epi32(c32[n], off), bg + n * stride, d, qsum);
    }
  }
};

void Gemv(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  if (w.kind == QKind::kTritB3) return QTRITB3_GEMV(w, a, b0, b1, y);
  if (w.kind == QKind::kIntG4) return GemvStreams<IntG4Group>(w, a, b0, b1, y);
  if (w.kind == QKind::kInt8) return GemvStreams<Int8Group>(w, a, b0, b1, y);
  switch (w.planes) {
    case 1: return GemvStreams<TritGroup<1>>(w, a, b0, b1, y);
    case 2: return GemvStreams<TritGroup<2>>(w, a, b0, b1, y);
    case 3: return GemvStreams<TritGroup<3>>(w, a, b0, b1, y);
    default: return GemvStreams<TritGroup<4>>(w, a, b0, b1, y);
  }
}

// GEMM sub-tiles, each a QTileFn (quant_kernels.h): T tokens x 8 rows of block b.
template <int T>
void TileTrit(const QMatrix& w, const QActs& a, int64_t b, int g0, int g1, const int8_t* tq,
              size_t qstride, int64_t t0, float* fa) {
  const int G = w.group, chunks = G / 16, ng = a.n_groups;
  const size_t pb = w.plane_bytes();
  const __m256i m3 = _mm256_set1_epi8(3), ones16 = _mm256_set1_epi16(1);
  for (int g = g0; g < g1; ++g) {
    const uint8_t* bg = w.block_group(b, g);
    const int8_t* qg = tq + static_cast<size_t>(g) * (G / 4) * qstride;
    for (int k = 0; k < w.planes; ++k) {
      const uint8_t* codes = bg + 16 * w.planes + k * pb;
      __m256i s[T];
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_si256();
      // One sub-step (4 columns) per iteration, not unrolled: with every product of a chunk in
      // flight GCC reassociates the int16 sums and spills the 12 accumulators.
#pragma GCC unroll 1
      for (int st = 0; st < 4 * chunks; ++st) {
        const __m256i c = _mm256_and_si256(
            _mm256_srl_epi16(Load32(codes + 32 * (st >> 2)), _mm_cvtsi32_si128(2 * (st & 3))), m3);
        const int8_t* qs = qg + st * qstride;
#pragma GCC unroll 12
        for (int t = 0; t < T; ++t) {
          s[t] = QDOT(s[t], c, Bcast4(qs + 4 * t));
          // Keeps GCC from hoisting all T broadcasts ahead of the products (T more live
          // registers than there are, so the accumulators would spill).
          asm volatile("" : "+x"(s[t])::"memory");
        }
      }
      const __m256 sc = Scales8(bg + 16 * k);
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) {
        const size_t at = static_cast<size_t>(t0 + t) * ng + g;
        const __m256i i32 = _mm256_sub_epi32(QWIDEN(s[t], ones16), _mm256_set1_epi32(a.sum[at]));
        const __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32),
                                         _mm256_mul_ps(sc, _mm256_set1_ps(a.d[at])),
                                         _mm256_loadu_ps(fa + 8 * t));
        _mm256_storeu_ps(fa + 8 * t, f);
      }
    }
  }
}

template <int T>
void TileIntG(const QMatrix& w, const QActs& a, int64_t b, int g0, int g1, const int8_t* tq,
              size_t qstride, int64_t t0, float* fa) {
  const int G = w.group, chunks = G / 8, ng = a.n_groups;
  const __m256i m15 = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);
  for (int g = g0; g < g1; ++g) {
    const uint8_t* bg = w.block_group(b, g);
    const uint8_t* codes = bg + 32;
    const int8_t* qg = tq + static_cast<size_t>(g) * (G / 4) * qstride;
    __m256i c32[T];
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) c32[t] = _mm256_setzero_si256();
    for (int j0 = 0; j0 < chunks; j0 += 4) {
      __m256i s[T];
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) s[t] = _mm256_setzero_si256();
      for (int st = 2 * j0; st < 2 * std::min(chunks, j0 + 4); ++st) {
        const __m256i c = _mm256_and_si256(
            _mm256_srl_epi16(Load32(codes + 32 * (st >> 1)), _mm_cvtsi32_si128(4 * (st & 1))), m15);
        const int8_t* qs = qg + st * qstride;
#pragma GCC unroll 12
        for (int t = 0; t < T; ++t) {
          s[t] = QDOT(s[t], c, Bcast4(qs + 4 * t));
          // Keeps GCC from hoisting all T broadcasts ahead of the products (T more live
          // registers than there are, so the accumulators would spill).
          asm volatile("" : "+x"(s[t])::"memory");
        }
      }
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) c32[t] = _mm256_add_epi32(c32[t], QWIDEN(s[t], ones16));
    }
    const __m256 sc = Scales8(bg), mn = Scales8(bg + 16);
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) {
      const size_t at = static_cast<size_t>(t0 + t) * ng + g;
      const __m256 d = _mm256_set1_ps(a.d[at]);
      __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c32[t]), _mm256_mul_ps(sc, d),
                                 _mm256_loadu_ps(fa + 8 * t));
      f = _mm256_fmadd_ps(_mm256_set1_ps(static_cast<float>(a.sum[at])), _mm256_mul_ps(mn, d), f);
      _mm256_storeu_ps(fa + 8 * t, f);
    }
  }
}

template <int T>
void TileInt8(const QMatrix& w, const QActs& a, int64_t b, int g0, int g1, const int8_t* tq,
              size_t qstride, int64_t t0, float* fa) {
  const int G = w.group, ng = a.n_groups;
  const __m256i ones16 = _mm256_set1_epi16(1);
  for (int g = g0; g < g1; ++g) {
    const uint8_t* bg = w.block_group(b, g);
    const int8_t* qg = tq + static_cast<size_t>(g) * (G / 4) * qstride;
    __m256i c32[T];
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) c32[t] = _mm256_setzero_si256();
    for (int j = 0; j < G / 4; ++j) {
      const __m256i v = Load32(bg + 32 + 32 * j);
      const __m256i av = _mm256_abs_epi8(v);
      const int8_t* qs = qg + j * qstride;
#pragma GCC unroll 12
      for (int t = 0; t < T; ++t) {
        const __m256i sq = _mm256_sign_epi8(Bcast4(qs + 4 * t), v);
        c32[t] = _mm256_add_epi32(c32[t], QWIDEN(QDOT(_mm256_setzero_si256(), av, sq), ones16));
        asm volatile("" : "+x"(c32[t])::"memory");  // as in TileTrit
      }
    }
    const __m256 sc = Scales8(bg), mn = Scales8(bg + 16);
#pragma GCC unroll 12
    for (int t = 0; t < T; ++t) {
      const size_t at = static_cast<size_t>(t0 + t) * ng + g;
      const __m256 d = _mm256_set1_ps(a.d[at]);
      const __m256i c = _mm256_add_epi32(c32[t], _mm256_set1_epi32(w.offset * a.sum[at]));
      __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c), _mm256_mul_ps(sc, d),
                                 _mm256_loadu_ps(fa + 8 * t));
      f = _mm256_fmadd_ps(_mm256_set1_ps(static_cast<float>(a.sum[at])), _mm256_mul_ps(mn, d), f);
      _mm256_storeu_ps(fa + 8 * t, f);
    }
  }
}

void Gemm(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y, int64_t y_stride) {
  // Sub-tile sizes, largest first: as many int accumulators as registers allow (INT_G keeps an
  // int32 and an int16 one per token, kInt8 a few temporaries).
  static constexpr int kTritSizes[] = {12, 8, 4, 2, 1};
  static constexpr int kIntGSizes[] = {6, 4, 2, 1};
  static constexpr int kInt8Sizes[] = {8, 4, 2, 1};
  static const QTileFn trit_fns[] = {TileTrit<12>, TileTrit<8>, TileTrit<4>, TileTrit<2>,
                                     TileTrit<1>};
  static const QTileFn intg_fns[] = {TileIntG<6>, TileIntG<4>, TileIntG<2>, TileIntG<1>};
  static const QTileFn int8_fns[] = {TileInt8<8>, TileInt8<4>, TileInt8<2>, TileInt8<1>};
  switch (w.kind) {
    case QKind::kTrit: return QGemmTiles(w, a, b0, b1, y, y_stride, kTritSizes, trit_fns);
    case QKind::kIntG4: return QGemmTiles(w, a, b0, b1, y, y_stride, kIntGSizes, intg_fns);
    case QKind::kInt8: return QGemmTiles(w, a, b0, b1, y, y_stride, kInt8Sizes, int8_fns);
    case QKind::kTritB3: return QTRITB3_GEMM(w, a, b0, b1, y, y_stride);
  }
}

}  // namespace

const QKernels QKERNELS_NAME = {Gemv, Gemm, QKERNELS_STR};

}  // namespace tritium
