// The transformer's non-matmul pieces on the device, fp32 throughout: RMSNorm, RoPE, bias and
// residual adds, SwiGLU and causal grouped-query attention.
#include <cmath>

#include "src/kernels/cuda/cuda_internal.h"
#include "src/kernels/cuda/kernel_common.cuh"

namespace tritium::cuda {
namespace {

constexpr int kThreads = 256;

unsigned Blocks(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

// One block per row. The sum of squares runs in double, as the CPU's does, so the two agree to
// rounding of the final products.
__global__ void __launch_bounds__(kThreads)
    RmsNormKernel(const float* x, const float* __restrict__ w, int64_t d, float eps, float* out) {
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * d;
  float* o = out + static_cast<int64_t>(blockIdx.x) * d;
  double ss = 0;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) ss += static_cast<double>(xr[i]) * xr[i];
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, off);
  __shared__ double red[kThreads / 32];
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = ss;
  __syncthreads();
  double total = 0;
  for (int i = 0; i < kThreads / 32; ++i) total += red[i];
  const float scale = static_cast<float>(1.0 / sqrt(total / static_cast<double>(d) + eps));
  // Each thread rewrites only the elements it read above, so out == x is safe.
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = w[i] * (xr[i] * scale);
}

__global__ void AddBiasKernel(float* x, const float* __restrict__ b, int64_t rows, int64_t d) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < rows * d) x[i] += b[i % d];
}

__global__ void AddKernel(float* x, const float* __restrict__ y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) x[i] += y[i];
}

__global__ void SwiGluKernel(float* gate, const float* __restrict__ up, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float g = gate[i];
    gate[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

// One thread per rotated pair.
__global__ void RopeKernel(float* x, int64_t n, int64_t heads, int64_t head_dim,
                           const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                           int64_t pos0, bool interleaved) {
  const int64_t half = head_dim / 2;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n * heads * half) return;
  const int64_t j = i % half, h = (i / half) % heads, t = i / (half * heads);
  float* p = x + (t * heads + h) * head_dim;
  const float c = cos_t[(pos0 + t) * half + j], s = sin_t[(pos0 + t) * half + j];
  if (interleaved) {
    const float a = p[2 * j], b = p[2 * j + 1];
    p[2 * j] = a * c - b * s;
    p[2 * j + 1] = a * s + b * c;
  } else {
    const float a = p[j], b = p[j + half];
    p[j] = a * c - b * s;
    p[j + half] = b * c + a * s;
  }
}

// One block of kAttnWarps warps per (head, query). Lane l holds dimensions l, l + 32, ... (E of
// them), so reading a key or value row is one coalesced access per warp. Each warp runs an online
// softmax over keys warp, warp + kAttnWarps, ...; the warps' partial states are merged at the end.
// No score buffer, so any context length fits.
constexpr int kAttnWarps = 4;

template <int E>
__global__ void __launch_bounds__(kAttnWarps * 32)
    AttentionKernel(const float* __restrict__ q, const float* __restrict__ k_cache,
                    const float* __restrict__ v_cache, int64_t pos0, int64_t n_heads,
                    int64_t n_kv_heads, float* __restrict__ out, float scale) {
  constexpr int kHd = 32 * E;
  const int64_t h = blockIdx.x, i = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t kvd = n_kv_heads * kHd;
  const int64_t kvh = h / (n_heads / n_kv_heads);
  const float* qr = q + i * n_heads * kHd + h * kHd;
  float qv[E], acc[E];
#pragma unroll
  for (int e = 0; e < E; ++e) {
    qv[e] = qr[lane + 32 * e] * scale;
    acc[e] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  const int64_t len = pos0 + i + 1;  // causal: keys 0 .. pos0 + i
  for (int64_t j = warp; j < len; j += kAttnWarps) {
    const float* kr = k_cache + j * kvd + kvh * kHd;
    const float* vr = v_cache + j * kvd + kvh * kHd;
    float s = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) s = fmaf(qv[e], kr[lane + 32 * e], s);
    s = WarpSum(s);
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // 0 on the first key (m = -inf)
    const float p = expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[e] = fmaf(p, vr[lane + 32 * e], acc[e] * corr);
    m = m_new;
  }
  __shared__ float sm[kAttnWarps], sl[kAttnWarps];
  __shared__ float sacc[kAttnWarps][kHd];
  if (lane == 0) {
    sm[warp] = m;
    sl[warp] = l;
  }
#pragma unroll
  for (int e = 0; e < E; ++e) sacc[warp][lane + 32 * e] = acc[e];
  __syncthreads();
  float mx = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) mx = fmaxf(mx, sm[w]);  // warp 0 saw key 0: finite
  float wt[kAttnWarps], denom = 0.0f;
  for (int w = 0; w < kAttnWarps; ++w) {
    wt[w] = sl[w] > 0.0f ? expf(sm[w] - mx) : 0.0f;
    denom += sl[w] * wt[w];
  }
  float* o = out + i * n_heads * kHd + h * kHd;
  for (int d = threadIdx.x; d < kHd; d += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w) v += sacc[w][d] * wt[w];
    o[d] = v / denom;
  }
}

}  // namespace

Status RmsNorm(Context& ctx, const float* x, const float* w, int64_t rows, int64_t d, float eps,
               float* out) {
  if (rows < 1) return OkStatus();
  RmsNormKernel<<<static_cast<unsigned>(rows), kThreads, 0, ctx.impl()->stream>>>(x, w, d, eps,
                                                                                  out);
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

Status AddBias(Context& ctx, float* x, const float* b, int64_t rows, int64_t d) {
  if (rows * d < 1) return OkStatus();
  AddBiasKernel<<<Blocks(rows * d), kThreads, 0, ctx.impl()->stream>>>(x, b, rows, d);
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

Status Add(Context& ctx, float* x, const float* y, int64_t n) {
  if (n < 1) return OkStatus();
  AddKernel<<<Blocks(n), kThreads, 0, ctx.impl()->stream>>>(x, y, n);
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

Status SwiGlu(Context& ctx, float* gate, const float* up, int64_t n) {
  if (n < 1) return OkStatus();
  SwiGluKernel<<<Blocks(n), kThreads, 0, ctx.impl()->stream>>>(gate, up, n);
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

Status Rope(Context& ctx, float* x, int64_t n, int64_t heads, int64_t head_dim, const float* cos,
            const float* sin, int64_t pos0, bool interleaved) {
  const int64_t pairs = n * heads * (head_dim / 2);
  if (pairs < 1) return OkStatus();
  RopeKernel<<<Blocks(pairs), kThreads, 0, ctx.impl()->stream>>>(x, n, heads, head_dim, cos, sin,
                                                                 pos0, interleaved);
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

Status Attention(Context& ctx, const float* q, const float* k_cache, const float* v_cache,
                 int64_t n, int64_t pos0, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                 float* out) {
  if (head_dim % 32 != 0 || head_dim > 256 || head_dim < 32) {
    return UnimplementedError("GPU attention: head_dim must be a multiple of 32 up to 256, got " +
                              std::to_string(head_dim));
  }
  if (n_kv_heads < 1 || n_heads % n_kv_heads != 0) {
    return InvalidArgumentError("GPU attention: n_heads must be a multiple of n_kv_heads");
  }
  if (n < 1) return OkStatus();
  if (n > 65535) return InvalidArgumentError("GPU attention: at most 65535 queries a call");
  const dim3 grid(static_cast<unsigned>(n_heads), static_cast<unsigned>(n));
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  cudaStream_t s = ctx.impl()->stream;
#define TRITIUM_ATTN_CASE(E)                                                                \
  case E:                                                                                   \
    AttentionKernel<E><<<grid, kAttnWarps * 32, 0, s>>>(q, k_cache, v_cache, pos0, n_heads, \
                                                        n_kv_heads, out, scale);            \
    break;
  switch (head_dim / 32) {
    TRITIUM_ATTN_CASE(1)
    TRITIUM_ATTN_CASE(2)
    TRITIUM_ATTN_CASE(3)
    TRITIUM_ATTN_CASE(4)
    TRITIUM_ATTN_CASE(5)
    TRITIUM_ATTN_CASE(6)
    TRITIUM_ATTN_CASE(7)
    TRITIUM_ATTN_CASE(8)
  }
#undef TRITIUM_ATTN_CASE
  TRITIUM_CUDA_CHECK_LAUNCH();
  return OkStatus();
}

}  // namespace tritium::cuda
