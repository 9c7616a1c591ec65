#include "src/model/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "src/base/file.h"
#include "src/model/model.h"

namespace tritium {
namespace {

std::string WriteConfig(const std::string& name, const std::string& json) {
  std::string dir = ::testing::TempDir() + "/cfg_" + name;
  std::system(("mkdir -p '" + dir + "'").c_str());
  std::ofstream(dir + "/config.json") << json;
  return dir + "/config.json";
}

const char* kBase = R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 256,
  "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "vocab_size": 100,
  "max_position_embeddings": 131072, "tie_word_embeddings": false)";

TEST(ConfigTest, ReadsTopLevelAndNestedRopeTheta) {
  auto a = ParseHfConfig(WriteConfig("top", std::string(kBase) + R"(, "rope_theta": 500000.0})"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->rope_theta, 500000.0f);
  EXPECT_EQ(a->head_dim, 64);
  EXPECT_EQ(a->n_kv_heads, 2);
  auto b = ParseHfConfig(WriteConfig(
      "nested", std::string(kBase) + R"(, "rope_parameters": {"rope_theta": 1234.0, "rope_type": "default"}})"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->rope_theta, 1234.0f);
  EXPECT_FALSE(b->rope_llama3);
}

TEST(ConfigTest, Llama3RopeScaling) {
  auto c = ParseHfConfig(WriteConfig("l3", std::string(kBase) + R"(, "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->rope_llama3);
  EXPECT_EQ(c->rope_factor, 8.0f);
  EXPECT_EQ(c->rope_original_max_positions, 8192);
}

TEST(ConfigTest, RefusesUnknownArchitectureAndBadValues) {
  auto a = ParseHfConfig(WriteConfig("gpt2", R"({"architectures": ["GPT2LMHeadModel"]})"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("GPT2LMHeadModel"), std::string::npos);
  auto b = ParseHfConfig(WriteConfig("heads", std::string(kBase) +
                                                  R"(, "num_key_value_heads": 3})"));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("num_key_value_heads"), std::string::npos);
  auto c = ParseHfConfig(WriteConfig("scal", std::string(kBase) +
                                                 R"(, "rope_scaling": {"type": "yarn", "factor": 4.0}})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("yarn"), std::string::npos);
  auto d = ParseHfConfig(WriteConfig("act", std::string(kBase) + R"(, "hidden_act": "gelu"})"));
  ASSERT_FALSE(d.ok());
}

TEST(ConfigTest, MistralSlidingWindowCapsContext) {
  std::string j = kBase;
  j.replace(j.find("LlamaForCausalLM"), 16, "MistralForCausalLM");
  auto c = ParseHfConfig(WriteConfig("mistral", j + R"(, "sliding_window": 4096})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->arch, "llama");
  EXPECT_EQ(c->max_positions, 4096);
}

}  // namespace
}  // namespace tritium

namespace tritium {
namespace {

TEST(ConfigTest, KeepsEveryIdOfAnEosList) {
  auto c = ParseHfConfig(WriteConfig(
      "eoslist", std::string(kBase) + R"(, "bos_token_id": 1, "eos_token_id": [7, 9, 7, null]})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->eos_id, 7);
  EXPECT_EQ(c->eos_ids, (std::vector<int32_t>{7, 9}));
  auto bad =
      ParseHfConfig(WriteConfig("eosbad", std::string(kBase) + R"(, "eos_token_id": [7, 100]})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("eos_token_id 100 is outside the vocabulary"),
            std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace tritium
