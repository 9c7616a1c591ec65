// Prefill products (many tokens): tensor cores on fp16 tiles dequantized on the fly, and the
// dequantize-whole-matrix + cublasGemmEx alternative.
//
// Tensor-core kernel: a block computes a 128 (weight rows) x 128 (tokens) tile of y, stepping
// through the columns 64 at a time. Each step every thread decodes 32 weights of one row (all K
// planes, fp16 HFMA2 with the plane scales) into shared memory and copies 32 activations of one
// token; then 8 warps (4 along rows x 2 along tokens, 32 x 64 each) run 16x16x16 WMMA products
// with fp32 accumulators. Shared rows are padded to 72 halves, which keeps both the 128-bit stores
// and the WMMA fragment loads free of bank conflicts. The epilogue goes through a per-warp staging
// tile so that each output is multiplied by its token's activation scale and edge tiles are cut.
// Not yet pipelined (cp.async / TMA double buffering is the first thing to try on a GPU).
#include <mma.h>

#include "src/kernels/cuda/cuda_internal.h"
#include "src/kernels/cuda/kernel_common.cuh"

namespace tritium::cuda {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 64, kLd = kBK + 8;
constexpr int kThreads = 256;
constexpr int kMaxPlanes = 4;

struct WeightArgs {
  const uint32_t* codes;
  const void* scales;
  int64_t rows, cols_p, groups_p;
  int planes, log2g;
};

WeightArgs Args(const Matrix::Impl& w) {
  return {static_cast<const uint32_t*>(w.codes.data()),
          w.scales.data(),
          w.rows,
          w.cols_p,
          w.groups_p,
          w.planes,
          w.log2g};
}

// 32 weights of `row` from column `col` (a multiple of 32, so one group) as 16 fp16 pairs in
// column order.
__device__ __forceinline__ void DecodeTrit32(const WeightArgs& w, int64_t row, int64_t col,
                                             __half2 (&out)[16]) {
  const int64_t wpp = w.cols_p / 16;
  const __half* scales = static_cast<const __half*>(w.scales);
#pragma unroll
  for (int k = 0; k < kMaxPlanes; ++k) {
    if (k < w.planes) {
      const uint2 v =
          __ldg(reinterpret_cast<const uint2*>(w.codes + (row * w.planes + k) * wpp + col / 16));
      const __half2 a = __half2half2(scales[(row * w.planes + k) * w.groups_p + (col >> w.log2g)]);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const __half2 d0 = TritPair(v.x, i), d1 = TritPair(v.y, i);
        // Plane 0 by multiplication (exact), later planes accumulate: the reference's order.
        out[i] = k == 0 ? __hmul2(d0, a) : __hfma2(d0, a, out[i]);
        out[8 + i] = k == 0 ? __hmul2(d1, a) : __hfma2(d1, a, out[8 + i]);
      }
    }
  }
}

__device__ __forceinline__ void DecodeInt4_32(const WeightArgs& w, int64_t row, int64_t col,
                                              __half2 (&out)[16]) {
  const int64_t wpr = w.cols_p / 8;
  const uint4 v = __ldg(reinterpret_cast<const uint4*>(w.codes + row * wpr + col / 8));
  const __half2 p = static_cast<const __half2*>(w.scales)[row * w.groups_p + (col >> w.log2g)];
  const __half2 s = __low2half2(p), m = __high2half2(p);
  const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) out[4 * j + i] = __hfma2(Int4Pair(words[j], i, kInt4Exact), s, m);
  }
}

template <bool kInt4>
__device__ __forceinline__ void Decode32(const WeightArgs& w, int64_t row, int64_t col,
                                         __half2 (&out)[16]) {
  if constexpr (kInt4) {
    DecodeInt4_32(w, row, col, out);
  } else {
    DecodeTrit32(w, row, col, out);
  }
}

__device__ __forceinline__ void Store32(const __half2 (&v)[16], __half* dst) {
  uint4* d = reinterpret_cast<uint4*>(dst);
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    uint4 u;
    memcpy(&u, &v[4 * q], 16);
    d[q] = u;
  }
}

template <bool kInt4>
__global__ void __launch_bounds__(kThreads)
    TensorCoreGemmKernel(WeightArgs w, const __half* __restrict__ xh,
                         const float* __restrict__ xscale, int64_t n, float* __restrict__ y) {
  using namespace nvcuda;
  __shared__ __align__(128) __half ws[kBM * kLd];
  __shared__ __align__(128) __half xs[kBN * kLd];
  __shared__ __align__(128) float stage[kThreads / 32][16 * 16];
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t bm = static_cast<int64_t>(blockIdx.x) * kBM;
  const int64_t bn = static_cast<int64_t>(blockIdx.y) * kBN;
  const int wm = warp % 4, wn = warp / 4;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][4];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  }
  const int r = tid / 2, h = tid % 2;  // this thread's tile row / token and column half
  const int64_t row = bm + r, tok = bn + r;
  for (int64_t k0 = 0; k0 < w.cols_p; k0 += kBK) {
    __half2 v[16];
    if (row < w.rows) {
      Decode32<kInt4>(w, row, k0 + 32 * h, v);
    } else {
#pragma unroll
      for (int i = 0; i < 16; ++i) v[i] = __float2half2_rn(0.0f);
    }
    Store32(v, ws + r * kLd + 32 * h);
    uint4* xd = reinterpret_cast<uint4*>(xs + r * kLd + 32 * h);
    if (tok < n) {
      const uint4* xsrc = reinterpret_cast<const uint4*>(xh + tok * w.cols_p + k0 + 32 * h);
#pragma unroll
      for (int q = 0; q < 4; ++q) xd[q] = xsrc[q];
    } else {
#pragma unroll
      for (int q = 0; q < 4; ++q) xd[q] = make_uint4(0, 0, 0, 0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[4];
#pragma unroll
      for (int i = 0; i < 2; ++i)
        wmma::load_matrix_sync(a[i], ws + (wm * 32 + 16 * i) * kLd + kk, kLd);
#pragma unroll
      for (int j = 0; j < 4; ++j)
        wmma::load_matrix_sync(b[j], xs + (wn * 64 + 16 * j) * kLd + kk, kLd);
#pragma unroll
      for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      }
    }
    __syncthreads();
  }
  // Epilogue: stage[rr][cc] = y(row rr, token cc) of one 16x16 fragment at a time.
  float* st = stage[warp];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      wmma::store_matrix_sync(st, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int rr = e % 16, cc = e / 16;  // consecutive lanes: consecutive rows of y
        const int64_t orow = bm + wm * 32 + 16 * i + rr;
        const int64_t otok = bn + wn * 64 + 16 * j + cc;
        if (orow < w.rows && otok < n) y[otok * w.rows + orow] = st[rr * 16 + cc] * xscale[otok];
      }
      __syncwarp();
    }
  }
}

// Whole matrix to fp16 [rows][cols_p]; one thread per 32 weights.
template <bool kInt4>
__global__ void __launch_bounds__(256) DequantKernel(WeightArgs w, __half* __restrict__ out) {
  const int64_t per_row = w.cols_p / 32;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= w.rows * per_row) return;
  const int64_t row = idx / per_row, col = (idx % per_row) * 32;
  __half2 v[16];
  Decode32<kInt4>(w, row, col, v);
  Store32(v, out + row * w.cols_p + col);
}

// y[t][r] *= scale[t].
__global__ void ScaleTokensKernel(float* __restrict__ y, const float* __restrict__ scale,
                                  int64_t rows, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * n) y[i] *= scale[i / rows];
}

}  // namespace

Status LaunchTensorCoreGemm(Context::Impl& ctx, const Matrix::Impl& w, const __half* xh,
                            const float* scale, int64_t n, float* y) {
  if (w.kind == MatrixKind::kF32) return InternalError("tensor-core GEMM: fp32 uses cuBLAS");
  const dim3 grid(static_cast<unsigned>((w.rows + kBM - 1) / kBM),
                  static_cast<unsigned>((n + kBN - 1) / kBN));
  if (grid.y > 65535) return InvalidArgumentError("tensor-core GEMM: too many tokens");
  if (w.kind == MatrixKind::kInt4) {
    TensorCoreGemmKernel<true><<<grid, kThreads, 0, ctx.stream>>>(Args(w), xh, scale, n, y);
  } else {
    TensorCoreGemmKernel<false><<<grid, kThreads, 0, ctx.stream>>>(Args(w), xh, scale, n, y);
  }
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

Status DequantCublasGemm(Context::Impl& ctx, const Matrix::Impl& w, const __half* xh,
                         const float* scale, int64_t n, float* y) {
  if (w.kind == MatrixKind::kF32) return InternalError("dequant GEMM: fp32 uses cuBLAS directly");
  TRITIUM_RETURN_IF_ERROR(
      EnsureSize(&ctx.wh, static_cast<size_t>(w.rows * w.cols_p) * sizeof(__half)));
  __half* wh = static_cast<__half*>(ctx.wh.data());
  const int64_t threads = w.rows * (w.cols_p / 32);
  const unsigned blocks = static_cast<unsigned>((threads + 255) / 256);
  if (w.kind == MatrixKind::kInt4) {
    DequantKernel<true><<<blocks, 256, 0, ctx.stream>>>(Args(w), wh);
  } else {
    DequantKernel<false><<<blocks, 256, 0, ctx.stream>>>(Args(w), wh);
  }
  TRITIUM_CUDA_CHECK_LAUNCH();
  // Row-major W [rows][cols_p] is column-major W^T: y^T [rows][n] = W x^T, fp32 accumulation.
  const float one = 1.0f, zero = 0.0f;
  TRITIUM_CUBLAS_RETURN_IF_ERROR(
      cublasGemmEx(ctx.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(w.rows),
                   static_cast<int>(n), static_cast<int>(w.cols_p), &one, wh, CUDA_R_16F,
                   static_cast<int>(w.cols_p), xh, CUDA_R_16F, static_cast<int>(w.cols_p), &zero, y,
                   CUDA_R_32F, static_cast<int>(w.rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  const int64_t total = w.rows * n;
  ScaleTokensKernel<<<static_cast<unsigned>((total + 255) / 256), 256, 0, ctx.stream>>>(y, scale,
                                                                                        w.rows, n);
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

}  // namespace tritium::cuda
