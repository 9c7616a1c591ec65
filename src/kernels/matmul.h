// Matrix products of a stored weight matrix with activations: Y[t] = W X[t] for a batch of tokens.
// This header is the one entry point the model uses; it picks a kernel by format and CPU.
#ifndef TRITIUM_KERNELS_MATMUL_H_
#define TRITIUM_KERNELS_MATMUL_H_

#include <cstddef>
#include <cstdint>

#include "src/base/threads.h"
#include "src/formats/format.h"

namespace tritium {

class PreparedWeight;

// A weight matrix as stored: rows x cols, each row packed in `format` (row_bytes bytes a row).
struct WeightView {
  const Format* format = nullptr;
  FormatParams params;
  int64_t rows = 0, cols = 0;
  size_t row_bytes = 0;
  const uint8_t* data = nullptr;
  // The same matrix repacked for the fast kernels (PreparedWeight::Prepare, done once at load), or
  // nullptr: MatMul then dequantizes rows and runs the float dot tiles.
  const PreparedWeight* prepared = nullptr;
};

// Y[n_tokens x rows] = X[n_tokens x cols] * W^T, row-major, X rows contiguous with stride cols and
// Y rows with stride rows. Bit-identical for any thread count. With w.prepared set and a SIMD
// target available (TRITIUM_CPU=scalar turns it off), runs the integer kernels of
// src/kernels/cpu/quant_kernels.h: activations are quantized to int8 per weight group, so results
// differ from MatMulReference by that rounding (docs/kernels.md gives the bound).
void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool);

// The scalar reference: decodes each row with the format's reference decoder and takes plain dot
// products in double. Slow; the oracle for tests.
void MatMulReference(const WeightView& w, const float* x, int64_t n_tokens, float* y);

}  // namespace tritium

#endif  // TRITIUM_KERNELS_MATMUL_H_
