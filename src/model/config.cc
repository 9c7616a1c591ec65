#include "src/model/config.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/io/json.h"

namespace tritium {

Status ModelConfig::Validate(const std::string& source) const {
  auto bad = [&](const std::string& m) { return InvalidArgumentError(source + ": " + m); };
  if (vocab_size <= 0 || hidden <= 0 || intermediate <= 0 || n_layers <= 0 || n_heads <= 0 ||
      n_kv_heads <= 0 || head_dim <= 0) {
    return bad("non-positive model dimension (vocab " + std::to_string(vocab_size) + ", hidden " +
               std::to_string(hidden) + ", intermediate " + std::to_string(intermediate) +
               ", layers " + std::to_string(n_layers) + ", heads " + std::to_string(n_heads) +
               ", kv heads " + std::to_string(n_kv_heads) + ", head_dim " +
               std::to_string(head_dim) + ")");
  }
  if (n_heads % n_kv_heads != 0) {
    return bad("num_attention_heads " + std::to_string(n_heads) +
               " is not a multiple of num_key_value_heads " + std::to_string(n_kv_heads));
  }
  if (head_dim % 2 != 0) return bad("head_dim must be even for RoPE");
  const int64_t kMax = int64_t{1} << 20;
  if (vocab_size > 4 * kMax || hidden > kMax || intermediate > 4 * kMax || n_layers > 4096 ||
      n_heads > 4096 || head_dim > 4096) {
    return bad("absurd model dimensions (vocab " + std::to_string(vocab_size) + ", hidden " +
               std::to_string(hidden) + ", intermediate " + std::to_string(intermediate) +
               ", layers " + std::to_string(n_layers) + ", heads " + std::to_string(n_heads) +
               ", head_dim " + std::to_string(head_dim) + ")");
  }
  if (!(rms_eps > 0) || !std::isfinite(rms_eps)) return bad("rms_norm_eps must be positive");
  if (!(rope_theta > 0) || !std::isfinite(rope_theta)) return bad("rope_theta must be positive");
  if (max_positions <= 0) return bad("max_position_embeddings must be positive");
  return ValidateIds(source);
}

Status ModelConfig::ValidateIds(const std::string& source) const {
  std::vector<std::pair<const char*, int32_t>> ids = {{"bos_token_id", bos_id},
                                                      {"eos_token_id", eos_id}};
  for (int32_t id : eos_ids) ids.emplace_back("eos_token_id", id);
  for (auto [name, id] : ids) {
    if (id < -1 || id >= vocab_size) {
      return InvalidArgumentError(source + ": " + name + " " + std::to_string(id) +
                                  " is outside the vocabulary of " + std::to_string(vocab_size) +
                                  " tokens");
    }
  }
  return OkStatus();
}

namespace {

using json = nlohmann::json;

StatusOr<int64_t> GetInt(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || j[key].is_null()) {
    return InvalidArgumentError(path + ": missing required key '" + key + "'");
  }
  if (!j[key].is_number_integer()) {
    return InvalidArgumentError(path + ": key '" + key + "' must be an integer");
  }
  return j[key].get<int64_t>();
}

StatusOr<double> GetNumber(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || !j[key].is_number()) {
    return InvalidArgumentError(path + ": missing or non-numeric key '" + key + "'");
  }
  return j[key].get<double>();
}

// One token id: an integer or null (none, -1). Anything else, or an id that does not fit in 32
// bits, is an error naming the file and key (nlohmann's get<int32_t> would silently truncate 2^40
// to 0).
StatusOr<int32_t> OneId(const json* x, const std::string& path, const char* key) {
  if (x->is_null()) return -1;
  if (!x->is_number_integer()) {
    return InvalidArgumentError(path + ": " + key + " must be an integer token id, found " +
                                x->dump());
  }
  const int64_t id =
      x->is_number_unsigned() && x->get<uint64_t>() > INT64_MAX ? INT64_MAX : x->get<int64_t>();
  if (id < -1 || id > INT32_MAX) {
    return InvalidArgumentError(path + ": " + key + " " + x->dump() + " is not a valid token id");
  }
  return static_cast<int32_t>(id);
}

// A token id key: one id or a list of them (eos lists). Returns the ids that are not -1.
StatusOr<std::vector<int32_t>> Ids(const json& v, const std::string& path, const char* key) {
  std::vector<int32_t> out;
  if (!v.is_array()) {
    TRITIUM_ASSIGN_OR_RETURN(int32_t id, OneId(&v, path, key));
    if (id >= 0) out.push_back(id);
    return out;
  }
  for (const json& x : v) {
    TRITIUM_ASSIGN_OR_RETURN(int32_t id, OneId(&x, path, key));
    if (id >= 0 && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

// bos: the first id. eos: all of them (generation stops at any).
Status ReadIds(const json& j, const std::string& path, ModelConfig* c) {
  if (j.contains("bos_token_id")) {
    TRITIUM_ASSIGN_OR_RETURN(std::vector<int32_t> v, Ids(j["bos_token_id"], path, "bos_token_id"));
    if (!v.empty()) c->bos_id = v[0];
  }
  if (j.contains("eos_token_id")) {
    TRITIUM_ASSIGN_OR_RETURN(std::vector<int32_t> v, Ids(j["eos_token_id"], path, "eos_token_id"));
    if (!v.empty()) {
      c->eos_id = v[0];
      c->eos_ids = v;
    }
  }
  return OkStatus();
}

}  // namespace

StatusOr<ModelConfig> ParseHfConfig(const std::string& path) {
  TRITIUM_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  TRITIUM_ASSIGN_OR_RETURN(json j, ParseJson(text, path));
  if (!j.is_object()) return DataLossError(path + ": not a JSON object");
  ModelConfig c;
  std::string cls;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    cls = j["architectures"][0].get<std::string>();
  } else {
    return InvalidArgumentError(path + ": missing 'architectures'");
  }
  c.hf_class = cls;
  if (cls == "LlamaForCausalLM" || cls == "MistralForCausalLM") {
    c.arch = "llama";
  } else if (cls == "Qwen2ForCausalLM") {
    c.arch = "qwen2";
    c.attention_bias = true;
  } else if (cls == "Qwen3ForCausalLM") {
    c.arch = "qwen3";
    c.qk_norm = true;
  } else {
    return UnimplementedError(path + ": unsupported architecture '" + cls +
                              "' (supported: LlamaForCausalLM, MistralForCausalLM, "
                              "Qwen2ForCausalLM, Qwen3ForCausalLM)");
  }
  TRITIUM_ASSIGN_OR_RETURN(c.vocab_size, GetInt(j, "vocab_size", path));
  TRITIUM_ASSIGN_OR_RETURN(c.hidden, GetInt(j, "hidden_size", path));
  TRITIUM_ASSIGN_OR_RETURN(c.intermediate, GetInt(j, "intermediate_size", path));
  TRITIUM_ASSIGN_OR_RETURN(c.n_layers, GetInt(j, "num_hidden_layers", path));
  TRITIUM_ASSIGN_OR_RETURN(c.n_heads, GetInt(j, "num_attention_heads", path));
  c.n_kv_heads = c.n_heads;
  if (j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()) {
    TRITIUM_ASSIGN_OR_RETURN(c.n_kv_heads, GetInt(j, "num_key_value_heads", path));
  }
  if (c.n_heads <= 0) return InvalidArgumentError(path + ": num_attention_heads must be positive");
  c.head_dim = c.hidden / c.n_heads;
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    TRITIUM_ASSIGN_OR_RETURN(c.head_dim, GetInt(j, "head_dim", path));
  }
  c.max_positions = 2048;
  if (j.contains("max_position_embeddings")) {
    TRITIUM_ASSIGN_OR_RETURN(c.max_positions, GetInt(j, "max_position_embeddings", path));
  }
  double eps;
  TRITIUM_ASSIGN_OR_RETURN(eps, GetNumber(j, "rms_norm_eps", path));
  c.rms_eps = static_cast<float>(eps);
  // RoPE: transformers 4 writes rope_theta (+ rope_scaling) at the top level; transformers 5 writes
  // a rope_parameters object holding both.
  const json* rope = nullptr;
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    rope = &j["rope_parameters"];
  }
  if (rope != nullptr && rope->contains("rope_theta")) {
    TRITIUM_ASSIGN_OR_RETURN(double t, GetNumber(*rope, "rope_theta", path));
    c.rope_theta = static_cast<float>(t);
  } else if (j.contains("rope_theta")) {
    TRITIUM_ASSIGN_OR_RETURN(double t, GetNumber(j, "rope_theta", path));
    c.rope_theta = static_cast<float>(t);
  }
  const json* scaling = nullptr;
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) scaling = &j["rope_scaling"];
  if (scaling == nullptr && rope != nullptr) scaling = rope;
  if (scaling != nullptr) {
    std::string type;
    if (scaling->contains("rope_type") && (*scaling)["rope_type"].is_string()) {
      type = (*scaling)["rope_type"].get<std::string>();
    } else if (scaling->contains("type") && (*scaling)["type"].is_string()) {
      type = (*scaling)["type"].get<std::string>();
    }
    if (type == "llama3") {
      c.rope_llama3 = true;
      TRITIUM_ASSIGN_OR_RETURN(double f, GetNumber(*scaling, "factor", path));
      TRITIUM_ASSIGN_OR_RETURN(double lo, GetNumber(*scaling, "low_freq_factor", path));
      TRITIUM_ASSIGN_OR_RETURN(double hi, GetNumber(*scaling, "high_freq_factor", path));
      TRITIUM_ASSIGN_OR_RETURN(c.rope_original_max_positions,
                               GetInt(*scaling, "original_max_position_embeddings", path));
      c.rope_factor = static_cast<float>(f);
      c.rope_low_freq_factor = static_cast<float>(lo);
      c.rope_high_freq_factor = static_cast<float>(hi);
      if (!(hi > lo) || !(f > 0)) {
        return InvalidArgumentError(path + ": llama3 rope_scaling needs factor > 0 and "
                                    "high_freq_factor > low_freq_factor");
      }
    } else if (!type.empty() && type != "default") {
      return UnimplementedError(path + ": unsupported rope scaling type '" + type +
                                "' (supported: default, llama3)");
    }
  }
  // Sliding-window attention (Mistral v0.1; Qwen2 when use_sliding_window) equals full attention
  // for contexts up to the window. We implement full attention only, so the context is capped at
  // the window rather than silently computing something else beyond it.
  const bool sliding = c.hf_class == "MistralForCausalLM" ||
                       (j.contains("use_sliding_window") && j["use_sliding_window"].is_boolean() &&
                        j["use_sliding_window"].get<bool>());
  if (sliding && j.contains("sliding_window") && j["sliding_window"].is_number_integer()) {
    int64_t w = j["sliding_window"].get<int64_t>();
    if (w > 0 && w < c.max_positions) c.max_positions = w;
  }
  c.rope_style = RopeStyle::kHalf;
  if (j.contains("tie_word_embeddings") && !j["tie_word_embeddings"].is_null()) {
    if (!j["tie_word_embeddings"].is_boolean()) {
      return InvalidArgumentError(path + ": key 'tie_word_embeddings' must be true or false");
    }
    c.tie_embeddings = j["tie_word_embeddings"].get<bool>();
  }
  if (j.contains("attention_bias") && j["attention_bias"].is_boolean()) {
    c.attention_bias = c.attention_bias || j["attention_bias"].get<bool>();
  }
  if (j.contains("mlp_bias") && j["mlp_bias"].is_boolean() && j["mlp_bias"].get<bool>()) {
    return UnimplementedError(path + ": mlp_bias = true is not supported");
  }
  if (j.contains("hidden_act") && j["hidden_act"].is_string() &&
      j["hidden_act"].get<std::string>() != "silu") {
    return UnimplementedError(path + ": unsupported hidden_act '" +
                              j["hidden_act"].get<std::string>() + "' (supported: silu)");
  }
  TRITIUM_RETURN_IF_ERROR(ReadIds(j, path, &c));
  if (c.vocab_size > 0) TRITIUM_RETURN_IF_ERROR(c.ValidateIds(path));
  // generation_config.json, when present, is what generate() uses; a broken one is an error, as it
  // is for transformers.
  std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos
                                        ? 0 : path.find_last_of('/'));
  std::string gen_path = JoinPath(dir.empty() ? "." : dir, "generation_config.json");
  if (FileExists(gen_path)) {
    TRITIUM_ASSIGN_OR_RETURN(std::string gen_text, ReadFileToString(gen_path));
    TRITIUM_ASSIGN_OR_RETURN(json g, ParseJson(gen_text, gen_path));
    if (!g.is_object()) {
      return DataLossError(gen_path + ": not a JSON object");
    }
    TRITIUM_RETURN_IF_ERROR(ReadIds(g, gen_path, &c));
    // config.json's ids were checked above, so an id out of range now came from this file.
    if (c.vocab_size > 0) TRITIUM_RETURN_IF_ERROR(c.ValidateIds(gen_path));
  }
  TRITIUM_RETURN_IF_ERROR(c.Validate(path));
  return c;
}

}  // namespace tritium
