#include "src/gpu/forward_gpu.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "src/model/layer_math.h"

namespace tritium {

using cuda::DeviceBuffer;

// --- GpuModel ------------------------------------------------------------------------------------

StatusOr<const cuda::Matrix*> GpuModel::UploadMatrix(const Tensor* t) {
  if (t == nullptr) return InternalError("GpuModel: missing matrix");
  auto it = matrices_.find(t);
  if (it != matrices_.end()) return static_cast<const cuda::Matrix*>(it->second.get());
  auto m = cuda::Matrix::Upload(*ctx_, t->view());
  if (!m.ok()) return m.status().WithPrefix(t->name + ": ");
  const cuda::Matrix* p = m->get();
  matrices_.emplace(t, std::move(m).value());
  return p;
}

StatusOr<const float*> GpuModel::UploadVector(const float* v, int64_t n) {
  if (v == nullptr) return static_cast<const float*>(nullptr);
  TRITIUM_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::Alloc(static_cast<size_t>(n) * 4));
  TRITIUM_RETURN_IF_ERROR(cuda::CopyToDevice(*ctx_, b.data(), v, static_cast<size_t>(n) * 4));
  const float* p = b.f32();
  vectors_.push_back(std::move(b));
  return p;
}

StatusOr<std::shared_ptr<GpuModel>> GpuModel::Upload(const Model& model) {
  TRITIUM_RETURN_IF_ERROR(cuda::RequireDevice());
  std::shared_ptr<GpuModel> gm(new GpuModel(model));
  TRITIUM_ASSIGN_OR_RETURN(gm->ctx_, cuda::Context::Create());
  const ModelConfig& c = model.config();
  for (const LayerWeights& L : model.layers()) {
    Layer g;
    TRITIUM_ASSIGN_OR_RETURN(g.wq, gm->UploadMatrix(L.wq));
    TRITIUM_ASSIGN_OR_RETURN(g.wk, gm->UploadMatrix(L.wk));
    TRITIUM_ASSIGN_OR_RETURN(g.wv, gm->UploadMatrix(L.wv));
    TRITIUM_ASSIGN_OR_RETURN(g.wo, gm->UploadMatrix(L.wo));
    TRITIUM_ASSIGN_OR_RETURN(g.w_gate, gm->UploadMatrix(L.w_gate));
    TRITIUM_ASSIGN_OR_RETURN(g.w_up, gm->UploadMatrix(L.w_up));
    TRITIUM_ASSIGN_OR_RETURN(g.w_down, gm->UploadMatrix(L.w_down));
    TRITIUM_ASSIGN_OR_RETURN(g.attn_norm, gm->UploadVector(L.attn_norm, c.hidden));
    TRITIUM_ASSIGN_OR_RETURN(g.ffn_norm, gm->UploadVector(L.ffn_norm, c.hidden));
    TRITIUM_ASSIGN_OR_RETURN(g.q_norm, gm->UploadVector(L.q_norm, c.head_dim));
    TRITIUM_ASSIGN_OR_RETURN(g.k_norm, gm->UploadVector(L.k_norm, c.head_dim));
    TRITIUM_ASSIGN_OR_RETURN(g.bq, gm->UploadVector(L.bq, c.q_dim()));
    TRITIUM_ASSIGN_OR_RETURN(g.bk, gm->UploadVector(L.bk, c.kv_dim()));
    TRITIUM_ASSIGN_OR_RETURN(g.bv, gm->UploadVector(L.bv, c.kv_dim()));
    if ((g.bq == nullptr) != (g.bk == nullptr) || (g.bq == nullptr) != (g.bv == nullptr) ||
        (g.q_norm == nullptr) != (g.k_norm == nullptr)) {
      return InvalidArgumentError("GpuModel: q/k/v biases or q/k norms only partly present");
    }
    gm->layers_.push_back(g);
  }
  TRITIUM_ASSIGN_OR_RETURN(gm->output_, gm->UploadMatrix(&model.output()));
  TRITIUM_ASSIGN_OR_RETURN(gm->output_norm_, gm->UploadVector(model.output_norm(), c.hidden));
  TRITIUM_RETURN_IF_ERROR(gm->ctx_->Synchronize());
  return gm;
}

size_t GpuModel::device_bytes() const {
  size_t total = 0;
  for (const auto& [t, m] : matrices_) total += m->device_bytes();
  return total;
}

// --- GpuSession ----------------------------------------------------------------------------------

StatusOr<std::unique_ptr<GpuSession>> GpuSession::Create(std::shared_ptr<const GpuModel> model,
                                                         int64_t max_context) {
  if (model == nullptr) return InvalidArgumentError("GpuSession: no model");
  const int64_t ctx = max_context > 0 ? max_context : model->model().config().max_positions;
  std::unique_ptr<GpuSession> s(new GpuSession(std::move(model), ctx));
  TRITIUM_RETURN_IF_ERROR(s->Init());
  return s;
}

Status GpuSession::Init() {
  const ModelConfig& c = gm_->model().config();
  cuda::Context& ctx = gm_->context();
  const size_t cache = static_cast<size_t>(c.n_layers * max_context_ * c.kv_dim()) * 4;
  TRITIUM_ASSIGN_OR_RETURN(k_cache_, DeviceBuffer::Alloc(cache));
  TRITIUM_ASSIGN_OR_RETURN(v_cache_, DeviceBuffer::Alloc(cache));
  // RoPE tables exactly as the CPU session builds them.
  std::vector<float> cs, sn;
  RopeTables(gm_->model(), max_context_, &cs, &sn);
  TRITIUM_ASSIGN_OR_RETURN(rope_cos_, DeviceBuffer::Alloc(cs.size() * 4));
  TRITIUM_ASSIGN_OR_RETURN(rope_sin_, DeviceBuffer::Alloc(sn.size() * 4));
  TRITIUM_RETURN_IF_ERROR(cuda::CopyToDevice(ctx, rope_cos_.data(), cs.data(), cs.size() * 4));
  TRITIUM_RETURN_IF_ERROR(cuda::CopyToDevice(ctx, rope_sin_.data(), sn.data(), sn.size() * 4));
  return OkStatus();
}

Status GpuSession::Grow(int64_t n) {
  if (n <= capacity_) return OkStatus();
  const ModelConfig& c = gm_->model().config();
  const int64_t d = c.hidden, qd = c.q_dim(), kvd = c.kv_dim(), f = c.intermediate;
  auto grow = [&](DeviceBuffer* b, int64_t floats) {
    return cuda::EnsureSize(b, static_cast<size_t>(floats) * 4);
  };
  TRITIUM_RETURN_IF_ERROR(grow(&x_, n * d));
  TRITIUM_RETURN_IF_ERROR(grow(&xn_, n * std::max(d, qd)));
  TRITIUM_RETURN_IF_ERROR(grow(&q_, n * qd));
  TRITIUM_RETURN_IF_ERROR(grow(&k_, n * kvd));
  TRITIUM_RETURN_IF_ERROR(grow(&v_, n * kvd));
  TRITIUM_RETURN_IF_ERROR(grow(&att_, n * std::max(qd, d)));
  TRITIUM_RETURN_IF_ERROR(grow(&gate_, n * f));
  TRITIUM_RETURN_IF_ERROR(grow(&up_, n * f));
  TRITIUM_RETURN_IF_ERROR(grow(&logits_, n * c.vocab_size));
  capacity_ = n;
  return OkStatus();
}

Status GpuSession::Linear(const cuda::Matrix& w, const float* x, int64_t n, float* y) {
  return cuda::MatMul(gm_->context(), w, x, n, y, path_);
}

Status GpuSession::Forward(const int32_t* tokens, int64_t n, bool all_logits,
                           std::vector<float>* logits) {
  const Model& model = gm_->model();
  const ModelConfig& c = model.config();
  cuda::Context& ctx = gm_->context();
  if (n <= 0) return InvalidArgumentError("Forward: no tokens");
  if (pos_ + n > max_context_) {
    return InvalidArgumentError("context overflow: " + std::to_string(pos_ + n) +
                                " tokens exceed the context of " + std::to_string(max_context_));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) {
      return InvalidArgumentError("token id " + std::to_string(tokens[i]) +
                                  " is outside the vocabulary of " + std::to_string(c.vocab_size));
    }
  }
  TRITIUM_RETURN_IF_ERROR(Grow(n));
  const int64_t d = c.hidden, qd = c.q_dim(), kvd = c.kv_dim(), f = c.intermediate;

  // Embedding rows on the host (any format), then one upload.
  const Tensor& emb = model.embedding();
  const size_t emb_rb = emb.format->row_bytes(d, emb.params);
  host_x_.resize(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    emb.format->dequantize_row(emb.data + static_cast<size_t>(tokens[i]) * emb_rb,
                               &host_x_[static_cast<size_t>(i * d)], d, emb.params);
  }
  TRITIUM_RETURN_IF_ERROR(cuda::CopyToDevice(ctx, x_.data(), host_x_.data(), host_x_.size() * 4));

  float *x = x_.f32(), *xn = xn_.f32(), *q = q_.f32(), *k = k_.f32(), *v = v_.f32();
  float *att = att_.f32(), *gate = gate_.f32(), *up = up_.f32();
  const bool interleaved = c.rope_style == RopeStyle::kInterleaved;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const GpuModel::Layer& L = gm_->layers()[static_cast<size_t>(l)];
    TRITIUM_RETURN_IF_ERROR(cuda::RmsNorm(ctx, x, L.attn_norm, n, d, c.rms_eps, xn));
    TRITIUM_RETURN_IF_ERROR(Linear(*L.wq, xn, n, q));
    TRITIUM_RETURN_IF_ERROR(Linear(*L.wk, xn, n, k));
    TRITIUM_RETURN_IF_ERROR(Linear(*L.wv, xn, n, v));
    if (L.bq != nullptr) {
      TRITIUM_RETURN_IF_ERROR(cuda::AddBias(ctx, q, L.bq, n, qd));
      TRITIUM_RETURN_IF_ERROR(cuda::AddBias(ctx, k, L.bk, n, kvd));
      TRITIUM_RETURN_IF_ERROR(cuda::AddBias(ctx, v, L.bv, n, kvd));
    }
    if (L.q_norm != nullptr) {
      TRITIUM_RETURN_IF_ERROR(
          cuda::RmsNorm(ctx, q, L.q_norm, n * c.n_heads, c.head_dim, c.rms_eps, q));
      TRITIUM_RETURN_IF_ERROR(
          cuda::RmsNorm(ctx, k, L.k_norm, n * c.n_kv_heads, c.head_dim, c.rms_eps, k));
    }
    TRITIUM_RETURN_IF_ERROR(cuda::Rope(ctx, q, n, c.n_heads, c.head_dim, rope_cos_.f32(),
                                       rope_sin_.f32(), pos_, interleaved));
    TRITIUM_RETURN_IF_ERROR(cuda::Rope(ctx, k, n, c.n_kv_heads, c.head_dim, rope_cos_.f32(),
                                       rope_sin_.f32(), pos_, interleaved));
    // The cache rows of positions pos_ .. pos_ + n - 1 are contiguous: one copy each.
    const size_t at = static_cast<size_t>((l * max_context_ + pos_) * kvd);
    TRITIUM_RETURN_IF_ERROR(
        cuda::CopyOnDevice(ctx, k_cache_.f32() + at, k, static_cast<size_t>(n * kvd) * 4));
    TRITIUM_RETURN_IF_ERROR(
        cuda::CopyOnDevice(ctx, v_cache_.f32() + at, v, static_cast<size_t>(n * kvd) * 4));
    const size_t layer0 = static_cast<size_t>(l * max_context_ * kvd);
    TRITIUM_RETURN_IF_ERROR(cuda::Attention(ctx, q, k_cache_.f32() + layer0,
                                            v_cache_.f32() + layer0, n, pos_, c.n_heads,
                                            c.n_kv_heads, c.head_dim, att));
    TRITIUM_RETURN_IF_ERROR(Linear(*L.wo, att, n, xn));
    TRITIUM_RETURN_IF_ERROR(cuda::Add(ctx, x, xn, n * d));

    TRITIUM_RETURN_IF_ERROR(cuda::RmsNorm(ctx, x, L.ffn_norm, n, d, c.rms_eps, xn));
    TRITIUM_RETURN_IF_ERROR(Linear(*L.w_gate, xn, n, gate));
    TRITIUM_RETURN_IF_ERROR(Linear(*L.w_up, xn, n, up));
    TRITIUM_RETURN_IF_ERROR(cuda::SwiGlu(ctx, gate, up, n * f));
    TRITIUM_RETURN_IF_ERROR(Linear(*L.w_down, gate, n, att));
    TRITIUM_RETURN_IF_ERROR(cuda::Add(ctx, x, att, n * d));
  }

  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t m = n - first;
  TRITIUM_RETURN_IF_ERROR(
      cuda::RmsNorm(ctx, x + first * d, gm_->output_norm(), m, d, c.rms_eps, xn));
  TRITIUM_RETURN_IF_ERROR(Linear(gm_->output(), xn, m, logits_.f32()));
  logits->resize(static_cast<size_t>(m * c.vocab_size));
  TRITIUM_RETURN_IF_ERROR(
      cuda::CopyToHost(ctx, logits->data(), logits_.data(), logits->size() * sizeof(float)));
  pos_ += n;
  return OkStatus();
}

StatusOr<std::unique_ptr<GpuSession>> CreateGpuSession(const Model& model, int64_t max_context) {
  TRITIUM_RETURN_IF_ERROR(cuda::RequireDevice());
  TRITIUM_ASSIGN_OR_RETURN(std::shared_ptr<GpuModel> gm, GpuModel::Upload(model));
  return GpuSession::Create(std::move(gm), max_context);
}

}  // namespace tritium
