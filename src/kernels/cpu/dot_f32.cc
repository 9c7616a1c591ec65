#include "src/kernels/cpu/dot_f32.h"

#include <cmath>

#include "src/base/cpu_features.h"

namespace tritium {

namespace {

float DotScalar(const float* w, const float* x, int64_t k) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k8 = k & ~int64_t{7};
  for (int64_t i = 0; i < k8; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(w[i + l], x[i + l], acc[l]);
  }
  float s4[4], s2[2];
  for (int l = 0; l < 4; ++l) s4[l] = acc[l] + acc[l + 4];
  for (int l = 0; l < 2; ++l) s2[l] = s4[l] + s4[l + 2];
  float s = s2[0] + s2[1];
  for (int64_t i = k8; i < k; ++i) s = std::fma(w[i], x[i], s);
  return s;
}

}  // namespace

void DotTileScalar(const float* const* w, int nr, const float* x, int64_t x_stride, int nt,
                   int64_t k, float* y, int64_t y_stride) {
  for (int t = 0; t < nt; ++t) {
    for (int r = 0; r < nr; ++r) y[t * y_stride + r] = DotScalar(w[r], x + t * x_stride, k);
  }
}

DotTileFn BestDotTile() {
#if defined(__x86_64__)
  if (GetCpuFeatures().avx2_fma) return DotTileAvx2;
#endif
  return DotTileScalar;
}

}  // namespace tritium
