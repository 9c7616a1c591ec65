// Devices, buffers, contexts, matrix upload and the MatMul dispatcher.
#include <cstdio>
#include <utility>
#include <vector>

#include "src/kernels/cuda/cuda_internal.h"
#include "src/kernels/cuda/repack.h"

namespace tritium::cuda {

StatusOr<int> DeviceCount() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    // Clear the sticky error so that later calls report their own failures.
    (void)cudaGetLastError();
    return NotFoundError(std::string("no CUDA device: ") + cudaGetErrorString(e));
  }
  if (count <= 0) return NotFoundError("no CUDA device: the driver reports none");
  return count;
}

Status RequireDevice() {
  auto n = DeviceCount();
  return n.ok() ? OkStatus() : n.status();
}

std::string DeviceDescription() {
  auto n = DeviceCount();
  if (!n.ok()) return n.status().message();
  cudaDeviceProp p;
  const cudaError_t e = cudaGetDeviceProperties(&p, 0);
  if (e != cudaSuccess) return std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e);
  char buf[64];
  std::snprintf(buf, sizeof(buf), " (sm_%d%d, %d SMs, %.1f GiB)", p.major, p.minor,
                p.multiProcessorCount, static_cast<double>(p.totalGlobalMem) / (1 << 30));
  return std::string(p.name) + buf;
}

// --- DeviceBuffer --------------------------------------------------------------------------------

StatusOr<DeviceBuffer> DeviceBuffer::Alloc(size_t bytes) {
  // Explicit moves into StatusOr throughout: nvcc's front end does not apply C++20's implicit
  // move on return through a converting constructor.
  DeviceBuffer b;
  if (bytes == 0) return StatusOr<DeviceBuffer>(std::move(b));
  TRITIUM_CUDA_RETURN_IF_ERROR(cudaMalloc(&b.ptr_, bytes));
  b.size_ = bytes;
  return StatusOr<DeviceBuffer>(std::move(b));
}

DeviceBuffer::~DeviceBuffer() {
  // Errors here can only be earlier asynchronous faults; they resurface at the next checked call.
  if (ptr_ != nullptr) (void)cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

Status EnsureSize(DeviceBuffer* buf, size_t bytes) {
  if (buf->size() >= bytes) return OkStatus();
  *buf = DeviceBuffer();  // free first: the old and new buffer need not fit together
  TRITIUM_ASSIGN_OR_RETURN(*buf, DeviceBuffer::Alloc(bytes));
  return OkStatus();
}

// --- Context -------------------------------------------------------------------------------------

Context::Context() : impl_(std::make_unique<Impl>()) {}

Context::~Context() {
  if (impl_->cublas != nullptr) (void)cublasDestroy(impl_->cublas);
  if (impl_->stream != nullptr) (void)cudaStreamDestroy(impl_->stream);
}

StatusOr<std::unique_ptr<Context>> Context::Create() {
  TRITIUM_RETURN_IF_ERROR(RequireDevice());
  TRITIUM_CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
  std::unique_ptr<Context> ctx(new Context());
  Impl& c = *ctx->impl_;
  TRITIUM_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
  TRITIUM_CUBLAS_RETURN_IF_ERROR(cublasCreate(&c.cublas));
  TRITIUM_CUBLAS_RETURN_IF_ERROR(cublasSetStream(c.cublas, c.stream));
  // fp32 matrices stay fp32: no TF32 tensor-op shortcut for SGEMM, so the GPU agrees with the CPU.
  TRITIUM_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(c.cublas, CUBLAS_DEFAULT_MATH));
  return StatusOr<std::unique_ptr<Context>>(std::move(ctx));
}

Status Context::Synchronize() {
  TRITIUM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(impl_->stream));
  TRITIUM_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return OkStatus();
}

Status CopyToDevice(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return OkStatus();
  TRITIUM_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.impl()->stream));
  // Pageable host memory: the copy has been staged once this returns for small sizes, but not for
  // all; wait so that callers may reuse `src` at once.
  TRITIUM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx.impl()->stream));
  return OkStatus();
}

Status CopyToHost(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return OkStatus();
  TRITIUM_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.impl()->stream));
  TRITIUM_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx.impl()->stream));
  return OkStatus();
}

Status CopyOnDevice(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return OkStatus();
  TRITIUM_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx.impl()->stream));
  return OkStatus();
}

// --- Matrix --------------------------------------------------------------------------------------

Matrix::Matrix() : impl_(std::make_unique<Impl>()) {}
Matrix::~Matrix() = default;
int64_t Matrix::rows() const { return impl_->rows; }
int64_t Matrix::cols() const { return impl_->cols; }
size_t Matrix::device_bytes() const { return impl_->bytes; }
std::string Matrix::description() const { return impl_->description; }

namespace {

template <typename T>
StatusOr<DeviceBuffer> UploadVector(Context& ctx, const std::vector<T>& v) {
  TRITIUM_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::Alloc(v.size() * sizeof(T)));
  TRITIUM_RETURN_IF_ERROR(CopyToDevice(ctx, b.data(), v.data(), v.size() * sizeof(T)));
  return StatusOr<DeviceBuffer>(std::move(b));
}

int Log2(int g) {
  int l = 0;
  while ((1 << l) < g) ++l;
  return l;
}

}  // namespace

StatusOr<std::unique_ptr<Matrix>> Matrix::Upload(Context& ctx, const WeightView& w) {
  if (w.format == nullptr || w.rows < 1 || w.cols < 1 || w.data == nullptr) {
    return InvalidArgumentError("Matrix::Upload: empty weight view");
  }
  std::unique_ptr<Matrix> m(new Matrix());
  Impl& mi = *m->impl_;
  mi.rows = w.rows;
  mi.cols = w.cols;
  if (w.format->id == FormatId::kTritPlanes) {
    TRITIUM_ASSIGN_OR_RETURN(GpuTritMatrix t, RepackTritPlanes(w));
    mi.kind = MatrixKind::kTrit;
    mi.cols_p = t.cols_p;
    mi.planes = t.planes;
    mi.group = t.group;
    mi.log2g = Log2(t.group);
    mi.groups_p = t.groups_p;
    mi.bytes = t.bytes();
    TRITIUM_ASSIGN_OR_RETURN(mi.codes, UploadVector(ctx, t.codes));
    TRITIUM_ASSIGN_OR_RETURN(mi.scales, UploadVector(ctx, t.scales));
    mi.description =
        "TRIT_PLANES(K=" + std::to_string(t.planes) + ",G=" + std::to_string(t.group) + ")";
  } else if (HasGpuKernel(w)) {
    TRITIUM_ASSIGN_OR_RETURN(GpuInt4Matrix q, RepackInt4(w));
    mi.kind = MatrixKind::kInt4;
    mi.cols_p = q.cols_p;
    mi.group = q.group;
    mi.log2g = Log2(q.group);
    mi.groups_p = q.groups_p;
    mi.bytes = q.bytes();
    TRITIUM_ASSIGN_OR_RETURN(mi.codes, UploadVector(ctx, q.codes));
    TRITIUM_ASSIGN_OR_RETURN(mi.scales, UploadVector(ctx, q.params));
    mi.description = "INT_G(B=4,G=" + std::to_string(q.group) + ")";
  } else {
    TRITIUM_RETURN_IF_ERROR(w.format->check_params(w.cols, w.params));
    std::vector<float> f = DequantizeToF32(w);
    mi.kind = MatrixKind::kF32;
    mi.cols_p = w.cols;
    mi.bytes = f.size() * 4;
    TRITIUM_ASSIGN_OR_RETURN(mi.f32, UploadVector(ctx, f));
    mi.description = std::string("F32 (from ") + w.format->name + ")";
  }
  return StatusOr<std::unique_ptr<Matrix>>(std::move(m));
}

// --- MatMul --------------------------------------------------------------------------------------

Status MatMul(Context& ctx, const Matrix& w, const float* x, int64_t n, float* y, GemmPath path) {
  const Matrix::Impl& m = *w.impl();
  if (n < 1) return InvalidArgumentError("MatMul: no tokens");
  Context::Impl& c = *ctx.impl();
  if (m.kind == MatrixKind::kF32) {
    // Row-major W [rows][cols] is column-major W^T; y^T (column-major [rows][n]) = W x^T.
    const float one = 1.0f, zero = 0.0f;
    TRITIUM_CUBLAS_RETURN_IF_ERROR(cublasSgemm(
        c.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m.rows), static_cast<int>(n),
        static_cast<int>(m.cols), &one, m.f32.f32(), static_cast<int>(m.cols), x,
        static_cast<int>(m.cols), &zero, y, static_cast<int>(m.rows)));
    return OkStatus();
  }
  TRITIUM_RETURN_IF_ERROR(EnsureSize(&c.xh, static_cast<size_t>(n * m.cols_p) * sizeof(__half)));
  TRITIUM_RETURN_IF_ERROR(EnsureSize(&c.xscale, static_cast<size_t>(n) * sizeof(float)));
  __half* xh = static_cast<__half*>(c.xh.data());
  float* scale = c.xscale.f32();
  TRITIUM_RETURN_IF_ERROR(PrepareActivations(c, x, n, m.cols, m.cols_p, xh, scale));
  if (path == GemmPath::kAuto) path = n <= kGemvMaxTokens ? GemmPath::kGemv : GemmPath::kTensorCore;
  switch (path) {
    case GemmPath::kGemv:
      return LaunchGemv(c, m, xh, scale, n, y);
    case GemmPath::kTensorCore:
      return LaunchTensorCoreGemm(c, m, xh, scale, n, y);
    case GemmPath::kDequantCublas:
      return DequantCublasGemm(c, m, xh, scale, n, y);
    case GemmPath::kAuto:
      break;
  }
  return InternalError("MatMul: unknown path");
}

}  // namespace tritium::cuda
