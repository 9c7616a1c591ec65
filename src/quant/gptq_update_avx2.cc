// AVX2 twin of gptq::BlockUpdateScalar (gptq.h): four columns at a time, the product and the
// difference rounded separately (no FMA), so every value is bit-identical to the scalar loop.
#include <immintrin.h>

#include "src/quant/gptq.h"

namespace tritium::gptq {

void BlockUpdateAvx2(double* w, const double* e, int64_t np, const double* u, int64_t ldu,
                     int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += kUpdateChunk) {
    const int64_t j1 = j0 + kUpdateChunk < n ? j0 + kUpdateChunk : n;
    for (int64_t p = 0; p < np; ++p) {
      if (e[p] == 0.0) continue;
      const double* up = u + p * ldu;
      const __m256d ev = _mm256_set1_pd(e[p]);
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) {
        const __m256d prod = _mm256_mul_pd(ev, _mm256_loadu_pd(up + j));
        _mm256_storeu_pd(w + j, _mm256_sub_pd(_mm256_loadu_pd(w + j), prod));
      }
      for (; j < j1; ++j) w[j] -= e[p] * up[j];
    }
  }
}

}  // namespace tritium::gptq
