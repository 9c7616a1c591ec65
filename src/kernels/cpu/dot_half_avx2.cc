// AVX2 twin of HalfGemvScalar: 4 rows share each activation load; widening is exact (F16C for
// F16, a 16-bit shift for BF16), then the dot_f32.h order of operations.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "src/base/fp16.h"
#include "src/kernels/cpu/dot_half.h"

namespace tritium {

namespace {

template <bool kBf16>
inline __m256 Load8(const uint8_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kBf16) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_cvtph_ps(h);
  }
}

inline float Reduce(__m256 acc) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}

template <bool kBf16>
float Tail(const uint8_t* w, const float* x, int64_t k8, int64_t k, float s) {
  for (int64_t i = k8; i < k; ++i) {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    s = std::fma(kBf16 ? Bf16ToF32(h) : F16ToF32(h), x[i], s);
  }
  return s;
}

// kPrefetch: each step also prefetches one cache line of the next 4 rows (a step reads 4 x 16
// bytes, so the next group is covered line by line as this one is read). For short rows the
// hardware prefetcher does not keep up with 4 interleaved streams that each end after a few lines:
// a 32000 x 384 BF16 GEMV (a tied LLM head) read 7 GB/s on one core without it and 14 with it,
// against 15-18 for 4096-column rows, where the extra prefetches cost ~10% (docs/kernels.md).
constexpr size_t kPrefetchBelowRowBytes = 4096;

template <bool kBf16, bool kPrefetch>
void Gemv(const uint8_t* w, size_t rb, int64_t r0, int64_t r1, const float* x, int64_t k,
          float* y) {
  const int64_t k8 = k & ~int64_t{7};
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const uint8_t* w0 = w + static_cast<size_t>(r) * rb;
    const uint8_t* w1 = w0 + rb;
    const uint8_t* w2 = w1 + rb;
    const uint8_t* w3 = w2 + rb;
    const uint8_t* next = w0 + 4 * rb;  // past the matrix on the last group: prefetch never faults
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < k8; i += 8) {
      if constexpr (kPrefetch) {
        _mm_prefetch(reinterpret_cast<const char*>(next + 8 * i), _MM_HINT_T0);
      }
      const __m256 xv = _mm256_loadu_ps(x + i);
      a0 = _mm256_fmadd_ps(Load8<kBf16>(w0 + 2 * i), xv, a0);
      a1 = _mm256_fmadd_ps(Load8<kBf16>(w1 + 2 * i), xv, a1);
      a2 = _mm256_fmadd_ps(Load8<kBf16>(w2 + 2 * i), xv, a2);
      a3 = _mm256_fmadd_ps(Load8<kBf16>(w3 + 2 * i), xv, a3);
    }
    y[r] = Tail<kBf16>(w0, x, k8, k, Reduce(a0));
    y[r + 1] = Tail<kBf16>(w1, x, k8, k, Reduce(a1));
    y[r + 2] = Tail<kBf16>(w2, x, k8, k, Reduce(a2));
    y[r + 3] = Tail<kBf16>(w3, x, k8, k, Reduce(a3));
  }
  for (; r < r1; ++r) {
    const uint8_t* w0 = w + static_cast<size_t>(r) * rb;
    __m256 a0 = _mm256_setzero_ps();
    for (int64_t i = 0; i < k8; i += 8) {
      a0 = _mm256_fmadd_ps(Load8<kBf16>(w0 + 2 * i), _mm256_loadu_ps(x + i), a0);
    }
    y[r] = Tail<kBf16>(w0, x, k8, k, Reduce(a0));
  }
}

}  // namespace

void HalfGemvAvx2(const uint8_t* w, size_t row_bytes, bool bf16, int64_t r0, int64_t r1,
                  const float* x, int64_t k, float* y) {
  const bool pf = row_bytes < kPrefetchBelowRowBytes;
  if (bf16) {
    (pf ? Gemv<true, true> : Gemv<true, false>)(w, row_bytes, r0, r1, x, k, y);
  } else {
    (pf ? Gemv<false, true> : Gemv<false, false>)(w, row_bytes, r0, r1, x, k, y);
  }
}

}  // namespace tritium
