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
  if (!std::isfinite(min_p) || min_p < 0 || min_p > 1) {
    return InvalidArgumentError("--min-p must be in [0, 1]");
  }
  if (!std::isfinite(repeat_penalty) || repeat_penalty <= 0) {
    return InvalidArgumentError("--repeat-penalty must be a finite number > 0");
  }
  for (auto [name, v] : {std::pair<const char*, float>{"--presence-penalty", presence_penalty},
                         {"--frequency-penalty", frequency_penalty}}) {
    if (!std::isfinite(v) || v < -2 || v > 2) {
      return InvalidArgumentError(std::string(name) + " must be in [-2, 2]");
    }
  }
  if (penalty_last_n < 0) return InvalidArgumentError("--repeat-last-n must be >= 0");
  return OkStatus();
}

int32_t ArgMax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

void Sampler::Accept(int32_t token) {
  if (p_.penalty_last_n <= 0) return;
  recent_.push_back(token);
  while (recent_.size() > static_cast<size_t>(p_.penalty_last_n)) recent_.pop_front();
}

void Sampler::ApplyPenalties(float* logits, int64_t vocab) const {
  std::vector<int32_t> seen(recent_.begin(), recent_.end());
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size();) {
    size_t j = i;
    while (j < seen.size() && seen[j] == seen[i]) ++j;
    const int32_t t = seen[i];
    if (t >= 0 && t < vocab) {
      float& l = logits[t];
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= p_.presence_penalty + p_.frequency_penalty * static_cast<float>(j - i);
    }
    i = j;
  }
}

int32_t Sampler::Sample(const float* logits, int64_t vocab) {
  if (p_.has_penalties() && !recent_.empty()) {
    work_.assign(logits, logits + vocab);
    ApplyPenalties(work_.data(), vocab);
    logits = work_.data();
  }
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
  // Min-p: probabilities are sorted, so the survivors are a prefix (the first always survives).
  if (p_.min_p > 0) {
    const double floor = p_.min_p * prob[0];
    size_t i = 1;
    while (i < keep && prob[i] >= floor) ++i;
    keep = i;
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
