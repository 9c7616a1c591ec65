// AVX2 + FMA twin of DotTileScalar (same order of operations, bit-identical results).
#include <immintrin.h>

#include <cmath>

#include "src/kernels/cpu/dot_f32.h"

namespace tritium {

namespace {

inline float Reduce(__m256 acc) {
  // (l + l+4), then (l + l+2), then (0 + 1): the order DotScalar uses.
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}

inline float Tail(const float* w, const float* x, int64_t k8, int64_t k, float s) {
  for (int64_t i = k8; i < k; ++i) s = std::fma(w[i], x[i], s);
  return s;
}

// 3 weight rows x 4 tokens: 12 accumulators + 3 row registers + 1 activation register.
void Tile3x4(const float* const* w, const float* x, int64_t x_stride, int64_t k, float* y,
             int64_t y_stride) {
  __m256 a[3][4];
  for (auto& row : a) for (auto& v : row) v = _mm256_setzero_ps();
  const float* w0 = w[0];
  const float* w1 = w[1];
  const float* w2 = w[2];
  const float* x0 = x;
  const float* x1 = x + x_stride;
  const float* x2 = x + 2 * x_stride;
  const float* x3 = x + 3 * x_stride;
  int64_t k8 = k & ~int64_t{7};
  for (int64_t i = 0; i < k8; i += 8) {
    __m256 r0 = _mm256_loadu_ps(w0 + i), r1 = _mm256_loadu_ps(w1 + i), r2 = _mm256_loadu_ps(w2 + i);
    __m256 xv = _mm256_loadu_ps(x0 + i);
    a[0][0] = _mm256_fmadd_ps(r0, xv, a[0][0]);
    a[1][0] = _mm256_fmadd_ps(r1, xv, a[1][0]);
    a[2][0] = _mm256_fmadd_ps(r2, xv, a[2][0]);
    xv = _mm256_loadu_ps(x1 + i);
    a[0][1] = _mm256_fmadd_ps(r0, xv, a[0][1]);
    a[1][1] = _mm256_fmadd_ps(r1, xv, a[1][1]);
    a[2][1] = _mm256_fmadd_ps(r2, xv, a[2][1]);
    xv = _mm256_loadu_ps(x2 + i);
    a[0][2] = _mm256_fmadd_ps(r0, xv, a[0][2]);
    a[1][2] = _mm256_fmadd_ps(r1, xv, a[1][2]);
    a[2][2] = _mm256_fmadd_ps(r2, xv, a[2][2]);
    xv = _mm256_loadu_ps(x3 + i);
    a[0][3] = _mm256_fmadd_ps(r0, xv, a[0][3]);
    a[1][3] = _mm256_fmadd_ps(r1, xv, a[1][3]);
    a[2][3] = _mm256_fmadd_ps(r2, xv, a[2][3]);
  }
  const float* xs[4] = {x0, x1, x2, x3};
  for (int r = 0; r < 3; ++r) {
    for (int t = 0; t < 4; ++t) y[t * y_stride + r] = Tail(w[r], xs[t], k8, k, Reduce(a[r][t]));
  }
}

// 4 weight rows x 1 token (decode). kPrefetch: as in dot_half_avx2.cc, short rows also prefetch
// 4 rows ahead, here the group after the next one (each step reads 4 x 32 bytes: two lines of
// it); a 32000 x 384 F32 GEMV went from ~10.5 to 13-15 GB/s on one core. Rows are contiguous in
// a weight matrix; where they are not, the prefetches only miss (they never fault).
constexpr int64_t kPrefetchBelowCols = 1024;

template <bool kPrefetch>
void Tile4x1(const float* const* w, const float* x, int64_t k, float* y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t k8 = k & ~int64_t{7};
  const char* next = reinterpret_cast<const char*>(w[3] + k + 2 * 4 * k);
  for (int64_t i = 0; i < k8; i += 8) {
    if constexpr (kPrefetch) {
      _mm_prefetch(next + 16 * i, _MM_HINT_T0);
      _mm_prefetch(next + 16 * i + 64, _MM_HINT_T0);
    }
    __m256 xv = _mm256_loadu_ps(x + i);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w[0] + i), xv, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w[1] + i), xv, a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w[2] + i), xv, a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w[3] + i), xv, a3);
  }
  y[0] = Tail(w[0], x, k8, k, Reduce(a0));
  y[1] = Tail(w[1], x, k8, k, Reduce(a1));
  y[2] = Tail(w[2], x, k8, k, Reduce(a2));
  y[3] = Tail(w[3], x, k8, k, Reduce(a3));
}

float Dot1(const float* w, const float* x, int64_t k) {
  __m256 a = _mm256_setzero_ps();
  int64_t k8 = k & ~int64_t{7};
  for (int64_t i = 0; i < k8; i += 8) {
    a = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a);
  }
  return Tail(w, x, k8, k, Reduce(a));
}

}  // namespace

void DotTileAvx2(const float* const* w, int nr, const float* x, int64_t x_stride, int nt,
                 int64_t k, float* y, int64_t y_stride) {
  int r = 0;
  if (nt == 1) {
    const auto tile = k < kPrefetchBelowCols ? Tile4x1<true> : Tile4x1<false>;
    for (; r + 4 <= nr; r += 4) tile(w + r, x, k, y + r);
    for (; r < nr; ++r) y[r] = Dot1(w[r], x, k);
    return;
  }
  for (; r + 3 <= nr; r += 3) {
    int t = 0;
    for (; t + 4 <= nt; t += 4) {
      Tile3x4(w + r, x + t * x_stride, x_stride, k, y + t * y_stride + r, y_stride);
    }
    for (; t < nt; ++t) {
      for (int rr = r; rr < r + 3; ++rr) y[t * y_stride + rr] = Dot1(w[rr], x + t * x_stride, k);
    }
  }
  for (; r < nr; ++r) {
    for (int t = 0; t < nt; ++t) y[t * y_stride + r] = Dot1(w[r], x + t * x_stride, k);
  }
}

}  // namespace tritium
