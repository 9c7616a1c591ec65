// Next-token sampling: greedy (temperature 0) or temperature + top-k + top-p, from a seeded
// generator so that a seed reproduces a run exactly.
#ifndef TRITIUM_MODEL_SAMPLING_H_
#define TRITIUM_MODEL_SAMPLING_H_

#include <cstdint>
#include <random>

#include "src/base/status.h"

namespace tritium {

struct SamplingParams {
  float temperature = 0.8f;  // 0 = greedy
  int top_k = 40;            // 0 = no limit
  float top_p = 0.95f;       // 1 = no limit
  uint64_t seed = 0;
  Status Validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}
  // Picks a token from `vocab` logits. Ties in greedy mode go to the lowest id.
  int32_t Sample(const float* logits, int64_t vocab);

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
};

int32_t ArgMax(const float* logits, int64_t n);

}  // namespace tritium

#endif  // TRITIUM_MODEL_SAMPLING_H_
