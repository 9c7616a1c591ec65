// Matrix products of a stored weight matrix with activations: Y[t] = W X[t] for a batch of tokens.
// This header is the one entry point the model uses; it picks a kernel by format and CPU.
#ifndef TRITIUM_KERNELS_MATMUL_H_
#define TRITIUM_KERNELS_MATMUL_H_

#include <cstddef>
#include <cstdint>

#include "src/base/threads.h"
#include "src/formats/format.h"

namespace tritium {

// A weight matrix as stored: rows x cols, each row packed in `format` (row_bytes bytes a row).
struct WeightView {
  const Format* format = nullptr;
  FormatParams params;
  int64_t rows = 0, cols = 0;
  size_t row_bytes = 0;
  const uint8_t* data = nullptr;
};

// Y[n_tokens x rows] = X[n_tokens x cols] * W^T, row-major, X rows contiguous with stride cols and
// Y rows with stride rows. Bit-identical for any thread count.
void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool);

// The scalar reference: decodes each row with the format's reference decoder and takes plain dot
// products in double. Slow; the oracle for tests.
void MatMulReference(const WeightView& w, const float* x, int64_t n_tokens, float* y);

}  // namespace tritium

#endif  // TRITIUM_KERNELS_MATMUL_H_
