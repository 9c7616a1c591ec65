// AVX2 trit step for K <= 2 (the twin of TritStepScalar, which uses TritSearch). Instead of a
// branchy binary search per weight, every weight is compared with all 3^K combinations' levels,
// four weights at a time, visiting the combinations in tie order with a strict "<": the first
// minimum wins, which is exactly BruteForceTritSearch's rule, so the codes are bit-identical. The
// squared distances are computed as the reference computes them ((w - level)^2 in double, no FMA).
#include <immintrin.h>

#include <cmath>

#include "src/quant/ptqtp.h"

namespace tritium::ptqtp {

bool TritStepAvx2(const float* w, int n, int planes, const double* scales, uint8_t* codes) {
  const std::vector<int>& order = TieOrder(planes);
  const int m = static_cast<int>(order.size());
  double level[kMaxCombos];
  for (int i = 0; i < m; ++i) level[i] = ComboLevel(planes, order[i], scales);
  const uint8_t zero = static_cast<uint8_t>(ZeroCombo(planes));
  bool changed = false;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(w + j));
    __m256d best = _mm256_set1_pd(INFINITY);
    // A non-finite weight compares false everywhere and keeps the zero combination.
    __m256d code = _mm256_set1_pd(zero);
    for (int i = 0; i < m; ++i) {
      const __m256d diff = _mm256_sub_pd(x, _mm256_set1_pd(level[i]));
      const __m256d d = _mm256_mul_pd(diff, diff);
      const __m256d lt = _mm256_cmp_pd(d, best, _CMP_LT_OQ);
      best = _mm256_blendv_pd(best, d, lt);
      code = _mm256_blendv_pd(code, _mm256_set1_pd(order[i]), lt);
    }
    const __m128i c32 = _mm256_cvtpd_epi32(code);
    const __m128i c8 = _mm_shuffle_epi8(
        c32, _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
    uint32_t packed = static_cast<uint32_t>(_mm_cvtsi128_si32(c8)), old;
    __builtin_memcpy(&old, codes + j, 4);
    changed |= packed != old;
    __builtin_memcpy(codes + j, &packed, 4);
  }
  for (; j < n; ++j) {
    const double x = w[j];
    double best = INFINITY;
    int c = zero;
    for (int i = 0; i < m; ++i) {
      const double diff = x - level[i];
      const double d = diff * diff;
      if (d < best) {
        best = d;
        c = order[i];
      }
    }
    changed |= c != codes[j];
    codes[j] = static_cast<uint8_t>(c);
  }
  return changed;
}

}  // namespace tritium::ptqtp
