// Next-token sampling, the same for run, chat and serve: repetition / presence / frequency
// penalties over a window of recent tokens, then greedy (temperature 0) or top-k, temperature,
// top-p and min-p, drawn from a seeded generator so that a seed reproduces a run exactly.
#ifndef TRITIUM_MODEL_SAMPLING_H_
#define TRITIUM_MODEL_SAMPLING_H_

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

#include "src/base/status.h"

namespace tritium {

struct SamplingParams {
  float temperature = 0.8f;  // 0 = greedy
  int top_k = 40;            // 0 = no limit
  float top_p = 0.95f;       // 1 = no limit
  // Keeps tokens whose probability is at least min_p times the most likely one's; 0 = off.
  float min_p = 0.0f;
  // llama.cpp's penalties over the last `penalty_last_n` tokens (prompt included): a seen token's
  // logit is divided by repeat_penalty when positive, multiplied when negative (CTRL's rule),
  // then lowered by presence_penalty once and frequency_penalty per occurrence (OpenAI's rule).
  float repeat_penalty = 1.0f;  // 1 = off
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int penalty_last_n = 64;  // 0 = no penalties
  uint64_t seed = 0;
  Status Validate() const;
  bool has_penalties() const {
    return penalty_last_n > 0 &&
           (repeat_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f);
  }
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}
  // Picks a token from `vocab` logits. Ties in greedy mode go to the lowest id.
  int32_t Sample(const float* logits, int64_t vocab);
  // Records a token of the sequence (prompt or generated) for the penalty window.
  void Accept(int32_t token);
  void ResetHistory() { recent_.clear(); }

 private:
  void ApplyPenalties(float* logits, int64_t vocab) const;

  SamplingParams p_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<float> work_;
};

int32_t ArgMax(const float* logits, int64_t n);

}  // namespace tritium

#endif  // TRITIUM_MODEL_SAMPLING_H_
