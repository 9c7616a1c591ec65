// Synthetic checkpoints: deterministic random-weight Hugging Face models at real shapes (7B, 8B),
// for measuring memory and speed where no real weights can be downloaded. Matrices are N(0, std)
// in bf16, norm weights are 1, the tokenizer is copied from ../shared/tokenizers. Written streaming
// (a few tens of MB in memory at any size), in shards of at most `max_shard_bytes`, each shard
// atomically; the bytes depend only on the shape and the seed, not on the thread count.
#ifndef TRITIUM_PIPELINE_SYNTH_H_
#define TRITIUM_PIPELINE_SYNTH_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"

namespace tritium {

struct SynthShape {
  std::string name;
  std::string hf_class = "LlamaForCausalLM";  // or Qwen3ForCausalLM
  int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int64_t vocab = 0, max_positions = 2048;
  double rope_theta = 10000.0, rms_eps = 1e-5;
  bool tie_embeddings = false;
  std::string tokenizer;            // a folder of ../shared/tokenizers: "llama2" or "qwen3"
  int64_t tokenizer_vocab = 32000;  // its token count: a smaller `vocab` gets no tokenizer
  int bos_id = 1, eos_id = 2;
};

// Named shapes: tinyllama-1.1b, llama2-7b, llama3-8b, qwen3-8b (SynthShapeNames lists them).
StatusOr<SynthShape> SynthShapeByName(const std::string& name);
std::vector<std::string> SynthShapeNames();

struct SynthOptions {
  uint64_t seed = 0;
  double stddev = 0.02;
  uint64_t max_shard_bytes = uint64_t{5} << 30;
  // Directory to copy tokenizer files from; empty = SharedPath("tokenizers/" + shape.tokenizer),
  // skipped when the shape's vocab is smaller than shape.tokenizer_vocab (its ids would not fit).
  // A missing directory writes no tokenizer (quantize still works; run then needs --tokenizer).
  std::string tokenizer_dir;
};

struct SynthResult {
  int64_t params = 0;
  uint64_t bytes = 0;  // of tensor data
  int shards = 0;
  bool tokenizer = false;
};

// Writes config.json, model-0000i-of-0000n.safetensors, model.safetensors.index.json and the
// tokenizer into `dir` (created if missing). progress(bytes done, bytes total).
StatusOr<SynthResult> WriteSynthCheckpoint(const std::string& dir, const SynthShape& shape,
                                           const SynthOptions& opts, ThreadPool* pool,
                                           const std::function<void(int64_t, int64_t)>& progress);

}  // namespace tritium

#endif  // TRITIUM_PIPELINE_SYNTH_H_
