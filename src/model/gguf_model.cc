#include "src/model/gguf_model.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "src/formats/format.h"

namespace tritium {

namespace {

std::string ParamsKey(const std::string& tensor) { return "tritium.tensor." + tensor + ".params"; }
std::string MethodKey(const std::string& tensor) { return "tritium.tensor." + tensor + ".method"; }
std::string ChecksumKey(const std::string& tensor) { return "tritium.tensor." + tensor + ".xxh64"; }

StatusOr<FormatParams> ParamsFromMetadata(const std::map<std::string, GgufValue>& md,
                                          const std::string& path, const std::string& tensor) {
  FormatParams p;
  auto it = md.find(ParamsKey(tensor));
  if (it == md.end()) return p;
  auto v = it->second.AsInt32Array();
  if (!v.ok() || v->size() != 3) {
    return DataLossError(path + ": " + ParamsKey(tensor) + " must be an int32 array of 3");
  }
  p.planes = (*v)[0];
  p.group = (*v)[1];
  p.bits = (*v)[2];
  return p;
}

// A tensor type tritium cannot read, named: ggml's types by their name and number (IQ1/IQ2/IQ3
// are defined by lattice tables tritium does not carry), anything else by its number.
Status UnknownTypeError(const std::string& tensor, uint32_t type) {
  std::string what = "type id " + std::to_string(type);
  if (const char* name = GgmlTypeName(type); name != nullptr) {
    what = std::string("ggml type ") + name + " (id " + std::to_string(type) + ")";
  }
  return UnimplementedError("tensor '" + tensor + "' has " + what +
                            ", which this build of tritium cannot read; requantize the model from "
                            "its float weights, or from a file in a type tritium reads (F32, F16, "
                            "BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, TQ1_0, "
                            "TQ2_0)");
}

}  // namespace

StatusOr<std::unique_ptr<GgufFile>> OpenModelGguf(const std::string& path) {
  auto size_fn = [path](const std::map<std::string, GgufValue>& md, const std::string& name,
                        uint32_t type, const std::vector<uint64_t>& dims) -> StatusOr<uint64_t> {
    const Format* f = FindFormatByRawId(type);
    if (f == nullptr) return UnknownTypeError(name, type);
    if (type >= 1000) {
      auto ver = md.find("tritium.file_version");
      if (ver == md.end()) {
        return DataLossError("tensor '" + name + "' uses tritium type " + f->name +
                             " but the file has no tritium.file_version");
      }
    }
    if (dims.empty() || dims.size() > 2) {
      return UnimplementedError("tensor '" + name + "' has " + std::to_string(dims.size()) +
                                " dimensions (tritium models use 1 or 2)");
    }
    // Sizes below are computed in 64 bits from file values: bound every dimension first, so that
    // no row-byte product can wrap (a dimension of 2^62 once made a row of 0 bytes).
    constexpr uint64_t kMaxDim = uint64_t{1} << 40;
    for (uint64_t d : dims) {
      if (d > kMaxDim) {
        return DataLossError("tensor '" + name + "' has a dimension of " + std::to_string(d) +
                             " (more than 2^40)");
      }
    }
    TRITIUM_ASSIGN_OR_RETURN(FormatParams p, ParamsFromMetadata(md, path, name));
    const int64_t cols = static_cast<int64_t>(dims[0]);
    const uint64_t rows = dims.size() == 2 ? dims[1] : 1;
    TRITIUM_RETURN_IF_ERROR(f->check_params(cols, p).WithPrefix("tensor '" + name + "': "));
    const uint64_t rb = f->row_bytes(cols, p);
    if (rows != 0 && rb > (uint64_t{1} << 62) / rows) {
      return DataLossError("tensor '" + name + "' is absurdly large");
    }
    return rows * rb;
  };
  TRITIUM_ASSIGN_OR_RETURN(auto gguf, GgufFile::Open(path, size_fn));
  if (const GgufValue* v = gguf->Find("tritium.file_version"); v != nullptr) {
    auto ver = v->AsUint();
    if (!ver.ok() || *ver != kTritiumFileVersion) {
      return UnimplementedError(path + ": tritium file version " +
                                (ver.ok() ? std::to_string(*ver) : std::string("?")) +
                                " is not supported by this build (it reads version " +
                                std::to_string(kTritiumFileVersion) + ")");
    }
  }
  return gguf;
}

namespace {

// An optional token id key: absent (or -1, llama.cpp's "none") keeps `*out`; anything but an
// integer in [-1, 2^31) is an error naming the file and key, never a silent truncation.
Status OptionalTokenId(const GgufFile& g, const char* key, int32_t* out) {
  const GgufValue* v = g.Find(key);
  if (v == nullptr) return OkStatus();
  auto id = v->AsInt();
  if (!id.ok()) return id.status().WithPrefix(g.path() + ": " + key + ": ");
  if (*id < -1 || *id > INT32_MAX) {
    return InvalidArgumentError(g.path() + ": " + key + " " + std::to_string(*id) +
                                " is not a valid token id");
  }
  if (*id >= 0) *out = static_cast<int32_t>(*id);
  return OkStatus();
}

// An optional key of one type: absent keeps `*out`; present with another type is an error.
template <typename T, typename Getter>
Status OptionalValue(const GgufFile& g, const char* key, Getter getter, T* out) {
  const GgufValue* v = g.Find(key);
  if (v == nullptr) return OkStatus();
  auto r = (v->*getter)();
  if (!r.ok()) return r.status().WithPrefix(g.path() + ": " + key + ": ");
  *out = std::move(r).value();
  return OkStatus();
}

}  // namespace

StatusOr<ModelConfig> ConfigFromGguf(const GgufFile& g) {
  const std::string& path = g.path();
  const GgufValue* arch_v = g.Find("general.architecture");
  if (arch_v == nullptr) return DataLossError(path + ": missing general.architecture");
  auto arch_s = arch_v->AsString();
  if (!arch_s.ok()) return arch_s.status().WithPrefix(path + ": general.architecture: ");
  const std::string arch = *arch_s;
  ModelConfig c;
  c.arch = arch;
  c.hf_class = "gguf:" + arch;
  if (arch == "llama") {
    c.rope_style = RopeStyle::kInterleaved;  // llama.cpp's converter permutes q/k for this
  } else if (arch == "qwen2") {
    c.rope_style = RopeStyle::kHalf;
    c.attention_bias = true;
  } else if (arch == "qwen3") {
    c.rope_style = RopeStyle::kHalf;
    c.qk_norm = true;
  } else {
    return UnimplementedError(path + ": unsupported architecture '" + arch +
                              "' (supported: llama, qwen2, qwen3)");
  }
  auto get_u = [&](const std::string& key, int64_t* out, bool required) -> Status {
    const GgufValue* v = g.Find(arch + "." + key);
    if (v == nullptr) {
      return required ? DataLossError(path + ": missing " + arch + "." + key) : OkStatus();
    }
    auto u = v->AsUint();
    if (!u.ok()) return u.status().WithPrefix(path + ": " + arch + "." + key + ": ");
    *out = static_cast<int64_t>(*u);
    return OkStatus();
  };
  auto get_f = [&](const std::string& key, float* out, bool required) -> Status {
    const GgufValue* v = g.Find(arch + "." + key);
    if (v == nullptr) {
      return required ? DataLossError(path + ": missing " + arch + "." + key) : OkStatus();
    }
    auto f = v->AsFloat();
    if (!f.ok()) return f.status().WithPrefix(path + ": " + arch + "." + key + ": ");
    *out = static_cast<float>(*f);
    return OkStatus();
  };
  TRITIUM_RETURN_IF_ERROR(get_u("embedding_length", &c.hidden, true));
  TRITIUM_RETURN_IF_ERROR(get_u("feed_forward_length", &c.intermediate, true));
  TRITIUM_RETURN_IF_ERROR(get_u("block_count", &c.n_layers, true));
  TRITIUM_RETURN_IF_ERROR(get_u("attention.head_count", &c.n_heads, true));
  c.n_kv_heads = c.n_heads;
  TRITIUM_RETURN_IF_ERROR(get_u("attention.head_count_kv", &c.n_kv_heads, false));
  c.max_positions = 2048;
  TRITIUM_RETURN_IF_ERROR(get_u("context_length", &c.max_positions, false));
  c.head_dim = c.n_heads > 0 ? c.hidden / c.n_heads : 0;
  TRITIUM_RETURN_IF_ERROR(get_u("attention.key_length", &c.head_dim, false));
  TRITIUM_RETURN_IF_ERROR(get_f("attention.layer_norm_rms_epsilon", &c.rms_eps, true));
  TRITIUM_RETURN_IF_ERROR(get_f("rope.freq_base", &c.rope_theta, false));
  int64_t value_len = c.head_dim, rope_dims = c.head_dim;
  TRITIUM_RETURN_IF_ERROR(get_u("attention.value_length", &value_len, false));
  TRITIUM_RETURN_IF_ERROR(get_u("rope.dimension_count", &rope_dims, false));
  if (value_len != c.head_dim || rope_dims != c.head_dim) {
    return UnimplementedError(path +
                              ": value_length/rope.dimension_count differing from "
                              "key_length is not supported");
  }
  const GgufTensorInfo* emb = g.FindTensor("token_embd.weight");
  if (emb == nullptr || emb->dims.size() != 2) {
    return DataLossError(path + ": missing or malformed token_embd.weight");
  }
  c.vocab_size = static_cast<int64_t>(emb->dims[1]);
  c.tie_embeddings = g.FindTensor("output.weight") == nullptr;
  TRITIUM_RETURN_IF_ERROR(OptionalTokenId(g, "tokenizer.ggml.bos_token_id", &c.bos_id));
  TRITIUM_RETURN_IF_ERROR(OptionalTokenId(g, "tokenizer.ggml.eos_token_id", &c.eos_id));
  if (c.eos_id >= 0) c.eos_ids.push_back(c.eos_id);
  // llama.cpp's end-of-turn and end-of-message ids also end generation.
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int32_t id = -1;
    TRITIUM_RETURN_IF_ERROR(OptionalTokenId(g, key, &id));
    if (id >= 0 && std::find(c.eos_ids.begin(), c.eos_ids.end(), id) == c.eos_ids.end()) {
      c.eos_ids.push_back(id);
    }
  }
  TRITIUM_RETURN_IF_ERROR(c.Validate(path));
  return c;
}

StatusOr<Tensor> TensorFromGguf(const GgufFile& g, const GgufTensorInfo& info) {
  Tensor t;
  t.name = info.name;
  t.format = FindFormatByRawId(info.type);
  if (t.format == nullptr) return UnknownTypeError(info.name, info.type).WithPrefix(g.path() + ": ");
  TRITIUM_ASSIGN_OR_RETURN(t.params, ParamsFromMetadata(g.metadata(), g.path(), info.name));
  for (auto it = info.dims.rbegin(); it != info.dims.rend(); ++it) {
    t.shape.push_back(static_cast<int64_t>(*it));
  }
  t.data = info.data;
  t.nbytes = info.nbytes;
  if (const GgufValue* m = g.Find(MethodKey(info.name)); m != nullptr && m->AsString().ok()) {
    t.method = *m->AsString();
  }
  const size_t rb = t.format->row_bytes(t.cols(), t.params);
  if (rb * static_cast<size_t>(t.rows()) != t.nbytes) {
    return DataLossError(g.path() + ": tensor '" + info.name + "' has " + std::to_string(t.nbytes) +
                         " bytes, its format needs " + std::to_string(rb * t.rows()));
  }
  for (int64_t r = 0; r < t.rows(); ++r) {
    Status s = t.format->validate_row(t.data + r * rb, t.cols(), t.params);
    if (!s.ok()) {
      return DataLossError(g.path() + ": tensor '" + info.name + "' row " + std::to_string(r) +
                           ": " + s.message());
    }
  }
  return t;
}

StatusOr<TokenizerVocab> TokenizerVocabFromGguf(const GgufFile& g) {
  const std::string& path = g.path();
  TokenizerVocab v;
  const GgufValue* model = g.Find("tokenizer.ggml.model");
  if (model == nullptr) return NotFoundError(path + ": no tokenizer (tokenizer.ggml.model)");
  TRITIUM_RETURN_IF_ERROR(OptionalValue(g, "tokenizer.ggml.model", &GgufValue::AsString, &v.model));
  TRITIUM_RETURN_IF_ERROR(
      OptionalValue(g, "tokenizer.ggml.tokens", &GgufValue::AsStringArray, &v.tokens));
  TRITIUM_RETURN_IF_ERROR(
      OptionalValue(g, "tokenizer.ggml.scores", &GgufValue::AsFloatArray, &v.scores));
  TRITIUM_RETURN_IF_ERROR(
      OptionalValue(g, "tokenizer.ggml.token_type", &GgufValue::AsInt32Array, &v.token_types));
  TRITIUM_RETURN_IF_ERROR(
      OptionalValue(g, "tokenizer.ggml.merges", &GgufValue::AsStringArray, &v.merges));
  TRITIUM_RETURN_IF_ERROR(OptionalValue(g, "tokenizer.ggml.pre", &GgufValue::AsString, &v.pre));
  for (auto [key, out] :
       {std::pair<const char*, int32_t*>{"tokenizer.ggml.bos_token_id", &v.bos_id},
        {"tokenizer.ggml.eos_token_id", &v.eos_id},
        {"tokenizer.ggml.unknown_token_id", &v.unk_id},
        {"tokenizer.ggml.padding_token_id", &v.pad_id}}) {
    TRITIUM_RETURN_IF_ERROR(OptionalTokenId(g, key, out));
  }
  for (auto [key, out] :
       {std::pair<const char*, bool*>{"tokenizer.ggml.add_bos_token", &v.add_bos},
        {"tokenizer.ggml.add_space_prefix", &v.add_space_prefix},
        {"tokenizer.ggml.remove_extra_whitespaces", &v.remove_extra_whitespaces}}) {
    TRITIUM_RETURN_IF_ERROR(OptionalValue(g, key, &GgufValue::AsBool, out));
  }
  TRITIUM_RETURN_IF_ERROR(
      OptionalValue(g, "tritium.tokenizer.source_kind", &GgufValue::AsString, &v.source_kind));
  if (!v.source_kind.empty()) {
    TRITIUM_RETURN_IF_ERROR(
        OptionalValue(g, "tritium.tokenizer.source", &GgufValue::AsBytes, &v.source_bytes));
    if (v.source_bytes.empty()) {
      return DataLossError(path +
                           ": tritium.tokenizer.source_kind without tritium.tokenizer.source");
    }
  }
  if (v.tokens.empty()) return DataLossError(path + ": tokenizer.ggml.tokens is empty or missing");
  const size_t n = v.tokens.size();
  auto count = [&](const char* key, size_t got) -> Status {
    if (got == 0 || got == n) return OkStatus();
    return DataLossError(path + ": " + key + " has " + std::to_string(got) + " entries for " +
                         std::to_string(n) + " tokens");
  };
  TRITIUM_RETURN_IF_ERROR(count("tokenizer.ggml.scores", v.scores.size()));
  TRITIUM_RETURN_IF_ERROR(count("tokenizer.ggml.token_type", v.token_types.size()));
  for (size_t i = 0; i < v.token_types.size(); ++i) {
    // llama.cpp's token types: 0 undefined, 1 normal, 2 unknown, 3 control, 4 user-defined,
    // 5 unused, 6 byte.
    if (v.token_types[i] < 0 || v.token_types[i] > 6) {
      return DataLossError(path + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] is " +
                           std::to_string(v.token_types[i]) + " (known types are 0..6)");
    }
  }
  for (auto [key, id] : {std::pair<const char*, int32_t>{"tokenizer.ggml.bos_token_id", v.bos_id},
                         {"tokenizer.ggml.eos_token_id", v.eos_id},
                         {"tokenizer.ggml.unknown_token_id", v.unk_id},
                         {"tokenizer.ggml.padding_token_id", v.pad_id}}) {
    if (id >= static_cast<int64_t>(n)) {
      return DataLossError(path + ": " + key + " " + std::to_string(id) +
                           " is outside the vocabulary of " + std::to_string(n) + " tokens");
    }
  }
  return v;
}

std::string GgufValueToString(const GgufValue& v) {
  if (v.type == GgufValueType::kArray) {
    return "[array of " + std::to_string(v.array_size()) + "]";
  }
  if (auto s = v.AsString(); s.ok()) return *s;
  if (auto b = v.AsBool(); b.ok() && v.type == GgufValueType::kBool) return *b ? "true" : "false";
  if (v.type == GgufValueType::kFloat32 || v.type == GgufValueType::kFloat64) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%g", *v.AsFloat());
    return buf;
  }
  if (auto i = v.AsInt(); i.ok()) return std::to_string(*i);
  if (auto u = v.AsUint(); u.ok()) return std::to_string(*u);
  return "?";
}

StatusOr<std::unique_ptr<ModelGgufWriter>> ModelGgufWriter::Begin(
    const std::string& path, const Model& model, const std::vector<TensorDecl>& tensors,
    const std::map<std::string, TensorProvenance>& provenance,
    const std::vector<std::pair<std::string, GgufValue>>& extra) {
  const ModelConfig& c = model.config();
  // The GGUF fields below are 32-bit, as llama.cpp reads them: refuse what they cannot hold
  // rather than write a file that no reader (tritium included) accepts.
  for (const auto& [key, v] : {std::pair<const char*, int64_t>{"context_length", c.max_positions},
                               {"embedding_length", c.hidden},
                               {"feed_forward_length", c.intermediate},
                               {"block_count", c.n_layers},
                               {"vocab_size", c.vocab_size}}) {
    if (v < 0 || v > int64_t{0xffffffff}) {
      return InvalidArgumentError(path + ": " + c.arch + "." + key + " = " + std::to_string(v) +
                                  " does not fit the file's 32-bit field");
    }
  }
  GgufWriter w;
  const std::string a = c.arch;
  w.Set("general.architecture", GgufValue::Str(a));
  w.Set("general.name", GgufValue::Str(model.path().substr(model.path().find_last_of('/') + 1)));
  w.Set("tritium.file_version", GgufValue::U32(kTritiumFileVersion));
  w.Set(a + ".context_length", GgufValue::U32(static_cast<uint32_t>(c.max_positions)));
  w.Set(a + ".embedding_length", GgufValue::U32(static_cast<uint32_t>(c.hidden)));
  w.Set(a + ".block_count", GgufValue::U32(static_cast<uint32_t>(c.n_layers)));
  w.Set(a + ".feed_forward_length", GgufValue::U32(static_cast<uint32_t>(c.intermediate)));
  w.Set(a + ".attention.head_count", GgufValue::U32(static_cast<uint32_t>(c.n_heads)));
  w.Set(a + ".attention.head_count_kv", GgufValue::U32(static_cast<uint32_t>(c.n_kv_heads)));
  w.Set(a + ".attention.key_length", GgufValue::U32(static_cast<uint32_t>(c.head_dim)));
  w.Set(a + ".attention.value_length", GgufValue::U32(static_cast<uint32_t>(c.head_dim)));
  w.Set(a + ".rope.dimension_count", GgufValue::U32(static_cast<uint32_t>(c.head_dim)));
  w.Set(a + ".rope.freq_base", GgufValue::F32(c.rope_theta));
  w.Set(a + ".attention.layer_norm_rms_epsilon", GgufValue::F32(c.rms_eps));
  w.Set(a + ".vocab_size", GgufValue::U32(static_cast<uint32_t>(c.vocab_size)));
  if (model.tokenizer() != nullptr) {
    const TokenizerVocab& v = model.tokenizer()->vocab();
    w.Set("tokenizer.ggml.model", GgufValue::Str(v.model));
    if (!v.pre.empty()) w.Set("tokenizer.ggml.pre", GgufValue::Str(v.pre));
    w.Set("tokenizer.ggml.tokens", GgufValue::StrArray(v.tokens));
    if (!v.scores.empty()) w.Set("tokenizer.ggml.scores", GgufValue::F32Array(v.scores));
    if (!v.token_types.empty()) {
      w.Set("tokenizer.ggml.token_type", GgufValue::I32Array(v.token_types));
    }
    if (!v.merges.empty()) w.Set("tokenizer.ggml.merges", GgufValue::StrArray(v.merges));
    if (v.bos_id >= 0) w.Set("tokenizer.ggml.bos_token_id", GgufValue::U32(v.bos_id));
    if (v.eos_id >= 0) w.Set("tokenizer.ggml.eos_token_id", GgufValue::U32(v.eos_id));
    if (v.unk_id >= 0) w.Set("tokenizer.ggml.unknown_token_id", GgufValue::U32(v.unk_id));
    if (v.pad_id >= 0) w.Set("tokenizer.ggml.padding_token_id", GgufValue::U32(v.pad_id));
    w.Set("tokenizer.ggml.add_bos_token", GgufValue::Bool(v.add_bos));
    if (!model.chat_template().empty()) {
      w.Set("tokenizer.chat_template", GgufValue::Str(model.chat_template()));
    }
    if (v.model == "llama") {
      w.Set("tokenizer.ggml.add_space_prefix", GgufValue::Bool(v.add_space_prefix));
      w.Set("tokenizer.ggml.remove_extra_whitespaces", GgufValue::Bool(v.remove_extra_whitespaces));
    }
    if (!v.source_kind.empty()) {
      w.Set("tritium.tokenizer.source_kind", GgufValue::Str(v.source_kind));
      w.Set("tritium.tokenizer.source", GgufValue::U8Array(v.source_bytes));
    }
  }
  for (const auto& [k, v] : extra) w.Set(k, v);

  auto mw = std::unique_ptr<ModelGgufWriter>(new ModelGgufWriter());
  // llama.cpp's "llama" architecture rotates interleaved pairs; Hugging Face checkpoints rotate
  // halves. Permuting the rows of q and k within each head turns one into the other exactly
  // (row 2i <- i, row 2i+1 <- i + head_dim/2), and rows are packed independently in every format.
  mw->permute_qk_ = c.arch == "llama" && c.rope_style == RopeStyle::kHalf;
  mw->head_dim_ = c.head_dim;
  mw->decls_ = tensors;
  bool llama3 = false;
  for (float f : model.rope_freq_factors()) llama3 = llama3 || f != 1.0f;
  for (const TensorDecl& t : tensors) {
    std::vector<uint64_t> dims;
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) dims.push_back(*it);
    w.AddTensor(t.name, dims, static_cast<uint32_t>(t.format->id), nullptr, t.nbytes);
    if (t.format->id >= FormatId::kTritPlanes || t.params.planes || t.params.group ||
        t.params.bits) {
      w.Set(ParamsKey(t.name),
            GgufValue::I32Array({t.params.planes, t.params.group, t.params.bits}));
    }
    auto p = provenance.find(t.name);
    if (p != provenance.end() && !p->second.method.empty()) {
      w.Set(MethodKey(t.name), GgufValue::Str(p->second.method + " " + p->second.options));
    }
    w.Set(ChecksumKey(t.name), GgufValue::U64(0));  // patched when the data is written
  }
  std::vector<float> freqs;
  if (llama3) {
    freqs = model.rope_freq_factors();
    w.AddTensor("rope_freqs.weight", {static_cast<uint64_t>(freqs.size())},
                static_cast<uint32_t>(FormatId::kF32), nullptr, freqs.size() * 4);
  }
  TRITIUM_ASSIGN_OR_RETURN(mw->out_, w.Begin(path));
  if (llama3) {
    TRITIUM_RETURN_IF_ERROR(mw->out_->WriteTensor(tensors.size(), freqs.data(), freqs.size() * 4));
  }
  return mw;
}

Status ModelGgufWriter::WriteTensor(size_t index, const uint8_t* data) {
  if (index >= decls_.size()) return InternalError("no tensor #" + std::to_string(index));
  const TensorDecl& t = decls_[index];
  const bool is_qk =
      t.name.find(".attn_q.") != std::string::npos || t.name.find(".attn_k.") != std::string::npos;
  std::vector<uint8_t> permuted;
  if (permute_qk_ && is_qk && t.shape.size() == 2) {
    const int64_t rows = t.shape[0];
    const size_t rb = t.nbytes / static_cast<size_t>(rows);
    const int64_t hd = head_dim_, half = hd / 2;
    permuted.resize(t.nbytes);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t head = r / hd, i = r % hd;
      int64_t dst = head * hd + (i < half ? 2 * i : 2 * (i - half) + 1);
      std::memcpy(permuted.data() + dst * rb, data + r * rb, rb);
    }
    data = permuted.data();
  }
  TRITIUM_RETURN_IF_ERROR(out_->WriteTensor(index, data, t.nbytes));
  return out_->PatchU64(ChecksumKey(t.name), XXH64(data, t.nbytes, 0));
}

Status ModelGgufWriter::Commit() { return out_->Commit(); }

StatusOr<int> VerifyGgufChecksums(const GgufFile& g) {
  int n = 0;
  for (const auto& t : g.tensors()) {
    const GgufValue* v = g.Find(ChecksumKey(t.name));
    if (v == nullptr) continue;
    auto want = v->AsUint();
    if (!want.ok()) return DataLossError(g.path() + ": " + ChecksumKey(t.name) + " is not a u64");
    uint64_t got = XXH64(t.data, t.nbytes, 0);
    if (got != *want) {
      return DataLossError(g.path() + ": tensor '" + t.name + "' checksum mismatch (stored " +
                           std::to_string(*want) + ", computed " + std::to_string(got) + ")");
    }
    ++n;
  }
  return n;
}

}  // namespace tritium
