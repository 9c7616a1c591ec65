// The whole transformer on an NVIDIA GPU: weights resident on the device (trit-planes and INT_G
// 4-bit in their GPU layouts, everything else as fp32), KV cache and attention on the device. The
// same computation as Session (src/model/forward.h), with the same API, so callers can switch
// between them. Plain C++ over src/kernels/cuda/cuda_kernels.h; built only when TRITIUM_CUDA is on
// (callers test TRITIUM_HAVE_CUDA).
//
// Differences from the CPU session, by design: quantized products see fp16 activations (with a
// power-of-two scale per token) and fp32 accumulation; attention uses an online softmax. The
// embedding rows are still dequantized on the host (n rows per call, negligible).
#ifndef TRITIUM_GPU_FORWARD_GPU_H_
#define TRITIUM_GPU_FORWARD_GPU_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "src/base/status.h"
#include "src/kernels/cuda/cuda_kernels.h"
#include "src/model/model.h"

namespace tritium {

// A model's weights on the device. Immutable once uploaded; sessions share it.
class GpuModel {
 public:
  // Uploads every matrix and vector of `model`, which must outlive the GpuModel (the embedding is
  // read from its host memory).
  static StatusOr<std::shared_ptr<GpuModel>> Upload(const Model& model);

  struct Layer {
    const cuda::Matrix *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
    const float *attn_norm, *ffn_norm, *q_norm, *k_norm, *bq, *bk, *bv;  // device; null if absent
  };

  const Model& model() const { return model_; }
  const std::vector<Layer>& layers() const { return layers_; }
  const cuda::Matrix& output() const { return *output_; }
  const float* output_norm() const { return output_norm_; }
  cuda::Context& context() const { return *ctx_; }
  // Bytes of all matrices as stored on the device.
  size_t device_bytes() const;

 private:
  explicit GpuModel(const Model& model) : model_(model) {}
  StatusOr<const cuda::Matrix*> UploadMatrix(const Tensor* t);
  StatusOr<const float*> UploadVector(const float* v, int64_t n);

  const Model& model_;
  std::unique_ptr<cuda::Context> ctx_;
  std::map<const Tensor*, std::unique_ptr<cuda::Matrix>> matrices_;  // tied tensors upload once
  std::vector<cuda::DeviceBuffer> vectors_;
  std::vector<Layer> layers_;
  const cuda::Matrix* output_ = nullptr;
  const float* output_norm_ = nullptr;
};

// One sequence on the GPU. Not thread-safe; sessions sharing a GpuModel share its stream, so use
// them from one thread.
class GpuSession {
 public:
  // max_context <= 0 means the model's max_position_embeddings.
  static StatusOr<std::unique_ptr<GpuSession>> Create(std::shared_ptr<const GpuModel> model,
                                                      int64_t max_context);

  // As Session::Forward: runs n tokens at pos()..pos()+n-1; logits for every token ([n x vocab])
  // when all_logits, else for the last one ([vocab]), copied to the host.
  Status Forward(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>* logits);
  void Reset() { pos_ = 0; }
  int64_t pos() const { return pos_; }
  int64_t max_context() const { return max_context_; }
  // Forces the matrix-product path (tests and benchmarks); kAuto by default.
  void set_gemm_path(cuda::GemmPath p) { path_ = p; }

 private:
  GpuSession(std::shared_ptr<const GpuModel> model, int64_t max_context)
      : gm_(std::move(model)), max_context_(max_context) {}
  Status Init();
  Status Grow(int64_t n);
  Status Linear(const cuda::Matrix& w, const float* x, int64_t n, float* y);

  std::shared_ptr<const GpuModel> gm_;
  int64_t max_context_;
  int64_t pos_ = 0;
  int64_t capacity_ = 0;  // tokens the scratch buffers hold
  cuda::GemmPath path_ = cuda::GemmPath::kAuto;
  cuda::DeviceBuffer k_cache_, v_cache_;    // [layer][pos][kv_dim]
  cuda::DeviceBuffer rope_cos_, rope_sin_;  // [pos][head_dim / 2]
  cuda::DeviceBuffer x_, xn_, q_, k_, v_, att_, gate_, up_, logits_;
  std::vector<float> host_x_;
};

// Uploads `model` and opens a session on it; NotFound "no CUDA device: ..." where there is none.
StatusOr<std::unique_ptr<GpuSession>> CreateGpuSession(const Model& model, int64_t max_context);

}  // namespace tritium

#endif  // TRITIUM_GPU_FORWARD_GPU_H_
