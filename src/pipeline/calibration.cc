// Calibration windows, the importance matrix file, Hessian accumulation and the layer-by-layer
// runner. See calibration.h.
#include "src/pipeline/calibration.h"

#include <xxhash.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "src/base/file.h"
#include "src/base/paths.h"
#include "src/io/gguf.h"
#include "src/model/forward.h"
#include "src/model/layer_math.h"

namespace tritium {
namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

constexpr const char* kLinearSuffixes[] = {"attn_q.weight",   "attn_k.weight", "attn_v.weight",
                                           "attn_output.weight", "ffn_gate.weight",
                                           "ffn_up.weight",   "ffn_down.weight"};

constexpr int64_t kHessianBlock = 64;

}  // namespace

int64_t CalibrationText::tokens() const {
  int64_t n = 0;
  for (const auto& w : windows) n += static_cast<int64_t>(w.size());
  return n;
}

std::string DefaultCalibrationPath() { return SharedPath("data/brown/brown.txt"); }

StatusOr<CalibrationText> LoadCalibrationText(const Tokenizer& tok, const CalibrationOptions& o) {
  if (o.seqs < 1) return InvalidArgumentError("calibration: seqs must be >= 1");
  if (o.ctx < 2) return InvalidArgumentError("calibration: ctx must be >= 2");
  CalibrationText c;
  c.path = o.text_path.empty() ? DefaultCalibrationPath() : o.text_path;
  auto text = ReadFileToString(c.path);
  if (!text.ok()) return text.status().WithPrefix("calibration text: ");
  c.text_hash = XXH64(text->data(), text->size(), 0);
  const std::string& t = *text;
  // Tokenizing a whole corpus costs far more than the windows need: each window is cut from a
  // random line start and only a stretch of text around it is tokenized (bytes ~ 8 per token,
  // widened until it holds ctx tokens). Short texts are tokenized whole.
  const size_t span = static_cast<size_t>(o.ctx) * 8;
  if (t.size() <= 4 * span) {
    std::vector<int32_t> ids = tok.Encode(t, /*add_bos=*/false);
    c.text_tokens = static_cast<int64_t>(ids.size());
    if (ids.size() < 2) return InvalidArgumentError(c.path + ": calibration text has < 2 tokens");
    if (c.text_tokens <= o.ctx) {
      c.windows.push_back(ids);
      return c;
    }
    uint64_t state = o.seed;
    const uint64_t starts = static_cast<uint64_t>(c.text_tokens - o.ctx + 1);
    for (int64_t s = 0; s < o.seqs; ++s) {
      const int64_t at = static_cast<int64_t>(SplitMix64(&state) % starts);
      c.windows.emplace_back(ids.begin() + at, ids.begin() + at + o.ctx);
    }
    return c;
  }
  c.text_tokens = -1;  // not tokenized whole
  uint64_t state = o.seed;
  for (int64_t s = 0; s < o.seqs; ++s) {
    size_t at = static_cast<size_t>(SplitMix64(&state) % (t.size() - 2 * span));
    const size_t nl = t.find('\n', at);
    at = nl == std::string::npos ? at : nl + 1;
    std::vector<int32_t> ids;
    for (size_t len = span; ids.size() < static_cast<size_t>(o.ctx); len *= 2) {
      ids = tok.Encode(std::string_view(t).substr(at, len), /*add_bos=*/false);
      if (at + len >= t.size()) break;
    }
    if (ids.size() < static_cast<size_t>(o.ctx)) {
      return InvalidArgumentError(c.path + ": calibration text too short for the windows");
    }
    ids.resize(static_cast<size_t>(o.ctx));
    c.windows.push_back(std::move(ids));
  }
  return c;
}

// ---- importance matrix file ----

Status SaveImatrix(const std::string& path, const Imatrix& m) {
  GgufWriter w;
  w.Set("general.type", GgufValue::Str("imatrix"));
  w.Set("tritium.imatrix.text_hash", GgufValue::U64(m.text_hash));
  w.Set("tritium.imatrix.tokens", GgufValue::U64(static_cast<uint64_t>(m.tokens)));
  w.Set("tritium.imatrix.windows", GgufValue::U64(static_cast<uint64_t>(m.windows)));
  for (const auto& [name, v] : m.values) {
    w.AddTensor(name, {static_cast<uint64_t>(v.size())}, kGgmlTypeF32, v.data(),
                v.size() * sizeof(float));
  }
  return w.Write(path).WithPrefix(path + ": ");
}

StatusOr<Imatrix> LoadImatrix(const std::string& path) {
  auto f = GgufFile::Open(path);
  if (!f.ok()) {
    // The reader's message already starts with the path.
    std::string m = f.status().message();
    if (m.rfind(path + ": ", 0) == 0) m = m.substr(path.size() + 2);
    return InvalidArgumentError(path + ": not a readable importance matrix: " + m);
  }
  const GgufValue* type = (*f)->Find("general.type");
  auto type_s = type != nullptr ? type->AsString() : StatusOr<std::string>(std::string());
  if (!type_s.ok() || *type_s != "imatrix") {
    return InvalidArgumentError(path + ": not an importance matrix (general.type != imatrix)");
  }
  Imatrix m;
  m.path = path;
  auto get_u = [&](const char* key, uint64_t* out) -> Status {
    auto v = (*f)->Get(key);
    if (!v.ok()) return v.status();
    auto u = (*v)->AsUint();
    if (!u.ok()) return u.status().WithPrefix(path + ": " + key + ": ");
    *out = *u;
    return OkStatus();
  };
  uint64_t tokens = 0, windows = 0;
  TRITIUM_RETURN_IF_ERROR(get_u("tritium.imatrix.text_hash", &m.text_hash));
  TRITIUM_RETURN_IF_ERROR(get_u("tritium.imatrix.tokens", &tokens));
  TRITIUM_RETURN_IF_ERROR(get_u("tritium.imatrix.windows", &windows));
  m.tokens = static_cast<int64_t>(tokens);
  m.windows = static_cast<int64_t>(windows);
  for (const GgufTensorInfo& t : (*f)->tensors()) {
    if (t.type != kGgmlTypeF32 || t.dims.size() != 1) {
      return InvalidArgumentError(path + ": tensor '" + t.name +
                                  "' must be a one-dimensional F32 vector");
    }
    std::vector<float> v(static_cast<size_t>(t.dims[0]));
    std::copy_n(reinterpret_cast<const float*>(t.data), v.size(), v.data());
    for (float x : v) {
      if (!std::isfinite(x) || x < 0.0f) {
        return InvalidArgumentError(path + ": tensor '" + t.name +
                                    "' has a negative or non-finite value");
      }
    }
    m.values[t.name] = std::move(v);
  }
  return m;
}

Status CheckImatrix(const Imatrix& m, const Model& model) {
  const std::string where = m.path.empty() ? "importance matrix" : m.path;
  std::map<std::string, int64_t> want;
  for (int64_t l = 0; l < model.config().n_layers; ++l) {
    for (const char* s : kLinearSuffixes) {
      const std::string name = LayerTensorName(static_cast<int>(l), s);
      if (const Tensor* t = model.FindTensor(name)) want[name] = t->cols();
    }
  }
  for (const auto& [name, v] : m.values) {
    auto it = want.find(name);
    if (it == want.end()) {
      return InvalidArgumentError(where + ": tensor '" + name +
                                  "' is not a linear weight of this model (wrong imatrix?)");
    }
    if (static_cast<int64_t>(v.size()) != it->second) {
      return InvalidArgumentError(where + ": tensor '" + name + "' has " +
                                  std::to_string(v.size()) + " values, the model's weight has " +
                                  std::to_string(it->second) + " columns (wrong imatrix?)");
    }
  }
  for (const auto& [name, cols] : want) {
    if (m.values.count(name) == 0) {
      return InvalidArgumentError(where + ": no entry for '" + name + "' (wrong imatrix?)");
    }
  }
  return OkStatus();
}

StatusOr<Imatrix> ComputeImatrix(const Model& model, const CalibrationText& text, ThreadPool* pool,
                                 const std::function<void(int64_t, int64_t)>& progress) {
  std::map<std::string, std::vector<double>> sums;
  std::map<std::string, int64_t> counts;
  int64_t max_len = 0;
  for (const auto& w : text.windows) max_len = std::max<int64_t>(max_len, w.size());
  Session session(model, pool, max_len);
  session.set_observer([&](const Tensor& w, const float* x, int64_t n) {
    if (w.name.rfind("blk.", 0) != 0) return;  // decoder linears only (not the output head)
    std::vector<double>& s = sums[w.name];
    const int64_t cols = w.cols();
    s.resize(static_cast<size_t>(cols), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < cols; ++j) s[j] += static_cast<double>(x[i * cols + j]) * x[i * cols + j];
    }
    counts[w.name] += n;
  });
  std::vector<float> logits;
  const int64_t total = static_cast<int64_t>(text.windows.size());
  for (int64_t i = 0; i < total; ++i) {
    const auto& win = text.windows[i];
    session.Reset();
    TRITIUM_RETURN_IF_ERROR(session.Forward(win.data(), static_cast<int64_t>(win.size()),
                                            /*all_logits=*/false, &logits));
    if (progress) progress(i + 1, total);
  }
  Imatrix m;
  m.tokens = text.tokens();
  m.text_hash = text.text_hash;
  m.windows = total;
  for (const auto& [name, s] : sums) {
    std::vector<float> v(s.size());
    const double inv = counts[name] > 0 ? 1.0 / counts[name] : 0.0;
    for (size_t j = 0; j < s.size(); ++j) v[j] = static_cast<float>(s[j] * inv);
    m.values[name] = std::move(v);
  }
  return m;
}

// ---- Hessian ----

HessianAccumulator::HessianAccumulator(int64_t cols)
    : cols_(cols), h_(static_cast<size_t>(cols * cols), 0.0) {}

void HessianAccumulator::Add(const float* x, int64_t n, ThreadPool* pool) {
  using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const MatF> X(x, n, cols_);
  const int64_t blocks = (cols_ + kHessianBlock - 1) / kHessianBlock;
  // Block b: rows [b0, cols) x columns [b0, b1) of the lower triangle; fixed shapes per block.
  auto work = [&](int64_t bb0, int64_t bb1, int) {
    for (int64_t b = bb0; b < bb1; ++b) {
      const int64_t c0 = b * kHessianBlock, c1 = std::min(cols_, c0 + kHessianBlock);
      MatF p = X.rightCols(cols_ - c0).transpose() * X.middleCols(c0, c1 - c0);
      for (int64_t i = c0; i < cols_; ++i) {
        double* hr = h_.data() + i * cols_;
        for (int64_t j = c0; j < std::min(c1, i + 1); ++j) hr[j] += p(i - c0, j - c0);
      }
    }
  };
  if (pool == nullptr || pool->num_threads() <= 1) {
    work(0, blocks, 0);
  } else {
    pool->ParallelFor(blocks, work);
  }
  tokens_ += n;
}

std::vector<double> HessianAccumulator::TakeMean() {
  std::vector<double> m = std::move(h_);
  h_.clear();
  const double inv = tokens_ == 0 ? 0.0 : 1.0 / static_cast<double>(tokens_);
  // Row i's lower part is read before row i's upper part is written, and the upper part (written
  // from rows below) holds nothing the accumulator used: the same values as Mean().
  for (int64_t i = 0; i < cols_; ++i) {
    for (int64_t j = 0; j <= i; ++j) m[i * cols_ + j] = m[j * cols_ + i] = m[i * cols_ + j] * inv;
  }
  tokens_ = 0;
  return m;
}

std::vector<double> HessianAccumulator::Mean() const {
  std::vector<double> m(static_cast<size_t>(cols_ * cols_), 0.0);
  if (tokens_ == 0) return m;
  const double inv = 1.0 / static_cast<double>(tokens_);
  for (int64_t i = 0; i < cols_; ++i) {
    for (int64_t j = 0; j <= i; ++j) m[i * cols_ + j] = m[j * cols_ + i] = h_[i * cols_ + j] * inv;
  }
  return m;
}

// ---- layer runner ----

std::vector<const Tensor*> StageWeights(const LayerWeights& w, LayerStage s) {
  switch (s) {
    case LayerStage::kAttnIn:
      return {w.wq, w.wk, w.wv};
    case LayerStage::kAttnOut:
      return {w.wo};
    case LayerStage::kFfnIn:
      return {w.w_gate, w.w_up};
    case LayerStage::kFfnOut:
      return {w.w_down};
  }
  return {};
}

LayerRunner::LayerRunner(const Model& model, const std::vector<std::vector<int32_t>>& windows,
                         ThreadPool* pool)
    : model_(model), pool_(pool) {
  const ModelConfig& c = model.config();
  const int64_t d = c.hidden;
  const Tensor& emb = model.embedding();
  const size_t rb = emb.format->row_bytes(d, emb.params);
  int64_t max_len = 0;
  for (const auto& win : windows) {
    const int64_t n = static_cast<int64_t>(win.size());
    max_len = std::max(max_len, n);
    len_.push_back(n);
    std::vector<float> x(static_cast<size_t>(n * d));
    for (int64_t i = 0; i < n; ++i) {
      emb.format->dequantize_row(emb.data + static_cast<size_t>(win[i]) * rb, &x[i * d], d,
                                 emb.params);
    }
    x_.push_back(std::move(x));
  }
  mid_.resize(windows.size());
  RopeTables(model, max_len, &rope_cos_, &rope_sin_);
}

void LayerRunner::Attention(int64_t n, const float* q, const float* k, const float* v,
                            float* out) {
  const ModelConfig& c = model_.config();
  const int64_t hd = c.head_dim, qd = c.q_dim(), kvd = c.kv_dim();
  const int64_t group = c.n_heads / c.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto work = [&](int64_t h0, int64_t h1, int) {
    std::vector<float> s(static_cast<size_t>(n)), kt(static_cast<size_t>(hd * n));
    for (int64_t h = h0; h < h1; ++h) {
      const int64_t kvh = h / group;
      // Keys transposed ([hd x n]) so that the scores of one query are axpys over positions,
      // which vectorize, instead of n dot products, which do not.
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t x = 0; x < hd; ++x) kt[x * n + j] = k[j * kvd + kvh * hd + x];
      }
      for (int64_t i = 0; i < n; ++i) {
        const float* qi = q + i * qd + h * hd;
        std::fill(s.begin(), s.begin() + i + 1, 0.0f);
        for (int64_t x = 0; x < hd; ++x) {
          const float qx = qi[x];
          const float* kx = kt.data() + x * n;
          for (int64_t j = 0; j <= i; ++j) s[j] += qx * kx[j];
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          s[j] *= scale;
          mx = std::max(mx, s[j]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j <= i; ++j) {
          s[j] = std::exp(s[j] - mx);
          sum += s[j];
        }
        const float inv = 1.0f / sum;
        float* o = out + i * qd + h * hd;
        std::fill(o, o + hd, 0.0f);
        for (int64_t j = 0; j <= i; ++j) {
          const float* vj = v + j * kvd + kvh * hd;
          const float p = s[j] * inv;
          for (int64_t x = 0; x < hd; ++x) o[x] += p * vj[x];
        }
      }
    }
  };
  if (pool_ != nullptr && pool_->num_threads() > 1) {
    pool_->ParallelFor(c.n_heads, work);
  } else {
    work(0, c.n_heads, 0);
  }
}

void LayerRunner::RunStage(int l, const LayerWeights& w, LayerStage s,
                           const std::function<void(const float*, int64_t)>& obs) {
  const ModelConfig& c = model_.config();
  const int64_t d = c.hidden, qd = c.q_dim(), kvd = c.kv_dim(), f = c.intermediate;
  const int64_t half = c.head_dim / 2;
  std::vector<float> xn, q, k, v, y, up;
  for (size_t win = 0; win < x_.size(); ++win) {
    const int64_t n = len_[win];
    std::vector<float>& x = x_[win];
    std::vector<float>& mid = mid_[win];
    switch (s) {
      case LayerStage::kAttnIn: {
        xn.resize(static_cast<size_t>(n * d));
        RmsNormRows(x.data(), w.attn_norm, n, d, c.rms_eps, xn.data());
        if (obs) obs(xn.data(), n);
        break;
      }
      case LayerStage::kAttnOut: {
        xn.resize(static_cast<size_t>(n * d));
        q.resize(static_cast<size_t>(n * qd));
        k.resize(static_cast<size_t>(n * kvd));
        v.resize(static_cast<size_t>(n * kvd));
        RmsNormRows(x.data(), w.attn_norm, n, d, c.rms_eps, xn.data());
        MatMul(w.wq->view(), xn.data(), n, q.data(), pool_);
        MatMul(w.wk->view(), xn.data(), n, k.data(), pool_);
        MatMul(w.wv->view(), xn.data(), n, v.data(), pool_);
        for (int64_t i = 0; i < n; ++i) {
          PrepareQkv(c, w, &rope_cos_[i * half], &rope_sin_[i * half], &q[i * qd], &k[i * kvd],
                     &v[i * kvd]);
        }
        mid.resize(static_cast<size_t>(n * qd));
        Attention(n, q.data(), k.data(), v.data(), mid.data());
        if (obs) obs(mid.data(), n);
        break;
      }
      case LayerStage::kFfnIn: {
        y.resize(static_cast<size_t>(n * d));
        MatMul(w.wo->view(), mid.data(), n, y.data(), pool_);
        for (int64_t i = 0; i < n * d; ++i) x[i] += y[i];
        std::vector<float>().swap(mid);
        xn.resize(static_cast<size_t>(n * d));
        RmsNormRows(x.data(), w.ffn_norm, n, d, c.rms_eps, xn.data());
        if (obs) obs(xn.data(), n);
        break;
      }
      case LayerStage::kFfnOut: {
        xn.resize(static_cast<size_t>(n * d));
        RmsNormRows(x.data(), w.ffn_norm, n, d, c.rms_eps, xn.data());
        mid.resize(static_cast<size_t>(n * f));
        up.resize(static_cast<size_t>(n * f));
        MatMul(w.w_gate->view(), xn.data(), n, mid.data(), pool_);
        MatMul(w.w_up->view(), xn.data(), n, up.data(), pool_);
        for (int64_t i = 0; i < n * f; ++i) mid[i] = Silu(mid[i]) * up[i];
        if (obs) obs(mid.data(), n);
        break;
      }
    }
  }
  (void)l;
}

void LayerRunner::Finish(int l, const LayerWeights& w) {
  const int64_t d = model_.config().hidden;
  std::vector<float> y;
  for (size_t win = 0; win < x_.size(); ++win) {
    const int64_t n = len_[win];
    y.resize(static_cast<size_t>(n * d));
    MatMul(w.w_down->view(), mid_[win].data(), n, y.data(), pool_);
    for (int64_t i = 0; i < n * d; ++i) x_[win][i] += y[i];
    std::vector<float>().swap(mid_[win]);
  }
  (void)l;
}

}  // namespace tritium
