// Model hyperparameters, from a Hugging Face config.json, a llama2.c header or GGUF metadata.
#ifndef TRITIUM_MODEL_CONFIG_H_
#define TRITIUM_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/base/status.h"

namespace tritium {

// Which dimensions of a head RoPE rotates together.
enum class RopeStyle {
  kHalf,        // (i, i + head_dim/2): Hugging Face checkpoints, GGUF qwen2/qwen3 ("neox")
  kInterleaved  // (2i, 2i + 1): llama2.c, GGUF llama (llama.cpp permutes q/k on conversion)
};

struct ModelConfig {
  std::string arch;  // GGUF architecture name: "llama", "qwen2", "qwen3"
  std::string hf_class;  // e.g. "LlamaForCausalLM" (informational)
  int64_t vocab_size = 0;
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_positions = 0;
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeStyle rope_style = RopeStyle::kHalf;
  // rope_scaling type "llama3" (Llama 3.1+): wavelength-dependent frequency scaling.
  bool rope_llama3 = false;
  float rope_factor = 1.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  int64_t rope_original_max_positions = 8192;
  bool tie_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (Qwen2)
  bool qk_norm = false;         // RMSNorm over head_dim on q and k before RoPE (Qwen3)
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  // Every end-of-generation id the files name (eos_token_id may be a list, e.g. Llama 3.1's
  // [end_of_text, eom_id, eot_id]; GGUF adds tokenizer.ggml.eot/eom_token_id); eos_id is the first.
  std::vector<int32_t> eos_ids;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Checks internal consistency (positive sizes, heads divide, ...). `source` names the file.
  Status Validate(const std::string& source) const;
  // bos/eos are -1 (none) or ids inside the vocabulary; errors name `source` and the key.
  Status ValidateIds(const std::string& source) const;
};

// Parses config.json (+ generation_config.json for bos/eos when present, same directory).
// Refuses architectures other than Llama/Mistral/Qwen2/Qwen3 by name.
StatusOr<ModelConfig> ParseHfConfig(const std::string& config_path);

}  // namespace tritium

#endif  // TRITIUM_MODEL_CONFIG_H_
