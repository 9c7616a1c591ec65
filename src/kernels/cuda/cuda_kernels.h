// The CUDA kernels' public API: plain C++ with opaque handles, so code above the kernels layer
// (src/gpu, tools, tests) never includes a CUDA header. Device memory is passed around as typed raw
// pointers that only these functions dereference.
//
// Every call is ordered on the Context's stream and returns as soon as the work is queued, except
// CopyToHost and Synchronize, which wait. Errors from the CUDA runtime or cuBLAS come back as
// Status (an asynchronous kernel fault surfaces at the next call that checks, at the latest at
// Synchronize).
#ifndef TRITIUM_KERNELS_CUDA_CUDA_KERNELS_H_
#define TRITIUM_KERNELS_CUDA_CUDA_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "src/base/status.h"
#include "src/kernels/matmul.h"

namespace tritium::cuda {

// Number of usable CUDA devices; an error "no CUDA device: ..." when there are none or the driver
// does not answer (no GPU, no driver, CUDA_VISIBLE_DEVICES empty).
StatusOr<int> DeviceCount();
// OK iff at least one device is usable; the same error otherwise.
Status RequireDevice();
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)" for device 0, or the error's message.
std::string DeviceDescription();

// Owns device memory (cudaMalloc). Move-only; freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  static StatusOr<DeviceBuffer> Alloc(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  float* f32() const { return static_cast<float*>(ptr_); }
  size_t size() const { return size_; }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

// One stream and one cuBLAS handle on device 0, plus the scratch the matrix products need (grown
// on demand, never shrunk). Not thread-safe; one per thread of work.
class Context {
 public:
  static StatusOr<std::unique_ptr<Context>> Create();
  ~Context();
  Status Synchronize();
  struct Impl;
  Impl* impl() const { return impl_.get(); }

 private:
  Context();
  std::unique_ptr<Impl> impl_;
};

Status CopyToDevice(Context& ctx, void* dst, const void* src, size_t bytes);  // queued
Status CopyToHost(Context& ctx, void* dst, const void* src, size_t bytes);    // waits
Status CopyOnDevice(Context& ctx, void* dst, const void* src, size_t bytes);  // queued
// Grows `buf` to at least `bytes` (contents are lost when it grows).
Status EnsureSize(DeviceBuffer* buf, size_t bytes);

// How a matrix product runs. kAuto: the GEMV kernel for up to kGemvMaxTokens tokens, else the
// tensor-core kernel. The others force one path (tests, benchmarks).
enum class GemmPath {
  kAuto,
  kGemv,           // CUDA-core decode, weights read once per 4 tokens
  kTensorCore,     // fused dequantize-to-fp16 tiles + WMMA (mma.sync) with fp32 accumulation
  kDequantCublas,  // dequantize the whole matrix to fp16 scratch, then cublasGemmEx
};
constexpr int64_t kGemvMaxTokens = 8;

// A weight matrix resident on the device. TRIT_PLANES (any K, G) and INT_G with B = 4 are stored
// in the GPU layouts of repack.h and have their own kernels; every other format is dequantized to
// fp32 at upload and runs through cuBLAS SGEMM.
class Matrix {
 public:
  static StatusOr<std::unique_ptr<Matrix>> Upload(Context& ctx, const WeightView& w);
  ~Matrix();
  int64_t rows() const;
  int64_t cols() const;
  // Bytes a product reads: codes + scales on the device (the number GEMV bandwidth is quoted in).
  size_t device_bytes() const;
  // "TRIT_PLANES(K=2,G=128)", "INT_G(B=4,G=128)" or "F32 (from BF16)".
  std::string description() const;
  struct Impl;
  Impl* impl() const { return impl_.get(); }

 private:
  Matrix();
  std::unique_ptr<Impl> impl_;
};

// y[n x rows] = x[n x cols] W^T, fp32 in and out on the device, rows of x contiguous (stride
// cols), rows of y stride rows. Activations are rounded to fp16 with a power-of-two scale per
// token (no overflow for any finite input) on the quantized paths; fp32 matrices stay fp32.
Status MatMul(Context& ctx, const Matrix& w, const float* x, int64_t n, float* y,
              GemmPath path = GemmPath::kAuto);

// --- Transformer pieces, all fp32 on the device --------------------------------------------------
// out[r] = w * x[r] / rms(x[r]) for rows r of d floats; out may equal x.
Status RmsNorm(Context& ctx, const float* x, const float* w, int64_t rows, int64_t d, float eps,
               float* out);
// x[r][j] += b[j] for rows of d floats.
Status AddBias(Context& ctx, float* x, const float* b, int64_t rows, int64_t d);
// x[i] += y[i].
Status Add(Context& ctx, float* x, const float* y, int64_t n);
// gate[i] = silu(gate[i]) * up[i].
Status SwiGlu(Context& ctx, float* gate, const float* up, int64_t n);
// Rotates `heads` heads of head_dim per token (row stride heads * head_dim) at positions pos0 ..
// pos0 + n - 1; cos/sin are [positions][head_dim / 2]. interleaved: pairs (2i, 2i + 1), else
// (i, i + head_dim / 2).
Status Rope(Context& ctx, float* x, int64_t n, int64_t heads, int64_t head_dim, const float* cos,
            const float* sin, int64_t pos0, bool interleaved);
// Grouped-query causal attention of n queries at positions pos0 .. pos0 + n - 1 over caches that
// hold positions 0 .. pos0 + n - 1 ([pos][n_kv_heads * head_dim]). q, out: [n][n_heads * head_dim].
// head_dim must be a multiple of 32, at most 256.
Status Attention(Context& ctx, const float* q, const float* k_cache, const float* v_cache,
                 int64_t n, int64_t pos0, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                 float* out);

}  // namespace tritium::cuda

#endif  // TRITIUM_KERNELS_CUDA_CUDA_KERNELS_H_
