#include "src/kernels/cpu/dot_half.h"

#include <cstring>
#include <vector>

#include "src/base/fp16.h"
#include "src/base/cpu_features.h"
#include "src/kernels/cpu/dot_f32.h"

namespace tritium {

void HalfGemvScalar(const uint8_t* w, size_t row_bytes, bool bf16, int64_t r0, int64_t r1,
                    const float* x, int64_t k, float* y) {
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* src = w + static_cast<size_t>(r) * row_bytes;
    for (int64_t i = 0; i < k; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      row[i] = bf16 ? Bf16ToF32(h) : F16ToF32(h);
    }
    const float* rp = row.data();
    DotTileScalar(&rp, 1, x, k, 1, k, y + r, 1);
  }
}

HalfGemvFn BestHalfGemv() {
#if defined(__x86_64__)
  if (GetCpuFeatures().avx2_fma) return HalfGemvAvx2;
#endif
  return nullptr;
}

}  // namespace tritium
