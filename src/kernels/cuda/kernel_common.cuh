// Device helpers shared by the kernels: fp16 pair decoding of the GPU layouts (repack.h) and warp
// reductions.
#ifndef TRITIUM_KERNELS_CUDA_KERNEL_COMMON_CUH_
#define TRITIUM_KERNELS_CUDA_KERNEL_COMMON_CUH_

#include <cuda_fp16.h>

#include <cstdint>

namespace tritium::cuda {

__device__ __forceinline__ __half2 AsHalf2(uint32_t u) {
  __half2 h;
  static_assert(sizeof(h) == 4);
  memcpy(&h, &u, 4);
  return h;
}

// 0x6400 is fp16 1024.0, whose unit in the last place is 1: OR-ing a small integer c into the low
// mantissa bits gives exactly 1024 + c, for both halves at once. Subtracting 1024 + offset then
// gives c - offset exactly. One shift, one LOP3 and one HSUB2 decode two weights.
constexpr uint32_t kMagic1024 = 0x64006400u;

// Trit pair i (0..7) of a trit word: (t[2i], t[2i + 1]) in {-1, 0, 1}.
__device__ __forceinline__ __half2 TritPair(uint32_t word, int i) {
  return __hsub2(AsHalf2(((word >> (2 * i)) & 0x00030003u) | kMagic1024),
                 AsHalf2(0x64016401u));  // 1025
}

// INT4 pair i (0..3) of an INT4 word, minus `offset` (encoded as 1024 + offset in fp16 bits).
__device__ __forceinline__ __half2 Int4Pair(uint32_t word, int i, uint32_t offset_bits) {
  return __hsub2(AsHalf2(((word >> (4 * i)) & 0x000F000Fu) | kMagic1024), AsHalf2(offset_bits));
}
constexpr uint32_t kInt4Minus8 = 0x64086408u;  // 1032: yields q - 8 in [-8, 7]
constexpr uint32_t kInt4Exact = 0x64006400u;   // 1024: yields q in [0, 15]

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace tritium::cuda

#endif  // TRITIUM_KERNELS_CUDA_KERNEL_COMMON_CUH_
