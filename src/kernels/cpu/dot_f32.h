// Float dot-product tiles with one fixed order of operations: 8 lanes of fused multiply-adds over
// k in steps of 8, the lanes reduced as (l + l+4), then (l + l+2), then (0 + 1), then the k % 8 tail
// added by sequential fused multiply-adds. The scalar and AVX2 versions follow this order exactly, so
// they agree bit for bit, and every output element is computed the same way wherever it falls in a
// tile, which makes results independent of how work is split across threads.
#ifndef TRITIUM_KERNELS_CPU_DOT_F32_H_
#define TRITIUM_KERNELS_CPU_DOT_F32_H_

#include <cstdint>

namespace tritium {

// y[t * y_stride + r] = dot(w[r], x[t]) for r < nr, t < nt, with w[r] a pointer per row.
// Row pointers allow dequantized rows in scratch buffers and rows in place alike.
using DotTileFn = void (*)(const float* const* w, int nr, const float* x, int64_t x_stride,
                           int nt, int64_t k, float* y, int64_t y_stride);

void DotTileScalar(const float* const* w, int nr, const float* x, int64_t x_stride, int nt,
                   int64_t k, float* y, int64_t y_stride);
void DotTileAvx2(const float* const* w, int nr, const float* x, int64_t x_stride, int nt,
                 int64_t k, float* y, int64_t y_stride);

// The best tile function for this CPU.
DotTileFn BestDotTile();

}  // namespace tritium

#endif  // TRITIUM_KERNELS_CPU_DOT_F32_H_
