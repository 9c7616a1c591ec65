// Decode-time (one token) dot products straight from F16 / BF16 rows: each weight is widened to
// float in registers and takes the fixed order of operations of dot_f32.h (8 lanes of fused
// multiply-adds, the same lane reduction, the same tail), so the result equals dequantizing the row
// and calling DotTileScalar, bit for bit. Saves the scratch round trip of the generic path, which
// matters for the output head of small models (a BF16 32000 x 384 head is most of their bytes).
#ifndef TRITIUM_KERNELS_CPU_DOT_HALF_H_
#define TRITIUM_KERNELS_CPU_DOT_HALF_H_

#include <cstddef>
#include <cstdint>

namespace tritium {

// y[r] = dot(row r, x) for rows [r0, r1) of a matrix of `k` columns stored at `w` with `row_bytes`
// bytes a row, in F16 (bf16 = false) or BF16.
using HalfGemvFn = void (*)(const uint8_t* w, size_t row_bytes, bool bf16, int64_t r0, int64_t r1,
                            const float* x, int64_t k, float* y);

void HalfGemvScalar(const uint8_t* w, size_t row_bytes, bool bf16, int64_t r0, int64_t r1,
                    const float* x, int64_t k, float* y);
void HalfGemvAvx2(const uint8_t* w, size_t row_bytes, bool bf16, int64_t r0, int64_t r1,
                  const float* x, int64_t k, float* y);

// The AVX2 version where the CPU has it, else nullptr (MatMul's generic path is as fast).
HalfGemvFn BestHalfGemv();

}  // namespace tritium

#endif  // TRITIUM_KERNELS_CPU_DOT_HALF_H_
