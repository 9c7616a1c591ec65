// tritium inspect: what a model file holds.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "src/model/gguf_model.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct InspectArgs {
  std::string model, tokenizer;
  bool json = false;
  bool verify = false;
};

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string FormatLabel(const Tensor& t) {
  std::string s = t.format->name;
  if (t.format->id == FormatId::kTritPlanes) {
    s += "(K=" + std::to_string(t.params.planes) + ",G=" + std::to_string(t.params.group) + ")";
  } else if (t.format->id == FormatId::kIntG) {
    s += "(B=" + std::to_string(t.params.bits) + ",G=" + std::to_string(t.params.group) + ")";
  }
  return s;
}

int Inspect(const InspectArgs& a) {
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  lo.require_tokenizer = false;
  lo.allow_nonfinite_weights = true;
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& m = **model_or;
  const ModelConfig& c = m.config();
  int verified = -1;
  if (a.verify) {
    if (m.source_kind() != "gguf") return Fail(a.model + ": --verify needs a .gguf file");
    auto g = OpenModelGguf(a.model);
    if (!g.ok()) return Fail(g.status());
    auto n = VerifyGgufChecksums(**g);
    if (!n.ok()) return Fail(n.status());
    verified = *n;
  }
  // Bits per weight: of the quantized (non-F32/F16/BF16) matrices and of all tensors.
  uint64_t all_bytes = 0, q_bytes = 0;
  int64_t all_params = 0, q_params = 0;
  for (const auto& t : m.tensors()) {
    all_bytes += t.nbytes;
    all_params += t.numel();
    if (!t.method.empty()) {
      q_bytes += t.nbytes;
      q_params += t.numel();
    }
  }
  const double bpw_all = all_params ? 8.0 * all_bytes / all_params : 0;
  const double bpw_q = q_params ? 8.0 * q_bytes / q_params : 0;
  if (a.json) {
    nlohmann::json j;
    j["path"] = a.model;
    j["source"] = m.source_kind();
    j["architecture"] = c.arch;
    j["hf_class"] = c.hf_class;
    j["config"] = {{"vocab_size", c.vocab_size},   {"hidden_size", c.hidden},
                   {"intermediate_size", c.intermediate}, {"num_hidden_layers", c.n_layers},
                   {"num_attention_heads", c.n_heads}, {"num_key_value_heads", c.n_kv_heads},
                   {"head_dim", c.head_dim},       {"max_position_embeddings", c.max_positions},
                   {"rms_norm_eps", c.rms_eps},    {"rope_theta", c.rope_theta},
                   {"rope_style", c.rope_style == RopeStyle::kHalf ? "half" : "interleaved"},
                   {"tie_word_embeddings", c.tie_embeddings},
                   {"attention_bias", c.attention_bias}, {"qk_norm", c.qk_norm}};
    j["parameters"] = all_params;
    j["tensor_bytes"] = all_bytes;
    j["bpw"] = bpw_all;
    j["bpw_quantized"] = bpw_q;
    j["quantized_parameters"] = q_params;
    nlohmann::json ts = nlohmann::json::array();
    for (const auto& t : m.tensors()) {
      ts.push_back({{"name", t.name}, {"shape", t.shape}, {"type", t.format->name},
                    {"planes", t.params.planes}, {"group", t.params.group},
                    {"bits", t.params.bits}, {"bytes", t.nbytes},
                    {"bpw", 8.0 * t.nbytes / t.numel()}, {"method", t.method}});
    }
    j["tensors"] = ts;
    if (verified >= 0) j["verified_tensors"] = verified;
    if (!m.file_info().empty()) {
      nlohmann::json md;
      for (const auto& [k, v] : m.file_info()) md[k] = v;
      j["metadata"] = md;
    }
    std::printf("%s\n", j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("%s (%s, %s)\n", a.model.c_str(), m.source_kind().c_str(), c.hf_class.c_str());
  std::printf("architecture  %s\n", c.arch.c_str());
  std::printf("vocab %lld  hidden %lld  intermediate %lld  layers %lld  heads %lld/%lld kv  "
              "head_dim %lld\n",
              (long long)c.vocab_size, (long long)c.hidden, (long long)c.intermediate,
              (long long)c.n_layers, (long long)c.n_heads, (long long)c.n_kv_heads,
              (long long)c.head_dim);
  std::printf("context %lld  rms_eps %g  rope_theta %g (%s pairs%s)  tied %s  qkv bias %s  "
              "qk norm %s\n",
              (long long)c.max_positions, c.rms_eps, c.rope_theta,
              c.rope_style == RopeStyle::kHalf ? "half" : "interleaved",
              c.rope_llama3 ? ", llama3 scaling" : "", c.tie_embeddings ? "yes" : "no",
              c.attention_bias ? "yes" : "no", c.qk_norm ? "yes" : "no");
  std::printf("\n%-32s %-16s %-22s %12s %7s  %s\n", "tensor", "shape", "type", "bytes", "bpw",
              "method");
  for (const auto& t : m.tensors()) {
    std::printf("%-32s %-16s %-22s %12zu %7.3f  %s\n", t.name.c_str(),
                ShapeString(t.shape).c_str(), FormatLabel(t).c_str(), t.nbytes,
                8.0 * t.nbytes / t.numel(), t.method.c_str());
  }
  std::printf("\nparameters %lld (%.2f M), tensor bytes %llu (%.2f MiB), %.4f bits per weight\n",
              (long long)all_params, all_params / 1e6, (unsigned long long)all_bytes,
              all_bytes / 1048576.0, bpw_all);
  if (q_params > 0) {
    std::printf("quantized: %lld parameters at %.4f bits per weight\n", (long long)q_params,
                bpw_q);
  }
  if (verified >= 0) std::printf("checksums: %d tensors verified OK\n", verified);
  return 0;
}

}  // namespace

void AddInspectVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "show a model's architecture and tensors");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_flag("--verify", a->verify, "check every tensor's stored xxh64 checksum (.gguf)");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([a, run] { *run = [a] { return Inspect(*a); }; });
}

}  // namespace tritium::cli
