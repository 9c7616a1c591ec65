#include "src/pipeline/synth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/fp16.h"
#include "src/base/paths.h"

namespace tritium {
namespace {

using json = nlohmann::ordered_json;

SynthShape Llama(const char* name, int64_t hidden, int64_t inter, int64_t layers, int64_t heads,
                 int64_t kv, int64_t vocab, int64_t max_pos, double theta) {
  SynthShape s;
  s.name = name;
  s.hidden = hidden;
  s.intermediate = inter;
  s.layers = layers;
  s.heads = heads;
  s.kv_heads = kv;
  s.head_dim = hidden / heads;
  s.vocab = vocab;
  s.max_positions = max_pos;
  s.rope_theta = theta;
  s.tokenizer = "llama2";
  return s;
}

std::vector<SynthShape> Shapes() {
  std::vector<SynthShape> v;
  v.push_back(Llama("tinyllama-1.1b", 2048, 5632, 22, 32, 4, 32000, 2048, 10000.0));
  v.push_back(Llama("llama2-7b", 4096, 11008, 32, 32, 32, 32000, 4096, 10000.0));
  // Llama-3's shapes; its 128256-token tokenizer is not in ../shared, so Llama-2's (32000 tokens,
  // a subset of the ids) is written with it: the weights, not the text, are what is measured.
  v.push_back(Llama("llama3-8b", 4096, 14336, 32, 32, 8, 128256, 8192, 500000.0));
  SynthShape q = Llama("qwen3-8b", 4096, 12288, 36, 32, 8, 151936, 40960, 1000000.0);
  q.hf_class = "Qwen3ForCausalLM";
  q.head_dim = 128;
  q.rms_eps = 1e-6;
  q.tokenizer = "qwen3";
  q.tokenizer_vocab = 151669;
  q.bos_id = 151643;
  q.eos_id = 151645;
  v.push_back(q);
  return v;
}

// One tensor of the checkpoint, in Hugging Face naming.
struct SynthTensor {
  std::string name;
  std::vector<int64_t> shape;
  bool ones = false;  // norm weights
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

std::vector<SynthTensor> TensorList(const SynthShape& s) {
  const int64_t d = s.hidden, f = s.intermediate, q = s.heads * s.head_dim,
                kv = s.kv_heads * s.head_dim;
  const bool qk_norm = s.hf_class == "Qwen3ForCausalLM";
  std::vector<SynthTensor> t;
  t.push_back({"model.embed_tokens.weight", {s.vocab, d}});
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back({p + "input_layernorm.weight", {d}, true});
    t.push_back({p + "self_attn.q_proj.weight", {q, d}});
    t.push_back({p + "self_attn.k_proj.weight", {kv, d}});
    t.push_back({p + "self_attn.v_proj.weight", {kv, d}});
    t.push_back({p + "self_attn.o_proj.weight", {d, q}});
    if (qk_norm) {
      t.push_back({p + "self_attn.q_norm.weight", {s.head_dim}, true});
      t.push_back({p + "self_attn.k_norm.weight", {s.head_dim}, true});
    }
    t.push_back({p + "post_attention_layernorm.weight", {d}, true});
    t.push_back({p + "mlp.gate_proj.weight", {f, d}});
    t.push_back({p + "mlp.up_proj.weight", {f, d}});
    t.push_back({p + "mlp.down_proj.weight", {d, f}});
  }
  t.push_back({"model.norm.weight", {d}, true});
  if (!s.tie_embeddings) t.push_back({"lm_head.weight", {s.vocab, d}});
  return t;
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Elements [begin, begin + n) of tensor `index`: each run of kChunk elements has its own
// generator state, so any split of the work gives the same bytes.
constexpr int64_t kChunk = 1 << 16;

void FillChunk(uint64_t seed, int64_t index, int64_t chunk, double stddev, int64_t n,
               uint16_t* out) {
  uint64_t st = seed * 0x2545f4914f6cdd1dULL ^ (static_cast<uint64_t>(index) << 40) ^
                static_cast<uint64_t>(chunk);
  SplitMix64(&st);
  for (int64_t i = 0; i < n; i += 2) {
    // Box-Muller: two uniforms in (0, 1] give two independent normals.
    const double u1 = (static_cast<double>(SplitMix64(&st) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(SplitMix64(&st) >> 11) * 0x1.0p-53;
    const double r = stddev * std::sqrt(-2.0 * std::log(u1));
    out[i] = F32ToBf16(static_cast<float>(r * std::cos(2.0 * M_PI * u2)));
    if (i + 1 < n) out[i + 1] = F32ToBf16(static_cast<float>(r * std::sin(2.0 * M_PI * u2)));
  }
}

json ConfigJson(const SynthShape& s, uint64_t seed) {
  json j;
  j["architectures"] = {s.hf_class};
  j["model_type"] = s.hf_class == "Qwen3ForCausalLM" ? "qwen3" : "llama";
  j["hidden_size"] = s.hidden;
  j["intermediate_size"] = s.intermediate;
  j["num_hidden_layers"] = s.layers;
  j["num_attention_heads"] = s.heads;
  j["num_key_value_heads"] = s.kv_heads;
  j["head_dim"] = s.head_dim;
  j["vocab_size"] = s.vocab;
  j["max_position_embeddings"] = s.max_positions;
  j["rms_norm_eps"] = s.rms_eps;
  j["rope_theta"] = s.rope_theta;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["tie_word_embeddings"] = s.tie_embeddings;
  j["bos_token_id"] = s.bos_id;
  j["eos_token_id"] = s.eos_id;
  j["torch_dtype"] = "bfloat16";
  j["tritium_synthetic"] = {{"shape", s.name}, {"seed", seed}};
  return j;
}

std::string ShardName(int i, int n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "model-%05d-of-%05d.safetensors", i + 1, n);
  return buf;
}

Status CopyFile(const std::string& from, const std::string& to) {
  TRITIUM_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(from));
  return WriteFileAtomically(to, bytes);
}

}  // namespace

std::vector<std::string> SynthShapeNames() {
  std::vector<std::string> v;
  for (const SynthShape& s : Shapes()) v.push_back(s.name);
  return v;
}

StatusOr<SynthShape> SynthShapeByName(const std::string& name) {
  for (const SynthShape& s : Shapes()) {
    if (s.name == name) return s;
  }
  std::string names;
  for (const std::string& n : SynthShapeNames()) names += (names.empty() ? "" : ", ") + n;
  return InvalidArgumentError("unknown shape '" + name + "' (known: " + names + ")");
}

StatusOr<SynthResult> WriteSynthCheckpoint(const std::string& dir, const SynthShape& s,
                                           const SynthOptions& opts, ThreadPool* pool,
                                           const std::function<void(int64_t, int64_t)>& progress) {
  if (s.hidden <= 0 || s.intermediate <= 0 || s.layers <= 0 || s.heads <= 0 || s.kv_heads <= 0 ||
      s.head_dim <= 0 || s.vocab <= 0 || s.heads % s.kv_heads != 0 || s.head_dim % 2 != 0) {
    return InvalidArgumentError("synth: shape '" + s.name +
                                "' is not valid (positive sizes, heads a multiple of kv_heads, "
                                "even head_dim)");
  }
  if (!(opts.stddev > 0) || opts.max_shard_bytes < 1024) {
    return InvalidArgumentError("synth: stddev must be > 0 and the shard size at least 1 KiB");
  }
  if (!IsDirectory(dir) && ::mkdir(dir.c_str(), 0755) != 0) {
    return IoError(dir + ": cannot create directory: " + std::strerror(errno));
  }
  const std::vector<SynthTensor> tensors = TensorList(s);
  // Shards: tensors in order, a new shard when the next tensor would pass the limit.
  std::vector<int> shard_of(tensors.size());
  std::vector<uint64_t> shard_bytes(1, 0);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t b = static_cast<uint64_t>(tensors[i].numel()) * 2;
    if (shard_bytes.back() > 0 && shard_bytes.back() + b > opts.max_shard_bytes) {
      shard_bytes.push_back(0);
    }
    shard_of[i] = static_cast<int>(shard_bytes.size()) - 1;
    shard_bytes.back() += b;
  }
  const int n_shards = static_cast<int>(shard_bytes.size());
  uint64_t total = 0;
  for (uint64_t b : shard_bytes) total += b;

  SynthResult res;
  res.shards = n_shards;
  json weight_map = json::object();
  uint64_t written = 0;
  std::vector<uint16_t> buf;
  for (int sh = 0; sh < n_shards; ++sh) {
    json header = json::object();
    header["__metadata__"] = {{"format", "pt"}};
    uint64_t off = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (shard_of[i] != sh) continue;
      const uint64_t b = static_cast<uint64_t>(tensors[i].numel()) * 2;
      header[tensors[i].name] = {
          {"dtype", "BF16"}, {"shape", tensors[i].shape}, {"data_offsets", {off, off + b}}};
      off += b;
      weight_map[tensors[i].name] = ShardName(sh, n_shards);
    }
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
    const std::string path = JoinPath(dir, ShardName(sh, n_shards));
    TRITIUM_ASSIGN_OR_RETURN(auto out, AtomicFileWriter::Create(path));
    const uint64_t hlen = h.size();
    TRITIUM_RETURN_IF_ERROR(out->Write(&hlen, 8));
    TRITIUM_RETURN_IF_ERROR(out->Write(h));
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (shard_of[i] != sh) continue;
      const SynthTensor& t = tensors[i];
      const int64_t n = t.numel();
      // A batch of chunks at a time: bounded memory, generated in parallel, written in order.
      constexpr int64_t kBatchChunks = 256;  // 32 MiB of bf16
      for (int64_t c0 = 0; c0 * kChunk < n; c0 += kBatchChunks) {
        const int64_t b0 = c0 * kChunk, b1 = std::min(n, (c0 + kBatchChunks) * kChunk);
        buf.resize(static_cast<size_t>(b1 - b0));
        if (t.ones) {
          std::fill(buf.begin(), buf.end(), F32ToBf16(1.0f));
        } else {
          const int64_t chunks = (b1 - b0 + kChunk - 1) / kChunk;
          auto work = [&](int64_t k0, int64_t k1, int) {
            for (int64_t k = k0; k < k1; ++k) {
              const int64_t e0 = b0 + k * kChunk, e1 = std::min(b1, e0 + kChunk);
              FillChunk(opts.seed, static_cast<int64_t>(i), c0 + k, opts.stddev, e1 - e0,
                        buf.data() + (e0 - b0));
            }
          };
          if (pool != nullptr) {
            pool->ParallelFor(chunks, work);
          } else {
            work(0, chunks, 0);
          }
        }
        TRITIUM_RETURN_IF_ERROR(out->Write(buf.data(), buf.size() * 2));
        written += buf.size() * 2;
        if (progress) progress(static_cast<int64_t>(written), static_cast<int64_t>(total));
      }
      res.params += n;
    }
    TRITIUM_RETURN_IF_ERROR(out->Commit());
    // The shard is on disk: keep it out of the page cache, which a 13 GB model would fill.
    if (int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      ::close(fd);
    }
  }
  res.bytes = total;
  json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = weight_map;
  TRITIUM_RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(dir, "model.safetensors.index.json"), index.dump(2) + "\n"));
  TRITIUM_RETURN_IF_ERROR(
      WriteFileAtomically(JoinPath(dir, "config.json"), ConfigJson(s, opts.seed).dump(2) + "\n"));
  const bool shared_fits = s.vocab >= s.tokenizer_vocab;
  const std::string tok_dir = !opts.tokenizer_dir.empty() ? opts.tokenizer_dir
                              : shared_fits               ? SharedPath("tokenizers/" + s.tokenizer)
                                                          : std::string();
  for (const char* f : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json"}) {
    if (!tok_dir.empty() && FileExists(JoinPath(tok_dir, f))) {
      TRITIUM_RETURN_IF_ERROR(CopyFile(JoinPath(tok_dir, f), JoinPath(dir, f)));
      res.tokenizer = true;
    }
  }
  return res;
}

}  // namespace tritium
