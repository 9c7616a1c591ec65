// tritium_cuda_bench: the GPU kernels against cuBLAS bf16 on the same shapes in the same run, and
// against the device's own copy bandwidth. See docs/performance-gpu.md for the targets.
//
//   tritium_cuda_bench [--iters N] [--quick]
//
// Timings are wall-clock over N back-to-back calls after warm-up, bracketed by stream syncs, so
// they include launch overhead as the model sees it. Weight GB/s counts the bytes the kernel must
// read (the repacked codes and scales as stored on the device).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/cuda/cuda_kernels.h"

namespace tritium::cuda {
namespace {

#define BENCH_CUDA(expr)                                                                          \
  do {                                                                                            \
    const cudaError_t e_ = (expr);                                                                \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)
#define BENCH_CUBLAS(expr)                                                                         \
  do {                                                                                             \
    const cublasStatus_t s_ = (expr);                                                              \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                             \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cublasGetStatusName(s_)); \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)
#define BENCH_OK(expr)                                                                           \
  do {                                                                                           \
    const ::tritium::Status st_ = (expr);                                                        \
    if (!st_.ok()) {                                                                             \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, st_.message().c_str()); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

struct Rng {  // xorshift64*: fast enough to fill a few hundred MB of random weights
  uint64_t s = 0x9E3779B97F4A7C15ull;
  uint32_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<uint32_t>((s * 0x2545F4914F6CDD1Dull) >> 32);
  }
  float Uniform() { return (Next() >> 8) * (1.0f / 16777216.0f); }
};

std::vector<uint8_t> RandomTrit(int64_t rows, int64_t cols, int K, int G, Rng* rng) {
  const size_t rb = TritRowBytes(cols, G, K);
  std::vector<uint8_t> data(static_cast<size_t>(rows) * rb);
  std::vector<int8_t> t(static_cast<size_t>(G));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* p = data.data() + r * rb;
    for (int64_t c0 = 0; c0 < cols; c0 += G) {
      const int n = static_cast<int>(std::min<int64_t>(G, cols - c0));
      for (int k = 0; k < K; ++k) {
        const uint16_t h = F32ToF16(0.01f + 0.02f * rng->Uniform());
        p[TritScaleOffset(k)] = static_cast<uint8_t>(h);
        p[TritScaleOffset(k) + 1] = static_cast<uint8_t>(h >> 8);
        for (int j = 0; j < n; ++j) t[j] = static_cast<int8_t>(rng->Next() % 3) - 1;
        PackTritGroup(t.data(), n, p + TritPlaneOffset(n, K, k));
      }
      p += TritGroupBytes(n, K);
    }
  }
  return data;
}

std::vector<uint8_t> RandomInt4(int64_t rows, int64_t cols, int G, Rng* rng) {
  const Format* f = FindFormat(FormatId::kIntG);
  FormatParams p;
  p.bits = 4;
  p.group = G;
  const size_t rb = f->row_bytes(cols, p);
  std::vector<uint8_t> data(static_cast<size_t>(rows) * rb);
  std::vector<float> src(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : src) v = rng->Uniform() - 0.5f;
    f->quantize_row(src.data(), data.data() + r * rb, cols, p);
  }
  return data;
}

// Seconds per call of fn, median of 5 runs of `iters` calls each.
double TimeIt(int iters, const std::function<void()>& fn, const std::function<void()>& sync) {
  for (int i = 0; i < 3; ++i) fn();
  sync();
  std::vector<double> runs;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) fn();
    sync();
    runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                   iters);
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

double CopyBandwidth(int iters) {
  const size_t bytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  BENCH_CUDA(cudaMalloc(&a, bytes));
  BENCH_CUDA(cudaMalloc(&b, bytes));
  BENCH_CUDA(cudaMemset(a, 1, bytes));
  const double t = TimeIt(
      std::max(2, iters / 10),
      [&] { BENCH_CUDA(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice)); },
      [] { BENCH_CUDA(cudaDeviceSynchronize()); });
  BENCH_CUDA(cudaFree(a));
  BENCH_CUDA(cudaFree(b));
  return 2.0 * bytes / t;  // each byte is read once and written once
}

// cuBLAS bf16 baseline: y[n][rows] (fp32) = x[n][cols] (bf16) W^T (bf16), fp32 accumulation.
struct CublasBf16 {
  cublasHandle_t h = nullptr;
  void *w = nullptr, *x = nullptr, *y = nullptr;
  int64_t rows, cols, max_n;
  CublasBf16(int64_t r, int64_t c, int64_t n) : rows(r), cols(c), max_n(n) {
    BENCH_CUBLAS(cublasCreate(&h));
    BENCH_CUDA(cudaMalloc(&w, static_cast<size_t>(r * c) * 2));
    BENCH_CUDA(cudaMalloc(&x, static_cast<size_t>(n * c) * 2));
    BENCH_CUDA(cudaMalloc(&y, static_cast<size_t>(n * r) * 4));
    // Small finite values; the baseline's speed does not depend on them.
    std::vector<__nv_bfloat16> host(static_cast<size_t>(std::max(r, n) * c));
    Rng rng;
    for (auto& v : host) v = __float2bfloat16(rng.Uniform() - 0.5f);
    BENCH_CUDA(cudaMemcpy(w, host.data(), static_cast<size_t>(r * c) * 2, cudaMemcpyHostToDevice));
    BENCH_CUDA(cudaMemcpy(x, host.data(), static_cast<size_t>(n * c) * 2, cudaMemcpyHostToDevice));
  }
  ~CublasBf16() {
    BENCH_CUDA(cudaFree(w));
    BENCH_CUDA(cudaFree(x));
    BENCH_CUDA(cudaFree(y));
    BENCH_CUBLAS(cublasDestroy(h));
  }
  void Run(int64_t n) {
    const float one = 1.0f, zero = 0.0f;
    BENCH_CUBLAS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows),
                              static_cast<int>(n), static_cast<int>(cols), &one, w, CUDA_R_16BF,
                              static_cast<int>(cols), x, CUDA_R_16BF, static_cast<int>(cols), &zero,
                              y, CUDA_R_32F, static_cast<int>(rows), CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT));
  }
};

struct Case {
  std::string name;
  FormatId id;
  FormatParams params;
};

int Main(int argc, char** argv) {
  int iters = 50;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) {
      iters = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--iters N] [--quick]\n", argv[0]);
      return 2;
    }
  }
  auto count = DeviceCount();
  if (!count.ok()) {
    std::printf("SKIPPED: %s\n", count.status().message().c_str());
    return 0;
  }
  std::printf("device: %s\n", DeviceDescription().c_str());
  const double copy_bw = CopyBandwidth(iters);
  std::printf("copy bandwidth (cudaMemcpy D2D, read + write): %.1f GB/s\n\n", copy_bw / 1e9);

  auto ctx_or = Context::Create();
  BENCH_OK(ctx_or.status());
  Context& ctx = **ctx_or;
  auto sync = [&] { BENCH_OK(ctx.Synchronize()); };
  auto sync_all = [] { BENCH_CUDA(cudaDeviceSynchronize()); };

  std::vector<Case> cases;
  for (int K : {1, 2, 3}) {
    FormatParams p;
    p.planes = K;
    p.group = 128;
    cases.push_back({"TRIT_PLANES K=" + std::to_string(K) + " G=128", FormatId::kTritPlanes, p});
  }
  {
    FormatParams p;
    p.bits = 4;
    p.group = 128;
    cases.push_back({"INT_G B=4 G=128", FormatId::kIntG, p});
  }
  struct Dims {
    int64_t rows, cols;
  };
  std::vector<Dims> dims = {{8192, 8192}, {4096, 14336}, {14336, 4096}};
  if (quick) dims.resize(1);
  const std::vector<int64_t> gemv_tokens = {1, 4};
  const std::vector<int64_t> gemm_tokens = {512, 2048};

  Rng rng;
  for (const Dims& d : dims) {
    CublasBf16 base(d.rows, d.cols, gemm_tokens.back());
    DeviceBuffer x, y;
    BENCH_OK(EnsureSize(&x, static_cast<size_t>(gemm_tokens.back() * d.cols) * 4));
    BENCH_OK(EnsureSize(&y, static_cast<size_t>(gemm_tokens.back() * d.rows) * 4));
    {
      std::vector<float> hx(static_cast<size_t>(gemm_tokens.back() * d.cols));
      for (auto& v : hx) v = rng.Uniform() - 0.5f;
      BENCH_OK(CopyToDevice(ctx, x.data(), hx.data(), hx.size() * 4));
    }
    std::printf("== %lld x %lld (rows x cols)\n", static_cast<long long>(d.rows),
                static_cast<long long>(d.cols));
    std::printf("%-24s %-15s %6s %10s %10s %8s %10s %9s\n", "format", "path", "tokens", "us",
                "weight GB/s", "of copy", "TFLOP/s", "vs cuBLAS");
    std::vector<double> base_t;
    for (int64_t n : gemv_tokens)
      base_t.push_back(TimeIt(
          iters, [&] { base.Run(n); }, sync_all));
    for (int64_t n : gemm_tokens)
      base_t.push_back(TimeIt(
          iters / 5 + 1, [&] { base.Run(n); }, sync_all));
    const double bf16_bytes = static_cast<double>(d.rows * d.cols) * 2;
    size_t bi = 0;
    for (int64_t n : gemv_tokens) {
      const double t = base_t[bi++];
      std::printf("%-24s %-15s %6lld %10.1f %10.1f %7.1f%% %10.2f %9s\n", "cuBLAS bf16",
                  "cublasGemmEx", static_cast<long long>(n), t * 1e6, bf16_bytes / t / 1e9,
                  100 * bf16_bytes / t / copy_bw, 2.0 * d.rows * d.cols * n / t / 1e12, "1.00x");
    }
    for (int64_t n : gemm_tokens) {
      const double t = base_t[bi++];
      std::printf("%-24s %-15s %6lld %10.1f %10.1f %7.1f%% %10.2f %9s\n", "cuBLAS bf16",
                  "cublasGemmEx", static_cast<long long>(n), t * 1e6, bf16_bytes / t / 1e9,
                  100 * bf16_bytes / t / copy_bw, 2.0 * d.rows * d.cols * n / t / 1e12, "1.00x");
    }
    for (const Case& c : cases) {
      std::vector<uint8_t> data = c.id == FormatId::kTritPlanes
                                      ? RandomTrit(d.rows, d.cols, c.params.planes, 128, &rng)
                                      : RandomInt4(d.rows, d.cols, 128, &rng);
      WeightView w;
      w.format = FindFormat(c.id);
      w.params = c.params;
      w.rows = d.rows;
      w.cols = d.cols;
      w.row_bytes = w.format->row_bytes(d.cols, c.params);
      w.data = data.data();
      auto m = Matrix::Upload(ctx, w);
      BENCH_OK(m.status());
      const double wbytes = static_cast<double>((*m)->device_bytes());
      auto report = [&](const char* path, int64_t n, double t, double base_time) {
        std::printf("%-24s %-15s %6lld %10.1f %10.1f %7.1f%% %10.2f %8.2fx\n", c.name.c_str(), path,
                    static_cast<long long>(n), t * 1e6, wbytes / t / 1e9,
                    100 * wbytes / t / copy_bw, 2.0 * d.rows * d.cols * n / t / 1e12,
                    base_time / t);
      };
      bi = 0;
      for (int64_t n : gemv_tokens) {
        const double t = TimeIt(
            iters, [&] { BENCH_OK(MatMul(ctx, **m, x.f32(), n, y.f32(), GemmPath::kGemv)); }, sync);
        report("gemv", n, t, base_t[bi++]);
      }
      for (int64_t n : gemm_tokens) {
        const double tb = base_t[bi++];
        const std::pair<GemmPath, const char*> paths[] = {
            {GemmPath::kTensorCore, "tensor-core"}, {GemmPath::kDequantCublas, "dequant+cublas"}};
        for (const auto& pn : paths) {
          const GemmPath path = pn.first;
          const double t = TimeIt(
              iters / 5 + 1, [&] { BENCH_OK(MatMul(ctx, **m, x.f32(), n, y.f32(), path)); }, sync);
          report(pn.second, n, t, tb);
        }
      }
    }
    std::printf("\n");
  }
  std::printf(
      "targets (docs/performance-gpu.md): TRIT_PLANES K=2 gemv at 1 token >= 70%% of copy "
      "bandwidth and >= 3x cuBLAS bf16; K=2 prefill at 2048 tokens >= 0.8x cuBLAS bf16\n");
  return 0;
}

}  // namespace
}  // namespace tritium::cuda

int main(int argc, char** argv) { return tritium::cuda::Main(argc, argv); }
