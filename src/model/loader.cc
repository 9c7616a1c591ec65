// Model loading from the three source kinds. Each loader fills Model::tensors_ under GGUF names;
// Model::Finish() then wires the layers and checks every shape against the config.
#include <atomic>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/fp16.h"
#include "src/io/gguf.h"
#include "src/io/json.h"
#include "src/io/safetensors.h"
#include "src/kernels/cpu/quant_kernels.h"
#include "src/model/gguf_model.h"
#include "src/model/model.h"

namespace tritium {

WeightView Tensor::view() const {
  WeightView v;
  v.format = format;
  v.params = params;
  v.rows = rows();
  v.cols = cols();
  v.row_bytes = format->row_bytes(v.cols, params);
  v.data = data;
  v.prepared = prepared.get();
  return v;
}

void Tensor::ReleaseFilePages() const {
  if (file_backed) ReleaseMappedPages(data, nbytes);
}

std::string LayerTensorName(int layer, const char* suffix) {
  return "blk." + std::to_string(layer) + "." + suffix;
}

Model::~Model() = default;

const Tensor* Model::FindTensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

int64_t Model::ParameterCount() const {
  int64_t n = 0;
  for (const auto& t : tensors_) n += t.numel();
  return n;
}

uint64_t Model::TensorBytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors_) n += t.nbytes;
  return n;
}

class ModelLoader {
 public:
  explicit ModelLoader(Model* m) : m_(m) {}

  // Takes ownership of a float buffer and adds it as an F32 tensor.
  void AddF32(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
    auto buf = std::make_shared<std::vector<float>>(std::move(values));
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.format = FindFormat(FormatId::kF32);
    t.data = reinterpret_cast<const uint8_t*>(buf->data());
    t.nbytes = buf->size() * sizeof(float);
    m_->keep_alive_.push_back(buf);
    Add(std::move(t));
  }

  void Add(Tensor t) {
    m_->index_[t.name] = m_->tensors_.size();
    m_->tensors_.push_back(std::move(t));
  }

  Status LoadHf(const std::string& dir, const LoadOptions& opts);
  Status LoadLlama2c(const std::string& path, const LoadOptions& opts);
  Status LoadGguf(const std::string& path, const LoadOptions& opts);

 private:
  Model* m_;
};

namespace {

// Hugging Face tensor name -> GGUF name; empty if not a tensor we use.
std::string HfToGgufName(const std::string& hf) {
  static const std::pair<const char*, const char*> kTop[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  for (auto& [a, b] : kTop) {
    if (hf == a) return b;
  }
  static const std::pair<const char*, const char*> kLayer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  const std::string prefix = "model.layers.";
  if (hf.rfind(prefix, 0) != 0) return "";
  size_t dot = hf.find('.', prefix.size());
  if (dot == std::string::npos) return "";
  std::string idx = hf.substr(prefix.size(), dot - prefix.size());
  if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) return "";
  std::string rest = hf.substr(dot + 1);
  for (auto& [a, b] : kLayer) {
    if (rest == a) return "blk." + idx + "." + b;
  }
  return "";
}

std::vector<float> Llama3FreqFactors(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  std::vector<float> f(static_cast<size_t>(half), 1.0f);
  if (!c.rope_llama3) return f;
  const double old_ctx = static_cast<double>(c.rope_original_max_positions);
  const double low_wavelen = old_ctx / c.rope_low_freq_factor;
  const double high_wavelen = old_ctx / c.rope_high_freq_factor;
  for (int64_t i = 0; i < half; ++i) {
    double inv = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.head_dim);
    double wavelen = 2 * M_PI / inv;
    double scaled;
    if (wavelen < high_wavelen) {
      scaled = inv;
    } else if (wavelen > low_wavelen) {
      scaled = inv / c.rope_factor;
    } else {
      double smooth = (old_ctx / wavelen - c.rope_low_freq_factor) /
                      (c.rope_high_freq_factor - c.rope_low_freq_factor);
      scaled = (1 - smooth) * inv / c.rope_factor + smooth * inv;
    }
    f[static_cast<size_t>(i)] = static_cast<float>(inv / scaled);
  }
  return f;
}

// transformers keeps the template in tokenizer_config.json ("chat_template": a string, or a list
// of {"name", "template"} of which "default" is the chat one) or, since 4.43, in
// chat_template.jinja. A template of the wrong type is an error: chatting with a silently dropped
// template would render garbage.
Status ReadHfChatTemplate(const std::string& dir, std::string* out) {
  const std::string jinja = JoinPath(dir, "chat_template.jinja");
  if (FileExists(jinja)) {
    TRITIUM_ASSIGN_OR_RETURN(*out, ReadFileToString(jinja));
    return OkStatus();
  }
  const std::string path = JoinPath(dir, "tokenizer_config.json");
  if (!FileExists(path)) return OkStatus();
  TRITIUM_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  TRITIUM_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, path));
  if (!j.is_object() || !j.contains("chat_template") || j["chat_template"].is_null()) {
    return OkStatus();
  }
  const nlohmann::json& t = j["chat_template"];
  if (t.is_string()) {
    *out = t.get<std::string>();
    return OkStatus();
  }
  if (t.is_array()) {
    for (const nlohmann::json& e : t) {
      if (e.is_object() && e.contains("name") && e["name"] == "default" && e.contains("template") &&
          e["template"].is_string()) {
        *out = e["template"].get<std::string>();
        return OkStatus();
      }
    }
  }
  return DataLossError(path +
                       ": chat_template must be a string or a list with a \"default\" "
                       "entry");
}

}  // namespace

Status ModelLoader::LoadHf(const std::string& dir, const LoadOptions& opts) {
  TRITIUM_ASSIGN_OR_RETURN(m_->config_, ParseHfConfig(JoinPath(dir, "config.json")));
  TRITIUM_ASSIGN_OR_RETURN(auto st, SafetensorsSet::Open(dir));
  for (const auto& [hf_name, t] : st->tensors()) {
    std::string name = HfToGgufName(hf_name);
    if (name.empty()) {
      if (hf_name.find("rotary_emb") != std::string::npos) continue;
      return UnimplementedError(t.file + ": unexpected tensor '" + hf_name + "' for " +
                                m_->config_.hf_class);
    }
    if (t.shape.empty() || t.shape.size() > 2) {
      return DataLossError(t.file + ": tensor '" + hf_name + "' has " +
                           std::to_string(t.shape.size()) + " dimensions");
    }
    const FormatId fid = t.dtype == StDtype::kBF16  ? FormatId::kBF16
                         : t.dtype == StDtype::kF16 ? FormatId::kF16
                                                    : FormatId::kF32;
    if (t.shape.size() == 1) {
      // Vectors (norms, biases) are small and computed in fp32: widen them once, finite only.
      TRITIUM_ASSIGN_OR_RETURN(std::vector<float> values, StTensorToF32(t, true));
      AddF32(name, t.shape, std::move(values));
      continue;
    }
    // Matrices stay in the mapping in their source type: the engine runs BF16/F16 directly and a
    // quantizer widens one tensor at a time, so no whole-model float copy is ever made.
    Tensor x;
    x.name = name;
    x.shape = t.shape;
    x.format = FindFormat(fid);
    x.data = t.data;
    x.nbytes = t.nbytes;
    x.file_backed = true;
    const size_t elem = fid == FormatId::kF32 ? 4 : 2;
    if (reinterpret_cast<uintptr_t>(t.data) % elem != 0) {
      // safetensors does not promise aligned data; the kernels read whole elements.
      auto buf = std::make_shared<std::vector<uint8_t>>(t.data, t.data + t.nbytes);
      m_->keep_alive_.push_back(buf);
      x.data = buf->data();
      x.file_backed = false;
    }
    // Non-finite values are refused, except when the caller (the quantizer) has promised to count
    // them and store them as 0.
    if (!opts.allow_nonfinite_weights) {
      const size_t rb = x.format->row_bytes(x.cols(), x.params);
      for (int64_t r = 0; r < x.rows(); ++r) {
        Status v = x.format->validate_row(x.data + r * rb, x.cols(), x.params);
        if (!v.ok()) {
          return DataLossError(t.file + ": tensor '" + hf_name + "' has a non-finite value (row " +
                               std::to_string(r) + ": " + v.message() + ")");
        }
      }
      // Validated pages leave the resident set; the forward pass faults in what it uses.
      x.ReleaseFilePages();
    }
    Add(std::move(x));
  }
  m_->keep_alive_.push_back(std::shared_ptr<SafetensorsSet>(std::move(st)));
  m_->rope_freq_factors_ = Llama3FreqFactors(m_->config_);
  TRITIUM_RETURN_IF_ERROR(ReadHfChatTemplate(dir, &m_->chat_template_));
  std::string tok = opts.tokenizer_path;
  if (tok.empty()) {
    auto t = LoadTokenizerFromDir(dir);
    if (t.ok()) {
      m_->tokenizer_ = std::move(t).value();
    } else if (opts.require_tokenizer) {
      return t.status();
    }
  }
  return OkStatus();
}

Status ModelLoader::LoadLlama2c(const std::string& path, const LoadOptions& opts) {
  TRITIUM_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  if (file->size() < 28) {
    return DataLossError(path + ": truncated llama2.c checkpoint (" + std::to_string(file->size()) +
                         " bytes, header needs 28)");
  }
  int32_t h[7];
  std::memcpy(h, file->data(), sizeof(h));
  ModelConfig& c = m_->config_;
  c.arch = "llama";
  c.hf_class = "llama2.c";
  c.hidden = h[0];
  c.intermediate = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.tie_embeddings = h[5] > 0;
  c.vocab_size = h[5] < 0 ? -static_cast<int64_t>(h[5]) : h[5];
  c.max_positions = h[6];
  c.head_dim = c.n_heads > 0 ? c.hidden / c.n_heads : 0;
  c.rms_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_style = RopeStyle::kInterleaved;
  c.bos_id = 1;
  c.eos_id = 2;
  c.eos_ids = {2};
  TRITIUM_RETURN_IF_ERROR(c.Validate(path));
  if (c.head_dim * c.n_heads != c.hidden) {
    return DataLossError(path + ": dim " + std::to_string(c.hidden) +
                         " is not a multiple of n_heads " + std::to_string(c.n_heads));
  }
  const int64_t d = c.hidden, f = c.intermediate, L = c.n_layers, V = c.vocab_size;
  const int64_t kv = c.kv_dim();
  const int64_t head = c.head_dim;
  // Expected float count, in file order; checked before any read.
  const int64_t rope_tables = c.max_positions * head / 2 * 2;
  const int64_t need = V * d + L * d + L * d * d + 2 * L * kv * d + L * d * d + L * d +
                       3 * L * f * d + d + rope_tables + (c.tie_embeddings ? 0 : V * d);
  const uint64_t payload = file->size() - 28;
  if (payload % 4 != 0 || payload / 4 != static_cast<uint64_t>(need)) {
    return DataLossError(path + ": llama2.c checkpoint has " + std::to_string(payload) +
                         " bytes of weights, its header implies " + std::to_string(need) +
                         " floats (" + std::to_string(need * 4) +
                         " bytes): truncated, padded, or not a legacy llama2.c file");
  }
  // The weights stay in the mapping (the 28-byte header keeps them 4-byte aligned).
  std::shared_ptr<MappedFile> mapped(std::move(file));
  m_->keep_alive_.push_back(mapped);
  const float* p = reinterpret_cast<const float*>(mapped->data() + 28);
  auto take = [&](int64_t n) {
    const float* v = p;
    p += n;
    return v;
  };
  auto add = [&](const std::string& name, std::vector<int64_t> shape, const float* v) {
    Tensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.format = FindFormat(FormatId::kF32);
    t.data = reinterpret_cast<const uint8_t*>(v);
    t.nbytes = static_cast<size_t>(t.numel()) * sizeof(float);
    t.file_backed = true;
    Add(std::move(t));
  };
  add("token_embd.weight", {V, d}, take(V * d));
  const float *att_norm = take(L * d), *wq = take(L * d * d), *wk = take(L * kv * d),
              *wv = take(L * kv * d), *wo = take(L * d * d), *ffn_norm = take(L * d),
              *w1 = take(L * f * d), *w2 = take(L * d * f), *w3 = take(L * f * d);
  const float* out_norm = take(d);
  p += rope_tables;  // freq_cis_real/imag: recomputed from theta
  for (int64_t l = 0; l < L; ++l) {
    int li = static_cast<int>(l);
    add(LayerTensorName(li, "attn_norm.weight"), {d}, att_norm + l * d);
    add(LayerTensorName(li, "attn_q.weight"), {d, d}, wq + l * d * d);
    add(LayerTensorName(li, "attn_k.weight"), {kv, d}, wk + l * kv * d);
    add(LayerTensorName(li, "attn_v.weight"), {kv, d}, wv + l * kv * d);
    add(LayerTensorName(li, "attn_output.weight"), {d, d}, wo + l * d * d);
    add(LayerTensorName(li, "ffn_norm.weight"), {d}, ffn_norm + l * d);
    add(LayerTensorName(li, "ffn_gate.weight"), {f, d}, w1 + l * f * d);
    add(LayerTensorName(li, "ffn_down.weight"), {d, f}, w2 + l * d * f);
    add(LayerTensorName(li, "ffn_up.weight"), {f, d}, w3 + l * f * d);
  }
  add("output_norm.weight", {d}, out_norm);
  if (!c.tie_embeddings) add("output.weight", {V, d}, take(V * d));
  for (const auto& t : m_->tensors_) {
    if (opts.allow_nonfinite_weights && t.shape.size() == 2) continue;
    const float* v = reinterpret_cast<const float*>(t.data);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(v[i])) {
        return DataLossError(path + ": tensor '" + t.name + "' has a non-finite value");
      }
    }
  }
  m_->rope_freq_factors_.assign(static_cast<size_t>(head / 2), 1.0f);
  return OkStatus();
}

Status ModelLoader::LoadGguf(const std::string& path, const LoadOptions& opts) {
  TRITIUM_ASSIGN_OR_RETURN(std::shared_ptr<GgufFile> gguf, OpenModelGguf(path));
  m_->keep_alive_.push_back(gguf);
  for (const auto& [k, v] : gguf->metadata()) m_->file_info_[k] = GgufValueToString(v);
  TRITIUM_ASSIGN_OR_RETURN(m_->config_, ConfigFromGguf(*gguf));
  for (const auto& info : gguf->tensors()) {
    TRITIUM_ASSIGN_OR_RETURN(Tensor t, TensorFromGguf(*gguf, info));
    if (t.name == "rope_freqs.weight") {
      if (t.format->id != FormatId::kF32 || t.numel() != m_->config_.head_dim / 2) {
        return DataLossError(path + ": rope_freqs.weight must be F32 with head_dim/2 entries");
      }
      const float* f = reinterpret_cast<const float*>(t.data);
      m_->rope_freq_factors_.assign(f, f + t.numel());
      for (float x : m_->rope_freq_factors_) {
        if (!(x > 0) || !std::isfinite(x)) {
          return DataLossError(path + ": rope_freqs.weight has a non-positive factor");
        }
      }
      continue;  // not a weight: the engine keeps it as rope_freq_factors()
    }
    t.file_backed = true;
    // TensorFromGguf validated every row: release those pages, so that loading never holds the
    // whole file (the embedding, say, is then read back only row by row, as tokens need it).
    if (t.shape.size() == 2) t.ReleaseFilePages();
    if (t.shape.size() == 1 && t.format->id != FormatId::kF32) {
      // Vectors (norms, biases) are computed in fp32: widen them once.
      std::vector<float> v(static_cast<size_t>(t.numel()));
      t.format->dequantize_row(t.data, v.data(), t.numel(), t.params);
      AddF32(t.name, t.shape, std::move(v));
      continue;
    }
    if (t.shape.size() == 1) {
      const float* v = reinterpret_cast<const float*>(t.data);
      for (int64_t i = 0; i < t.numel(); ++i) {
        if (!std::isfinite(v[i])) {
          return DataLossError(path + ": tensor '" + t.name + "' has a non-finite value");
        }
      }
    }
    Add(std::move(t));
  }
  if (m_->rope_freq_factors_.empty()) {
    m_->rope_freq_factors_.assign(static_cast<size_t>(m_->config_.head_dim / 2), 1.0f);
  }
  if (const GgufValue* ct = gguf->Find("tokenizer.chat_template"); ct != nullptr) {
    auto text = ct->AsString();
    if (!text.ok()) return text.status().WithPrefix(path + ": tokenizer.chat_template: ");
    m_->chat_template_ = std::move(text).value();
  }
  if (opts.tokenizer_path.empty()) {
    auto vocab = TokenizerVocabFromGguf(*gguf);
    if (vocab.ok()) {
      auto tok = TokenizerFromVocab(std::move(vocab).value());
      if (!tok.ok()) return tok.status().WithPrefix(path + ": tokenizer: ");
      m_->tokenizer_ = std::move(tok).value();
    } else if (opts.require_tokenizer || vocab.status().code() != StatusCode::kNotFound) {
      // A file without a vocabulary may be quantized (the output says so); a file whose
      // vocabulary is broken is refused by every verb.
      return vocab.status();
    }
  }
  return OkStatus();
}

StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadOptions& opts) {
  auto m = std::unique_ptr<Model>(new Model());
  m->path_ = path;
  ModelLoader loader(m.get());
  if (!FileExists(path)) return NotFoundError(path + ": no such file or directory");
  if (IsDirectory(path)) {
    if (!FileExists(JoinPath(path, "config.json"))) {
      return NotFoundError(path + ": directory has no config.json (not a Hugging Face model)");
    }
    m->source_kind_ = "hf";
    TRITIUM_RETURN_IF_ERROR(loader.LoadHf(path, opts));
  } else {
    TRITIUM_ASSIGN_OR_RETURN(auto f, MappedFile::Open(path));
    bool gguf = f->size() >= 4 && std::memcmp(f->data(), "GGUF", 4) == 0;
    f.reset();
    if (gguf) {
      m->source_kind_ = "gguf";
      TRITIUM_RETURN_IF_ERROR(loader.LoadGguf(path, opts));
    } else if (path.size() >= 4 && path.substr(path.size() - 4) == ".bin") {
      m->source_kind_ = "llama2c";
      TRITIUM_RETURN_IF_ERROR(loader.LoadLlama2c(path, opts));
    } else {
      return InvalidArgumentError(path +
                                  ": unrecognized model file (expected a Hugging Face "
                                  "directory, a .gguf file or a llama2.c .bin checkpoint)");
    }
  }
  std::string tok_path = opts.tokenizer_path;
  if (tok_path.empty() && m->source_kind_ == "llama2c") {
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    if (FileExists(JoinPath(dir, "tokenizer.bin"))) tok_path = JoinPath(dir, "tokenizer.bin");
  }
  if (!tok_path.empty()) {
    TRITIUM_ASSIGN_OR_RETURN(
        m->tokenizer_, LoadTokenizerFile(tok_path, static_cast<int32_t>(m->config_.vocab_size)));
  }
  if (m->tokenizer_ == nullptr && opts.require_tokenizer) {
    return NotFoundError(
        path + ": no tokenizer found with the model; pass --tokenizer" +
        (m->source_kind_ == "llama2c" ? " (llama2.c checkpoints carry none)" : std::string()));
  }
  if (m->tokenizer_ != nullptr && m->tokenizer_->vocab_size() > m->config_.vocab_size) {
    return InvalidArgumentError((tok_path.empty() ? path : tok_path) + ": tokenizer has " +
                                std::to_string(m->tokenizer_->vocab_size()) +
                                " tokens but the model's vocabulary has " +
                                std::to_string(m->config_.vocab_size) + " rows");
  }
  TRITIUM_RETURN_IF_ERROR(m->Finish().WithPrefix(path + ": "));
  // Repack every matrix MatMul will see, once (the embedding only when it is also the head), and
  // release the file pages it was read from: the repacked copy replaces them, so a loaded model
  // holds one copy of its weights (docs/file-format.md). Without a SIMD target MatMul reads the
  // file's bytes, so nothing is repacked.
  if (&BestQKernels() != &kQKernelsScalar) {
    std::vector<Tensor*> todo;
    for (Tensor& t : m->tensors_) {
      if (t.shape.size() == 2 && (&t != m->embed_ || m->output_ == m->embed_) &&
          PreparedWeight::Supported(t.view())) {
        todo.push_back(&t);
      }
    }
    // Tensors are repacked independently (each result depends only on its own bytes), so the
    // cores share them out; the order they finish in changes nothing. They are taken in file
    // order from a shared counter rather than in contiguous halves: consumed file pages are then
    // released in the order they were read, which keeps peak resident memory lower at 7B
    // (3.70 GB against 3.85 GB for halves, docs/scale.md).
    ThreadPool pool;
    std::atomic<size_t> next{0};
    pool.RunOnAll([&](int) {
      for (size_t i = next++; i < todo.size(); i = next++) {
        Tensor& t = *todo[i];
        t.prepared = PreparedWeight::Prepare(t.view());
        // nullptr: the kernels cannot hold this matrix exactly enough (PreparedWeight::Prepare),
        // and MatMul reads the file's bytes.
        if (t.prepared != nullptr) t.ReleaseFilePages();
      }
    });
    for (const Tensor* t : todo) {
      if (t->prepared != nullptr) m->prepared_bytes_ += t->prepared->bytes();
    }
  }
  if (m->tokenizer_ != nullptr) {
    if (m->config_.bos_id < 0) m->config_.bos_id = m->tokenizer_->bos_id();
    if (m->config_.eos_id < 0) m->config_.eos_id = m->tokenizer_->eos_id();
    if (m->config_.eos_ids.empty() && m->config_.eos_id >= 0) {
      m->config_.eos_ids.push_back(m->config_.eos_id);
    }
  }
  return m;
}

Status Model::Finish() {
  const ModelConfig& c = config_;
  auto need = [&](const std::string& name, std::vector<int64_t> shape,
                  const Tensor** out) -> Status {
    const Tensor* t = FindTensor(name);
    if (t == nullptr) return NotFoundError("missing tensor '" + name + "'");
    if (t->shape != shape) {
      auto s = [](const std::vector<int64_t>& v) {
        std::string r = "[";
        for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
        return r + "]";
      };
      return DataLossError("tensor '" + name + "' has shape " + s(t->shape) + ", config implies " +
                           s(shape));
    }
    *out = t;
    return OkStatus();
  };
  auto vec = [&](const std::string& name, int64_t n, const float** out) -> Status {
    const Tensor* t;
    TRITIUM_RETURN_IF_ERROR(need(name, {n}, &t));
    if (t->format->id != FormatId::kF32) {
      return UnimplementedError("tensor '" + name + "' must be F32, is " + t->format->name);
    }
    *out = reinterpret_cast<const float*>(t->data);
    return OkStatus();
  };
  TRITIUM_RETURN_IF_ERROR(need("token_embd.weight", {c.vocab_size, c.hidden}, &embed_));
  if (FindTensor("output.weight") != nullptr) {
    TRITIUM_RETURN_IF_ERROR(need("output.weight", {c.vocab_size, c.hidden}, &output_));
  } else {
    output_ = embed_;
    config_.tie_embeddings = true;
  }
  TRITIUM_RETURN_IF_ERROR(vec("output_norm.weight", c.hidden, &output_norm_));
  layers_.assign(static_cast<size_t>(c.n_layers), LayerWeights());
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& L = layers_[static_cast<size_t>(l)];
    auto N = [&](const char* s) { return LayerTensorName(l, s); };
    TRITIUM_RETURN_IF_ERROR(need(N("attn_q.weight"), {c.q_dim(), c.hidden}, &L.wq));
    TRITIUM_RETURN_IF_ERROR(need(N("attn_k.weight"), {c.kv_dim(), c.hidden}, &L.wk));
    TRITIUM_RETURN_IF_ERROR(need(N("attn_v.weight"), {c.kv_dim(), c.hidden}, &L.wv));
    TRITIUM_RETURN_IF_ERROR(need(N("attn_output.weight"), {c.hidden, c.q_dim()}, &L.wo));
    TRITIUM_RETURN_IF_ERROR(need(N("ffn_gate.weight"), {c.intermediate, c.hidden}, &L.w_gate));
    TRITIUM_RETURN_IF_ERROR(need(N("ffn_up.weight"), {c.intermediate, c.hidden}, &L.w_up));
    TRITIUM_RETURN_IF_ERROR(need(N("ffn_down.weight"), {c.hidden, c.intermediate}, &L.w_down));
    TRITIUM_RETURN_IF_ERROR(vec(N("attn_norm.weight"), c.hidden, &L.attn_norm));
    TRITIUM_RETURN_IF_ERROR(vec(N("ffn_norm.weight"), c.hidden, &L.ffn_norm));
    if (c.attention_bias) {
      TRITIUM_RETURN_IF_ERROR(vec(N("attn_q.bias"), c.q_dim(), &L.bq));
      TRITIUM_RETURN_IF_ERROR(vec(N("attn_k.bias"), c.kv_dim(), &L.bk));
      TRITIUM_RETURN_IF_ERROR(vec(N("attn_v.bias"), c.kv_dim(), &L.bv));
    }
    if (c.qk_norm) {
      TRITIUM_RETURN_IF_ERROR(vec(N("attn_q_norm.weight"), c.head_dim, &L.q_norm));
      TRITIUM_RETURN_IF_ERROR(vec(N("attn_k_norm.weight"), c.head_dim, &L.k_norm));
    }
  }
  // Every tensor must be used: a stray one means a config/weights mismatch we would misrun.
  size_t expected =
      2 + (output_ != embed_ ? 1 : 0) +
      static_cast<size_t>(c.n_layers) * (9 + (c.attention_bias ? 3 : 0) + (c.qk_norm ? 2 : 0));
  size_t have = tensors_.size();
  if (have != expected) {
    return DataLossError("holds " + std::to_string(have) + " tensors, the config implies " +
                         std::to_string(expected) + " (extra or unknown tensors)");
  }
  if (rope_freq_factors_.size() != static_cast<size_t>(c.head_dim / 2)) {
    return DataLossError("RoPE frequency factors: " + std::to_string(rope_freq_factors_.size()) +
                         ", expected " + std::to_string(c.head_dim / 2));
  }
  return OkStatus();
}

}  // namespace tritium
