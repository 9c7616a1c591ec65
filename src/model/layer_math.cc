#include "src/model/layer_math.h"

namespace tritium {

void RmsNorm(const float* x, const float* w, int64_t d, float eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(d) + eps));
  for (int64_t i = 0; i < d; ++i) out[i] = w[i] * (x[i] * scale);
}

void RmsNormRows(const float* x, const float* w, int64_t n, int64_t d, float eps, float* out) {
  for (int64_t i = 0; i < n; ++i) RmsNorm(x + i * d, w, d, eps, out + i * d);
}

void RopeTables(const Model& model, int64_t positions, std::vector<float>* cos,
                std::vector<float>* sin) {
  const ModelConfig& c = model.config();
  const int64_t half = c.head_dim / 2;
  cos->resize(static_cast<size_t>(positions * half));
  sin->resize(cos->size());
  const auto& factors = model.rope_freq_factors();
  for (int64_t i = 0; i < half; ++i) {
    const double inv = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.head_dim) /
                       factors[static_cast<size_t>(i)];
    for (int64_t p = 0; p < positions; ++p) {
      const double a = static_cast<double>(p) * inv;
      (*cos)[p * half + i] = static_cast<float>(std::cos(a));
      (*sin)[p * half + i] = static_cast<float>(std::sin(a));
    }
  }
}

void PrepareQkv(const ModelConfig& c, const LayerWeights& w, const float* cos, const float* sin,
                float* q, float* k, float* v) {
  const int64_t qd = c.q_dim(), kvd = c.kv_dim(), half = c.head_dim / 2;
  if (w.bq != nullptr) {
    for (int64_t j = 0; j < qd; ++j) q[j] += w.bq[j];
    for (int64_t j = 0; j < kvd; ++j) k[j] += w.bk[j];
    for (int64_t j = 0; j < kvd; ++j) v[j] += w.bv[j];
  }
  if (w.q_norm != nullptr) {
    for (int64_t h = 0; h < c.n_heads; ++h) {
      float* p = q + h * c.head_dim;
      RmsNorm(p, w.q_norm, c.head_dim, c.rms_eps, p);
    }
    for (int64_t h = 0; h < c.n_kv_heads; ++h) {
      float* p = k + h * c.head_dim;
      RmsNorm(p, w.k_norm, c.head_dim, c.rms_eps, p);
    }
  }
  auto rotate = [&](float* vec, int64_t heads) {
    for (int64_t h = 0; h < heads; ++h) {
      float* p = vec + h * c.head_dim;
      if (c.rope_style == RopeStyle::kHalf) {
        for (int64_t j = 0; j < half; ++j) {
          const float a = p[j], b = p[j + half];
          p[j] = a * cos[j] - b * sin[j];
          p[j + half] = b * cos[j] + a * sin[j];
        }
      } else {
        for (int64_t j = 0; j < half; ++j) {
          const float a = p[2 * j], b = p[2 * j + 1];
          p[2 * j] = a * cos[j] - b * sin[j];
          p[2 * j + 1] = a * sin[j] + b * cos[j];
        }
      }
    }
  };
  rotate(q, c.n_heads);
  rotate(k, c.n_kv_heads);
}

}  // namespace tritium
