// The transformer forward pass (fp32 compute) with a KV cache: RMSNorm, RoPE, grouped-query causal
// attention, SwiGLU MLP, optional q/k/v biases (Qwen2) and q/k norms (Qwen3), tied or untied head.
#ifndef TRITIUM_MODEL_FORWARD_H_
#define TRITIUM_MODEL_FORWARD_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/model/model.h"

namespace tritium {

// Called with the input of every linear layer as it runs: the tensor's name and [n x cols] floats.
// Calibration uses it to collect activation statistics.
using LinearInputObserver =
    std::function<void(const Tensor& weight, const float* x, int64_t n_tokens)>;

// One sequence's state: KV cache and position. Not thread-safe; the pool parallelizes inside.
class Session {
 public:
  // max_context <= 0 means the model's max_position_embeddings.
  Session(const Model& model, ThreadPool* pool, int64_t max_context = 0);

  // Runs `n` tokens at positions pos()..pos()+n-1, appending them to the cache. Writes logits for
  // every token ([n x vocab]) when all_logits, else for the last token only ([vocab]).
  Status Forward(const int32_t* tokens, int64_t n, bool all_logits, std::vector<float>* logits);
  // Restarts at position 0 (the cache is overwritten, not freed).
  void Reset() { pos_ = 0; }
  // Keeps the first `n` cached positions and drops the rest (a chat reusing a shared prefix).
  void Truncate(int64_t n) { pos_ = std::clamp<int64_t>(n, 0, pos_); }
  int64_t pos() const { return pos_; }
  int64_t max_context() const { return max_context_; }

  void set_observer(LinearInputObserver obs) { observer_ = std::move(obs); }
  // When set, receives the residual stream: after the embedding (layer -1), after each layer
  // (0..L-1) and after the final norm (layer L), each [n x hidden]. For golden-hidden tests.
  void set_hidden_observer(std::function<void(int layer, const float* h, int64_t n)> obs) {
    hidden_observer_ = std::move(obs);
  }

 private:
  void Linear(const Tensor& w, const float* x, int64_t n, float* y);
  void Attention(int layer, int64_t n);

  const Model& model_;
  ThreadPool* pool_;
  int64_t max_context_;
  int64_t pos_ = 0;
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], FreeDeleter> k_cache_, v_cache_;  // [layer][pos][kv_dim]
  std::vector<float> rope_cos_, rope_sin_;  // [pos][head_dim/2]
  // Scratch, sized for the largest batch seen.
  std::vector<float> x_, xn_, q_, k_, v_, att_, gate_, up_, scores_;
  std::vector<const float*> key_rows_;
  LinearInputObserver observer_;
  std::function<void(int, const float*, int64_t)> hidden_observer_;
};

}  // namespace tritium

#endif  // TRITIUM_MODEL_FORWARD_H_
