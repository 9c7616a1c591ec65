// The sampler against hand-derived cases.
#include "src/model/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace tritium {
namespace {

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0;
  return p;
}

TEST(SamplingTest, RepeatPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  const float logits[3] = {2.0f, 1.5f, -1.0f};
  SamplingParams p = Greedy();
  Sampler plain(p);
  plain.Accept(0);
  EXPECT_EQ(plain.Sample(logits, 3), 0);  // no penalty configured
  p.repeat_penalty = 2.0f;                // 2 -> 1 < 1.5
  Sampler s(p);
  s.Accept(0);
  EXPECT_EQ(s.Sample(logits, 3), 1);
  // A negative logit gets more negative: -1 * 3 = -3 stays below 0.5 / 3 for token 1.
  const float neg[2] = {-1.0f, -1.2f};
  p.repeat_penalty = 3.0f;
  Sampler n(p);
  n.Accept(1);
  EXPECT_EQ(n.Sample(neg, 2), 0);
  Sampler m(p);
  m.Accept(0);  // -1 * 3 = -3 < -1.2
  EXPECT_EQ(m.Sample(neg, 2), 1);
}

TEST(SamplingTest, PresenceOnceFrequencyPerOccurrence) {
  const float logits[2] = {1.0f, 0.9f};
  SamplingParams p = Greedy();
  p.presence_penalty = 0.05f;  // 1.0 - 0.05 = 0.95 > 0.9
  Sampler a(p);
  for (int i = 0; i < 3; ++i) a.Accept(0);
  EXPECT_EQ(a.Sample(logits, 2), 0);
  p.presence_penalty = 0;
  p.frequency_penalty = 0.05f;  // 1.0 - 3 * 0.05 = 0.85 < 0.9
  Sampler b(p);
  for (int i = 0; i < 3; ++i) b.Accept(0);
  EXPECT_EQ(b.Sample(logits, 2), 1);
  p.penalty_last_n = 1;  // the window sees one occurrence only: 0.95 > 0.9
  Sampler c(p);
  for (int i = 0; i < 3; ++i) c.Accept(0);
  EXPECT_EQ(c.Sample(logits, 2), 0);
  p.penalty_last_n = 2;  // two occurrences: 0.9 == 0.9, the tie goes to the lower id
  Sampler d(p);
  d.Accept(1);
  d.Accept(0);
  d.Accept(0);
  EXPECT_EQ(d.Sample(logits, 2), 0);
}

TEST(SamplingTest, MinPDropsUnlikelyTokens) {
  // Probabilities 0.6, 0.3, 0.1 at temperature 1.
  const float logits[3] = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  SamplingParams p;
  p.temperature = 1;
  p.top_k = 0;
  p.top_p = 1;
  std::set<int32_t> without, with;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    p.seed = seed;
    p.min_p = 0;
    Sampler a(p);
    without.insert(a.Sample(logits, 3));
    p.min_p = 0.2f;  // floor 0.12: token 2 (0.1) goes, token 1 (0.3) stays
    Sampler b(p);
    with.insert(b.Sample(logits, 3));
  }
  EXPECT_EQ(without, (std::set<int32_t>{0, 1, 2}));
  EXPECT_EQ(with, (std::set<int32_t>{0, 1}));
}

TEST(SamplingTest, SeedReproducesASequence) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = std::sin(i * 0.7f);
  SamplingParams p;
  p.seed = 42;
  p.repeat_penalty = 1.3f;
  p.min_p = 0.05f;
  auto draw = [&] {
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      out.push_back(s.Sample(logits.data(), 50));
      s.Accept(out.back());
    }
    return out;
  };
  EXPECT_EQ(draw(), draw());
}

TEST(SamplingTest, ValidateRefusesBadValues) {
  for (auto set :
       std::vector<void (*)(SamplingParams*)>{[](SamplingParams* p) { p->min_p = 1.5f; },
                                              [](SamplingParams* p) { p->repeat_penalty = 0; },
                                              [](SamplingParams* p) { p->presence_penalty = 3; },
                                              [](SamplingParams* p) { p->frequency_penalty = NAN; },
                                              [](SamplingParams* p) { p->penalty_last_n = -1; }}) {
    SamplingParams p;
    set(&p);
    EXPECT_FALSE(p.Validate().ok());
  }
  EXPECT_TRUE(SamplingParams().Validate().ok());
}

}  // namespace
}  // namespace tritium
