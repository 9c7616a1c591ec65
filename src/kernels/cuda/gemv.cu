// Decode-time products (1 to kGemvMaxTokens tokens): activation preparation and the GEMV kernels.
//
// GEMV design (weights are read once, so the kernel is bound by memory bandwidth, and on Hopper
// nearly by instruction issue too; every choice below cuts instructions per weight):
//   - one warp owns kRowsPerWarp rows; a lane takes 64 columns at a time (one 128-bit load per
//     plane and row), so a warp's load of one plane is 512 contiguous bytes;
//   - activations are staged per block in shared memory as fp16, kSlabCols columns at a time, each
//     64-column chunk padded by 16 bytes so the lanes' 128-bit reads (stride 144 bytes) hit
//     distinct banks;
//   - two weights decode with one shift, one LOP3 and one HSUB2 (kernel_common.cuh) and meet their
//     activations in one HFMA2; 8 pairs are summed in fp16, then scaled and summed in fp32;
//   - up to 4 tokens share each decoded weight; lanes reduce with shuffles at the end.
#include <algorithm>

#include "src/kernels/cuda/cuda_internal.h"
#include "src/kernels/cuda/kernel_common.cuh"

namespace tritium::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = 2;
constexpr int kMaxTokens = 4;  // per launch; LaunchGemv loops for more
constexpr int kSlabCols = 4096;
constexpr int kChunkPadded = 72;                          // halves per 64-column chunk in smem
constexpr int kSlabSmem = kSlabCols / 64 * kChunkPadded;  // halves per token
constexpr int kMaxPlanes = 4;

__device__ __forceinline__ int64_t Min64(int64_t a, int64_t b) { return a < b ? a : b; }

__device__ __forceinline__ int SmemIndex(int col) { return (col >> 6) * kChunkPadded + (col & 63); }

// --- Activation preparation ----------------------------------------------------------------------

__global__ void __launch_bounds__(256)
    PrepareKernel(const float* __restrict__ x, int64_t cols, int64_t cols_p,
                  __half* __restrict__ xh, float* __restrict__ scale) {
  const int64_t t = blockIdx.x;
  const float* xr = x + t * cols;
  float amax = 0.0f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) amax = fmaxf(amax, fabsf(xr[c]));
  __shared__ float red[8];
  amax = WarpMax(amax);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = amax;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.0f;
    v = WarpMax(v);
    if (threadIdx.x == 0) red[0] = v;
  }
  __syncthreads();
  amax = red[0];
  // s = 2^e with amax / s < 1024; the division by s is exact, so only the fp16 rounding is lost.
  float s = 1.0f;
  if (amax > 0.0f && isfinite(amax)) {
    int e;
    frexpf(amax / 1024.0f, &e);
    s = ldexpf(1.0f, e);
  }
  const float inv = 1.0f / s;
  if (threadIdx.x == 0) scale[t] = s;
  __half* out = xh + t * cols_p;
  for (int64_t c = threadIdx.x; c < cols_p; c += blockDim.x) {
    out[c] = __float2half_rn(c < cols ? xr[c] * inv : 0.0f);
  }
}

// Copies columns slab0 .. slab0 + slab of NT tokens into the padded shared layout.
template <int NT>
__device__ __forceinline__ void StageX(const __half* __restrict__ xh, int64_t cols_p, int64_t slab0,
                                       int slab, __half* xs) {
  const int vecs = slab / 8;
  for (int idx = threadIdx.x; idx < NT * vecs; idx += blockDim.x) {
    const int t = idx / vecs, col = (idx % vecs) * 8;
    const uint4 v = *reinterpret_cast<const uint4*>(xh + t * cols_p + slab0 + col);
    *reinterpret_cast<uint4*>(xs + t * kSlabSmem + SmemIndex(col)) = v;
  }
}

__device__ __forceinline__ uint32_t Word(const uint4& v, int j) {
  return j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w;
}

// Writes the warp's sums: y[t][row] = sum * scale[t].
template <int NT>
__device__ __forceinline__ void StoreRows(float (&acc)[kRowsPerWarp][NT], int64_t row0,
                                          int64_t rows, const float* __restrict__ scale,
                                          float* __restrict__ y, int64_t y_stride) {
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const float v = WarpSum(acc[rr][t]);
      if (threadIdx.x % 32 == 0 && row0 + rr < rows) y[t * y_stride + row0 + rr] = v * scale[t];
    }
  }
}

// --- TRIT_PLANES ---------------------------------------------------------------------------------

template <int NT>
__global__ void __launch_bounds__(kThreads)
    TritGemvKernel(const uint32_t* __restrict__ codes, const __half* __restrict__ scales,
                   int64_t rows, int64_t cols_p, int planes, int log2g, int64_t groups_p,
                   const __half* __restrict__ xh, const float* __restrict__ xscale,
                   float* __restrict__ y, int64_t y_stride) {
  __shared__ __align__(16) __half xs[NT * kSlabSmem];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row0 = (static_cast<int64_t>(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  const int64_t wpp = cols_p / 16;
  const uint32_t* rc[kRowsPerWarp];
  const __half* rs[kRowsPerWarp];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    // Rows past the end compute on the last row (no divergence) and are not stored.
    const int64_t row = Min64(row0 + rr, rows - 1);
    rc[rr] = codes + row * planes * wpp;
    rs[rr] = scales + row * planes * groups_p;
  }
  float acc[kRowsPerWarp][NT] = {};
  for (int64_t slab0 = 0; slab0 < cols_p; slab0 += kSlabCols) {
    const int slab = static_cast<int>(Min64(kSlabCols, cols_p - slab0));
    __syncthreads();
    StageX<NT>(xh, cols_p, slab0, slab, xs);
    __syncthreads();
    for (int ch = lane; ch < slab / 64; ch += 32) {
      const int64_t col0 = slab0 + ch * 64;
      const int64_t g0 = col0 >> log2g, g1 = (col0 + 32) >> log2g;  // G >= 32: two groups at most
      uint4 wv[kRowsPerWarp][kMaxPlanes];
      float s0[kRowsPerWarp][kMaxPlanes], s1[kRowsPerWarp][kMaxPlanes];
#pragma unroll
      for (int rr = 0; rr < kRowsPerWarp; ++rr) {
#pragma unroll
        for (int k = 0; k < kMaxPlanes; ++k) {
          if (k < planes) {
            wv[rr][k] = __ldg(reinterpret_cast<const uint4*>(rc[rr] + k * wpp + col0 / 16));
            s0[rr][k] = __half2float(rs[rr][k * groups_p + g0]);
            s1[rr][k] = __half2float(rs[rr][k * groups_p + g1]);
          }
        }
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        __half2 xv[NT][8];
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const uint4* p =
              reinterpret_cast<const uint4*>(xs + t * kSlabSmem + ch * kChunkPadded + 16 * j);
          const uint4 a = p[0], b = p[1];
          xv[t][0] = AsHalf2(a.x), xv[t][1] = AsHalf2(a.y), xv[t][2] = AsHalf2(a.z);
          xv[t][3] = AsHalf2(a.w), xv[t][4] = AsHalf2(b.x), xv[t][5] = AsHalf2(b.y);
          xv[t][6] = AsHalf2(b.z), xv[t][7] = AsHalf2(b.w);
        }
#pragma unroll
        for (int rr = 0; rr < kRowsPerWarp; ++rr) {
#pragma unroll
          for (int k = 0; k < kMaxPlanes; ++k) {
            if (k < planes) {
              const uint32_t word = Word(wv[rr][k], j);
              __half2 d[8];
#pragma unroll
              for (int i = 0; i < 8; ++i) d[i] = TritPair(word, i);
              const float s = j < 2 ? s0[rr][k] : s1[rr][k];
#pragma unroll
              for (int t = 0; t < NT; ++t) {
                __half2 a = __float2half2_rn(0.0f);
#pragma unroll
                for (int i = 0; i < 8; ++i) a = __hfma2(d[i], xv[t][i], a);
                const float2 f = __half22float2(a);
                acc[rr][t] = fmaf(s, f.x + f.y, acc[rr][t]);
              }
            }
          }
        }
      }
    }
  }
  StoreRows<NT>(acc, row0, rows, xscale, y, y_stride);
}

// --- INT_G, B = 4 --------------------------------------------------------------------------------

template <int NT>
__global__ void __launch_bounds__(kThreads)
    Int4GemvKernel(const uint32_t* __restrict__ codes, const __half2* __restrict__ params,
                   int64_t rows, int64_t cols_p, int log2g, int64_t groups_p,
                   const __half* __restrict__ xh, const float* __restrict__ xscale,
                   float* __restrict__ y, int64_t y_stride) {
  __shared__ __align__(16) __half xs[NT * kSlabSmem];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row0 = (static_cast<int64_t>(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  const int64_t wpr = cols_p / 8;
  const uint32_t* rc[kRowsPerWarp];
  const __half2* rp[kRowsPerWarp];
#pragma unroll
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {
    const int64_t row = Min64(row0 + rr, rows - 1);
    rc[rr] = codes + row * wpr;
    rp[rr] = params + row * groups_p;
  }
  float acc[kRowsPerWarp][NT] = {};
  for (int64_t slab0 = 0; slab0 < cols_p; slab0 += kSlabCols) {
    const int slab = static_cast<int>(Min64(kSlabCols, cols_p - slab0));
    __syncthreads();
    StageX<NT>(xh, cols_p, slab0, slab, xs);
    __syncthreads();
    for (int ch = lane; ch < slab / 64; ch += 32) {
      const int64_t col0 = slab0 + ch * 64;
      const int64_t g0 = col0 >> log2g, g1 = (col0 + 32) >> log2g;
      uint4 wv[kRowsPerWarp][2];
      float sc[kRowsPerWarp][2], off[kRowsPerWarp][2];  // w = off + s (q - 8), off = m + 8 s
#pragma unroll
      for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        const uint4* p = reinterpret_cast<const uint4*>(rc[rr] + col0 / 8);
        wv[rr][0] = __ldg(p);
        wv[rr][1] = __ldg(p + 1);
        const float2 a = __half22float2(rp[rr][g0]), b = __half22float2(rp[rr][g1]);
        sc[rr][0] = a.x, off[rr][0] = fmaf(8.0f, a.x, a.y);
        sc[rr][1] = b.x, off[rr][1] = fmaf(8.0f, b.x, b.y);
      }
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        __half2 xv[NT][4];
        float xsum[NT];
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const uint4 a =
              *reinterpret_cast<const uint4*>(xs + t * kSlabSmem + ch * kChunkPadded + 8 * j);
          xv[t][0] = AsHalf2(a.x), xv[t][1] = AsHalf2(a.y);
          xv[t][2] = AsHalf2(a.z), xv[t][3] = AsHalf2(a.w);
          const float2 f =
              __half22float2(__hadd2(__hadd2(xv[t][0], xv[t][1]), __hadd2(xv[t][2], xv[t][3])));
          xsum[t] = f.x + f.y;
        }
#pragma unroll
        for (int rr = 0; rr < kRowsPerWarp; ++rr) {
          const uint32_t word = Word(wv[rr][j / 4], j % 4);
          __half2 d[4];
#pragma unroll
          for (int i = 0; i < 4; ++i) d[i] = Int4Pair(word, i, kInt4Minus8);
          const float s = sc[rr][j / 4], o = off[rr][j / 4];
#pragma unroll
          for (int t = 0; t < NT; ++t) {
            __half2 a = __float2half2_rn(0.0f);
#pragma unroll
            for (int i = 0; i < 4; ++i) a = __hfma2(d[i], xv[t][i], a);
            const float2 f = __half22float2(a);
            acc[rr][t] = fmaf(s, f.x + f.y, fmaf(o, xsum[t], acc[rr][t]));
          }
        }
      }
    }
  }
  StoreRows<NT>(acc, row0, rows, xscale, y, y_stride);
}

template <int NT>
Status LaunchGemvTokens(Context::Impl& ctx, const Matrix::Impl& w, const __half* xh,
                        const float* scale, float* y) {
  const int64_t rows_per_block = kWarps * kRowsPerWarp;
  const dim3 grid(static_cast<unsigned>((w.rows + rows_per_block - 1) / rows_per_block));
  if (w.kind == MatrixKind::kTrit) {
    TritGemvKernel<NT><<<grid, kThreads, 0, ctx.stream>>>(
        static_cast<const uint32_t*>(w.codes.data()), static_cast<const __half*>(w.scales.data()),
        w.rows, w.cols_p, w.planes, w.log2g, w.groups_p, xh, scale, y, w.rows);
  } else {
    Int4GemvKernel<NT><<<grid, kThreads, 0, ctx.stream>>>(
        static_cast<const uint32_t*>(w.codes.data()), static_cast<const __half2*>(w.scales.data()),
        w.rows, w.cols_p, w.log2g, w.groups_p, xh, scale, y, w.rows);
  }
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

}  // namespace

Status PrepareActivations(Context::Impl& ctx, const float* x, int64_t n, int64_t cols,
                          int64_t cols_p, __half* xh, float* scale) {
  PrepareKernel<<<static_cast<unsigned>(n), 256, 0, ctx.stream>>>(x, cols, cols_p, xh, scale);
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

Status LaunchGemv(Context::Impl& ctx, const Matrix::Impl& w, const __half* xh, const float* scale,
                  int64_t n, float* y) {
  if (w.kind == MatrixKind::kF32) return InternalError("LaunchGemv: fp32 matrices use cuBLAS");
  for (int64_t t0 = 0; t0 < n; t0 += kMaxTokens) {
    const int64_t nt = std::min<int64_t>(kMaxTokens, n - t0);
    const __half* x = xh + t0 * w.cols_p;
    const float* s = scale + t0;
    float* yt = y + t0 * w.rows;
    switch (nt) {
      case 1:
        TRITIUM_RETURN_IF_ERROR(LaunchGemvTokens<1>(ctx, w, x, s, yt));
        break;
      case 2:
        TRITIUM_RETURN_IF_ERROR(LaunchGemvTokens<2>(ctx, w, x, s, yt));
        break;
      case 3:
        TRITIUM_RETURN_IF_ERROR(LaunchGemvTokens<3>(ctx, w, x, s, yt));
        break;
      default:
        TRITIUM_RETURN_IF_ERROR(LaunchGemvTokens<4>(ctx, w, x, s, yt));
        break;
    }
  }
  return OkStatus();
}

}  // namespace tritium::cuda
