#include "src/model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "src/kernels/cpu/dot_f32.h"
#include "src/model/layer_math.h"

namespace tritium {

Session::Session(const Model& model, ThreadPool* pool, int64_t max_context)
    : model_(model), pool_(pool) {
  const ModelConfig& c = model.config();
  max_context_ = max_context > 0 ? max_context : c.max_positions;
  const size_t cache = static_cast<size_t>(c.n_layers * max_context_ * c.kv_dim());
  // calloc'd, not value-initialized: large blocks come from the kernel already zero and stay
  // untouched (not resident) until a position is written, so a short run at a long context costs
  // only the positions it uses.
  k_cache_.reset(static_cast<float*>(std::calloc(cache ? cache : 1, sizeof(float))));
  v_cache_.reset(static_cast<float*>(std::calloc(cache ? cache : 1, sizeof(float))));
  TRITIUM_CHECK(k_cache_ != nullptr && v_cache_ != nullptr);
  RopeTables(model, max_context_, &rope_cos_, &rope_sin_);
}

void Session::Linear(const Tensor& w, const float* x, int64_t n, float* y) {
  if (observer_) observer_(w, x, n);
  MatMul(w.view(), x, n, y, pool_);
}

Status Session::Forward(const int32_t* tokens, int64_t n, bool all_logits,
                        std::vector<float>* logits) {
  const ModelConfig& c = model_.config();
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
  const int64_t d = c.hidden, qd = c.q_dim(), kvd = c.kv_dim(), f = c.intermediate;
  auto grow = [](std::vector<float>& v, int64_t size) {
    if (static_cast<int64_t>(v.size()) < size) v.resize(static_cast<size_t>(size));
  };
  grow(x_, n * d);
  grow(xn_, n * std::max(d, qd));
  grow(q_, n * qd);
  grow(k_, n * kvd);
  grow(v_, n * kvd);
  grow(att_, n * std::max(qd, d));
  grow(gate_, n * f);
  grow(up_, n * f);

  const Tensor& emb = model_.embedding();
  const size_t emb_rb = emb.format->row_bytes(d, emb.params);
  for (int64_t i = 0; i < n; ++i) {
    emb.format->dequantize_row(emb.data + static_cast<size_t>(tokens[i]) * emb_rb, &x_[i * d], d,
                               emb.params);
  }
  if (hidden_observer_) hidden_observer_(-1, x_.data(), n);

  const int64_t half = c.head_dim / 2;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = model_.layers()[static_cast<size_t>(l)];
    RmsNormRows(x_.data(), L.attn_norm, n, d, c.rms_eps, xn_.data());
    Linear(*L.wq, xn_.data(), n, q_.data());
    Linear(*L.wk, xn_.data(), n, k_.data());
    Linear(*L.wv, xn_.data(), n, v_.data());
    for (int64_t i = 0; i < n; ++i) {
      PrepareQkv(c, L, &rope_cos_[(pos_ + i) * half], &rope_sin_[(pos_ + i) * half], &q_[i * qd],
                 &k_[i * kvd], &v_[i * kvd]);
      float* kc = &k_cache_[((l * max_context_) + pos_ + i) * kvd];
      float* vc = &v_cache_[((l * max_context_) + pos_ + i) * kvd];
      std::copy(&k_[i * kvd], &k_[i * kvd] + kvd, kc);
      std::copy(&v_[i * kvd], &v_[i * kvd] + kvd, vc);
    }
    Attention(static_cast<int>(l), n);
    Linear(*L.wo, att_.data(), n, xn_.data());
    for (int64_t i = 0; i < n * d; ++i) x_[i] += xn_[i];

    RmsNormRows(x_.data(), L.ffn_norm, n, d, c.rms_eps, xn_.data());
    Linear(*L.w_gate, xn_.data(), n, gate_.data());
    Linear(*L.w_up, xn_.data(), n, up_.data());
    for (int64_t i = 0; i < n * f; ++i) gate_[i] = Silu(gate_[i]) * up_[i];
    Linear(*L.w_down, gate_.data(), n, att_.data());
    for (int64_t i = 0; i < n * d; ++i) x_[i] += att_[i];
    if (hidden_observer_) hidden_observer_(static_cast<int>(l), x_.data(), n);
  }

  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t m = n - first;
  RmsNormRows(&x_[first * d], model_.output_norm(), m, d, c.rms_eps, xn_.data());
  if (hidden_observer_) hidden_observer_(static_cast<int>(c.n_layers), xn_.data(), m);
  logits->resize(static_cast<size_t>(m * c.vocab_size));
  Linear(model_.output(), xn_.data(), m, logits->data());
  // Finite weights can still overflow float32 arithmetic (3e38 everywhere): refuse to sample or
  // score from garbage.
  for (size_t i = 0; i < logits->size(); ++i) {
    if (!std::isfinite((*logits)[i])) {
      return DataLossError(model_.path() + ": the forward pass produced a non-finite logit at " +
                           "position " + std::to_string(pos_ + first + static_cast<int64_t>(i) /
                                                                          c.vocab_size) +
                           " (the weights overflow float32 arithmetic)");
    }
  }
  pos_ += n;
  return OkStatus();
}

void Session::Attention(int layer, int64_t n) {
  const ModelConfig& c = model_.config();
  const int64_t hd = c.head_dim, qd = c.q_dim(), kvd = c.kv_dim();
  const int64_t group = c.n_heads / c.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* kc = &k_cache_[static_cast<size_t>(layer) * max_context_ * kvd];
  const float* vc = &v_cache_[static_cast<size_t>(layer) * max_context_ * kvd];
  const int64_t total = pos_ + n;
  const int threads = pool_ != nullptr ? pool_->num_threads() : 1;
  // Queries are taken kQueryBlock at a time so that q.k products run through the same tiled dot
  // kernel as the projections (one fixed order of operations per score).
  constexpr int64_t kQueryBlock = 4;
  const int64_t blocks = (n + kQueryBlock - 1) / kQueryBlock;
  if (static_cast<int64_t>(scores_.size()) < threads * kQueryBlock * total) {
    scores_.resize(static_cast<size_t>(threads * kQueryBlock * total));
  }
  if (static_cast<int64_t>(key_rows_.size()) < threads * total) {
    key_rows_.resize(static_cast<size_t>(threads * total));
  }
  const DotTileFn tile = BestDotTile();
  // One work item per (head, block of queries); each writes its own output slices.
  auto work = [&](int64_t b, int64_t e, int t) {
    float* sc = &scores_[static_cast<size_t>(t) * kQueryBlock * total];
    const float** rows = &key_rows_[static_cast<size_t>(t) * total];
    for (int64_t item = b; item < e; ++item) {
      const int64_t h = item / blocks, i0 = (item % blocks) * kQueryBlock;
      const int64_t nq = std::min(kQueryBlock, n - i0);
      const int64_t kvh = h / group;
      const int64_t len_max = pos_ + i0 + nq;  // keys visible to the block's last query
      for (int64_t j = 0; j < len_max; ++j) rows[j] = kc + j * kvd + kvh * hd;
      tile(rows, static_cast<int>(len_max), &q_[i0 * qd + h * hd], qd, static_cast<int>(nq), hd,
           sc, total);
      for (int64_t qi = 0; qi < nq; ++qi) {
        const int64_t i = i0 + qi;
        const int64_t len = pos_ + i + 1;  // causal: positions 0..pos_+i
        float* s = sc + qi * total;
        float mx = -INFINITY;
        for (int64_t j = 0; j < len; ++j) {
          s[j] *= scale;
          mx = std::max(mx, s[j]);
        }
        float sum = 0;
        for (int64_t j = 0; j < len; ++j) {
          s[j] = std::exp(s[j] - mx);
          sum += s[j];
        }
        const float inv = 1.0f / sum;
        float* out = &att_[i * qd + h * hd];
        std::fill(out, out + hd, 0.0f);
        for (int64_t j = 0; j < len; ++j) {
          const float* v = vc + j * kvd + kvh * hd;
          const float p = s[j] * inv;
          for (int64_t x = 0; x < hd; ++x) out[x] += p * v[x];
        }
      }
    }
  };
  if (pool_ != nullptr) {
    pool_->ParallelFor(c.n_heads * blocks, work);
  } else {
    work(0, c.n_heads * blocks, 0);
  }
}

}  // namespace tritium
