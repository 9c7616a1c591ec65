// Internal to src/kernels/cuda: the Impl structs behind the public handles, error-checking macros,
// and the launchers the .cu files share. Includes CUDA headers; never include it outside this
// directory.
#ifndef TRITIUM_KERNELS_CUDA_CUDA_INTERNAL_H_
#define TRITIUM_KERNELS_CUDA_CUDA_INTERNAL_H_

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "src/base/status.h"
#include "src/kernels/cuda/cuda_kernels.h"

namespace tritium::cuda {

inline Status CudaError(cudaError_t e, const char* expr, const char* file, int line) {
  return InternalError(std::string("CUDA error ") + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ") in " + expr + " at " + file + ":" +
                       std::to_string(line));
}

inline Status CublasError(cublasStatus_t s, const char* expr, const char* file, int line) {
  return InternalError(std::string("cuBLAS error ") + cublasGetStatusName(s) + " in " + expr +
                       " at " + file + ":" + std::to_string(line));
}

}  // namespace tritium::cuda

#define TRITIUM_CUDA_RETURN_IF_ERROR(expr)                                     \
  do {                                                                         \
    const cudaError_t _cuda_err = (expr);                                      \
    if (_cuda_err != cudaSuccess) {                                            \
      return ::tritium::cuda::CudaError(_cuda_err, #expr, __FILE__, __LINE__); \
    }                                                                          \
  } while (0)

#define TRITIUM_CUBLAS_RETURN_IF_ERROR(expr)                                      \
  do {                                                                            \
    const cublasStatus_t _cublas_st = (expr);                                     \
    if (_cublas_st != CUBLAS_STATUS_SUCCESS) {                                    \
      return ::tritium::cuda::CublasError(_cublas_st, #expr, __FILE__, __LINE__); \
    }                                                                             \
  } while (0)

// After a kernel launch: reports bad launch configurations at once.
#define TRITIUM_CUDA_CHECK_LAUNCH() TRITIUM_CUDA_RETURN_IF_ERROR(cudaGetLastError())

namespace tritium::cuda {

struct Context::Impl {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  DeviceBuffer xh;      // activations as fp16, [n][cols_p]
  DeviceBuffer xscale;  // per-token power-of-two scale, [n]
  DeviceBuffer wh;      // kDequantCublas: the whole matrix as fp16, [rows][cols_p]
};

enum class MatrixKind { kTrit, kInt4, kF32 };

struct Matrix::Impl {
  MatrixKind kind = MatrixKind::kF32;
  int64_t rows = 0, cols = 0, cols_p = 0;
  int planes = 0, group = 0, log2g = 0;
  int64_t groups_p = 0;
  DeviceBuffer codes;   // uint32 codes (kTrit, kInt4)
  DeviceBuffer scales;  // fp16 scales (kTrit) or (s, m) fp16 pairs (kInt4)
  DeviceBuffer f32;     // [rows][cols] (kF32)
  size_t bytes = 0;
  std::string description;
};

// Activations for the quantized paths: xh[t][c] = fp16(x[t][c] / scale[t]) with scale[t] a power
// of two that puts max |x[t]| below 1024 (so fp16 partial sums of the kernels cannot overflow),
// zero in the padding columns cols .. cols_p - 1.
Status PrepareActivations(Context::Impl& ctx, const float* x, int64_t n, int64_t cols,
                          int64_t cols_p, __half* xh, float* scale);
// y[n x rows] (stride rows) from prepared activations. n <= kGemvMaxTokens for the GEMV.
Status LaunchGemv(Context::Impl& ctx, const Matrix::Impl& w, const __half* xh, const float* scale,
                  int64_t n, float* y);
Status LaunchTensorCoreGemm(Context::Impl& ctx, const Matrix::Impl& w, const __half* xh,
                            const float* scale, int64_t n, float* y);
Status DequantCublasGemm(Context::Impl& ctx, const Matrix::Impl& w, const __half* xh,
                         const float* scale, int64_t n, float* y);

}  // namespace tritium::cuda

#endif  // TRITIUM_KERNELS_CUDA_CUDA_INTERNAL_H_
