// The float engine against Hugging Face transformers' own logits and hidden states for tiny random
// Llama, Qwen2 and Qwen3 models (../shared/fixtures/hf): whole-sequence and token-by-token through
// the KV cache, greedy continuation, and bit-identical results for any thread count.
#include <gtest/gtest.h>

#include <cmath>

#include "src/model/forward.h"
#include "src/model/sampling.h"
#include "tests/test_util.h"

namespace tritium {
namespace {

using ::tritium::testing::ReadF32File;
using ::tritium::testing::ReadJson;

constexpr float kLogitTol = 2e-4f;

class HfGoldenTest : public ::testing::TestWithParam<std::string> {};

std::unique_ptr<Model> LoadFixture(const std::string& dir) {
  LoadOptions lo;
  lo.require_tokenizer = false;
  auto m = Model::Load(dir, lo);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

TEST_P(HfGoldenTest, WholeSequenceLogitsAndHiddenStates) {
  TRITIUM_REQUIRE_SHARED(dir, "fixtures/hf/" + GetParam());
  auto model = LoadFixture(dir);
  ASSERT_NE(model, nullptr);
  auto golden = ReadJson(dir + "/golden.json");
  std::vector<int32_t> ids = golden["input_ids"].get<std::vector<int32_t>>();
  std::vector<float> want = ReadF32File(dir + "/logits.bin");
  std::vector<float> hidden_want = ReadF32File(dir + "/hidden.bin");
  const int64_t n = static_cast<int64_t>(ids.size()), V = model->config().vocab_size;
  const int64_t d = model->config().hidden;
  ASSERT_EQ(want.size(), static_cast<size_t>(n * V));
  ThreadPool pool(2);
  Session s(*model, &pool, 64);
  // hidden.bin rows: embeddings, after layer 0, after layer 1, final norm output.
  std::vector<std::vector<float>> hidden(4);
  s.set_hidden_observer([&](int layer, const float* h, int64_t m) {
    int slot = layer + 1;
    if (slot >= 0 && slot < 4) hidden[slot].assign(h, h + m * d);
  });
  std::vector<float> logits;
  ASSERT_TRUE(s.Forward(ids.data(), n, true, &logits).ok());
  float max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, std::fabs(logits[i] - want[i]));
  EXPECT_LT(max_diff, kLogitTol) << GetParam();
  for (int slot = 0; slot < 4; ++slot) {
    ASSERT_EQ(hidden[slot].size(), static_cast<size_t>(n * d)) << "slot " << slot;
    float hd = 0;
    for (int64_t i = 0; i < n * d; ++i) {
      hd = std::max(hd, std::fabs(hidden[slot][i] - hidden_want[slot * n * d + i]));
    }
    EXPECT_LT(hd, kLogitTol) << GetParam() << " hidden slot " << slot;
  }
}

TEST_P(HfGoldenTest, TokenByTokenDecodeMatchesThroughCache) {
  TRITIUM_REQUIRE_SHARED(dir, "fixtures/hf/" + GetParam());
  auto model = LoadFixture(dir);
  ASSERT_NE(model, nullptr);
  auto golden = ReadJson(dir + "/golden.json");
  std::vector<int32_t> ids = golden["input_ids"].get<std::vector<int32_t>>();
  std::vector<float> want = ReadF32File(dir + "/logits.bin");
  const int64_t V = model->config().vocab_size;
  ThreadPool pool(2);
  Session s(*model, &pool, 64);
  std::vector<float> logits;
  float max_diff = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(s.Forward(&ids[i], 1, false, &logits).ok());
    for (int64_t v = 0; v < V; ++v) {
      max_diff = std::max(max_diff, std::fabs(logits[v] - want[i * V + v]));
    }
  }
  EXPECT_LT(max_diff, kLogitTol) << GetParam();
}

TEST_P(HfGoldenTest, GreedyContinuation) {
  TRITIUM_REQUIRE_SHARED(dir, "fixtures/hf/" + GetParam());
  auto model = LoadFixture(dir);
  ASSERT_NE(model, nullptr);
  auto golden = ReadJson(dir + "/golden.json");
  std::vector<int32_t> ids = golden["input_ids"].get<std::vector<int32_t>>();
  std::vector<int32_t> want = golden["greedy_next"].get<std::vector<int32_t>>();
  ThreadPool pool(1);
  Session s(*model, &pool, 64);
  std::vector<float> logits;
  ASSERT_TRUE(s.Forward(ids.data(), static_cast<int64_t>(ids.size()), false, &logits).ok());
  std::vector<int32_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    int32_t next = ArgMax(logits.data(), model->config().vocab_size);
    got.push_back(next);
    ASSERT_TRUE(s.Forward(&next, 1, false, &logits).ok());
  }
  EXPECT_EQ(got, want);
}

TEST_P(HfGoldenTest, BitIdenticalForAnyThreadCount) {
  TRITIUM_REQUIRE_SHARED(dir, "fixtures/hf/" + GetParam());
  auto model = LoadFixture(dir);
  ASSERT_NE(model, nullptr);
  auto golden = ReadJson(dir + "/golden.json");
  std::vector<int32_t> ids = golden["input_ids"].get<std::vector<int32_t>>();
  std::vector<float> ref;
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    Session s(*model, &pool, 64);
    std::vector<float> logits;
    ASSERT_TRUE(s.Forward(ids.data(), static_cast<int64_t>(ids.size()), true, &logits).ok());
    if (ref.empty()) {
      ref = logits;
    } else {
      ASSERT_EQ(0, std::memcmp(ref.data(), logits.data(), ref.size() * 4))
          << threads << " threads differ from 1 thread";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfGoldenTest,
                         ::testing::Values("llama", "qwen2", "qwen3"));

}  // namespace
}  // namespace tritium
