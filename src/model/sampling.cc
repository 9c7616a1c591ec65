#include "src/model/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tritium {

Status SamplingParams::Validate() const {
  if (!std::isfinite(temperature) || temperature < 0) {
    return InvalidArgumentError("--temp must be a finite number >= 0");
  }
  if (top_k < 0) return InvalidArgumentError("--top-k must be >= 0");
  if (!std::isfinite(top_p) || top_p <= 0 || top_p > 1) {
    return InvalidArgumentError("--top-p must be in (0, 1]");
  }
  return OkStatus();
}

int32_t ArgMax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

int32_t Sampler::Sample(const float* logits, int64_t vocab) {
  if (p_.temperature == 0) return ArgMax(logits, vocab);
  std::vector<int32_t> idx(static_cast<size_t>(vocab));
  std::iota(idx.begin(), idx.end(), 0);
  int64_t k = (p_.top_k > 0 && p_.top_k < vocab) ? p_.top_k : vocab;
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), by_logit);
  idx.resize(static_cast<size_t>(k));
  std::vector<double> prob(idx.size());
  const double mx = logits[idx[0]];
  double sum = 0;
  for (size_t i = 0; i < idx.size(); ++i) {
    prob[i] = std::exp((logits[idx[i]] - mx) / p_.temperature);
    sum += prob[i];
  }
  // Top-p: keep the smallest prefix whose mass reaches top_p.
  size_t keep = idx.size();
  if (p_.top_p < 1) {
    double acc = 0;
    for (size_t i = 0; i < idx.size(); ++i) {
      acc += prob[i] / sum;
      if (acc >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) mass += prob[i];
  // A 53-bit uniform from the generator: std::uniform_real_distribution is not specified
  // bit-exactly across standard libraries.
  double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * mass;
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += prob[i];
    if (u < acc) return idx[i];
  }
  return idx[keep - 1];
}

}  // namespace tritium
