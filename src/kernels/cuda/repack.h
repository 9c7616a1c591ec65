// GPU weight layouts and the host-side repacking into them (plain C++: built and tested without a
// GPU). The on-disk formats (src/formats) pack trits 5 to a byte, which needs a base-3 division per
// digit; GPU kernels instead want one shift and one mask per pair of weights, so at load time every
// supported matrix is rewritten into the layouts below and uploaded once.
//
// Both layouts pad a row to cols_p = round_up(cols, kGpuColAlign) columns so that every row starts
// 16-byte aligned and a warp lane can read 64 columns with one 128-bit load per plane. Padding
// columns decode to 0 (trits) or to a finite value (INT4); kernels multiply them by zero
// activations, so they never reach a result.
//
// TRIT_PLANES(K, G), any K in 1..4 and G in {32, 64, 128, 256}:
//   codes:  uint32 [rows][K][cols_p / 16], plane-major inside a row. Word w of plane k holds
//           columns 16w .. 16w + 15; column 16w + 2i + h (i in 0..7, h in 0..1) is the 2-bit code
//           t + 1 at bits 16h + 2i .. 16h + 2i + 1. Pairs (2i, 2i + 1) sit in the low and high
//           half-word at the same shift, so `(word >> 2i) & 0x00030003` yields both codes of a
//           pair already placed as the mantissas of an fp16 pair (see the kernels).
//   scales: fp16 bits [rows][K][groups_p], groups_p = ceil(cols_p / G); groups past the last real
//           one hold 0. Column c of plane k uses scales[row][k][c / G] (the short last group of a
//           row starts at a multiple of G too, so the same division finds it).
//   Decodes to w = a_0 t_0 + ... + a_{K-1} t_{K-1} summed in plane order, as the reference does.
//   Cost: 2 bits a trit instead of 1.6 (K = 2, G = 128: 4.25 bpw on the device vs 3.5 on disk).
//
// INT_G(B = 4, G):
//   codes:  uint32 [rows][cols_p / 8]. Word w holds columns 8w .. 8w + 7; column 8w + 2i + h
//           (i in 0..3) is the 4-bit code at bits 16h + 4i .. 16h + 4i + 3. Padding codes are 0.
//   params: fp16 bits [rows][groups_p][2] = (s, m): column c decodes to m + s q with (s, m) of
//           group c / G; padding groups hold (0, 0).
#ifndef TRITIUM_KERNELS_CUDA_REPACK_H_
#define TRITIUM_KERNELS_CUDA_REPACK_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/base/status.h"
#include "src/kernels/matmul.h"

namespace tritium::cuda {

constexpr int64_t kGpuColAlign = 64;

constexpr int64_t GpuPaddedCols(int64_t cols) {
  return (cols + kGpuColAlign - 1) / kGpuColAlign * kGpuColAlign;
}

struct GpuTritMatrix {
  int64_t rows = 0, cols = 0, cols_p = 0;
  int planes = 0, group = 0;
  int64_t groups_p = 0;
  std::vector<uint32_t> codes;   // [rows][planes][cols_p / 16]
  std::vector<uint16_t> scales;  // [rows][planes][groups_p], fp16 bits
  int64_t words_per_plane() const { return cols_p / 16; }
  size_t bytes() const { return codes.size() * 4 + scales.size() * 2; }
};

struct GpuInt4Matrix {
  int64_t rows = 0, cols = 0, cols_p = 0;
  int group = 0;
  int64_t groups_p = 0;
  std::vector<uint32_t> codes;   // [rows][cols_p / 8]
  std::vector<uint16_t> params;  // [rows][groups_p][2] = (s, m), fp16 bits
  int64_t words_per_row() const { return cols_p / 8; }
  size_t bytes() const { return codes.size() * 4 + params.size() * 2; }
};

// True iff the GPU has a dedicated kernel for this matrix (TRIT_PLANES, or INT_G with B = 4);
// everything else is dequantized to fp32 at upload.
bool HasGpuKernel(const WeightView& w);

// Repacks a TRIT_PLANES matrix. InvalidArgument for any other format or bad params.
StatusOr<GpuTritMatrix> RepackTritPlanes(const WeightView& w);
// Repacks an INT_G matrix with B = 4.
StatusOr<GpuInt4Matrix> RepackInt4(const WeightView& w);

// Reference decoders of the GPU layouts (the repack test's oracle, and documentation of the layout
// in code): write row `row`'s first `cols` weights to dst.
void DequantizeGpuRow(const GpuTritMatrix& m, int64_t row, float* dst);
void DequantizeGpuRow(const GpuInt4Matrix& m, int64_t row, float* dst);

// Dequantizes any matrix to row-major fp32 [rows][cols] (the fallback upload path).
std::vector<float> DequantizeToF32(const WeightView& w);

}  // namespace tritium::cuda

#endif  // TRITIUM_KERNELS_CUDA_REPACK_H_
