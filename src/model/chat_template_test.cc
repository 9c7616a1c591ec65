// Our renderers against goldens that Jinja2 rendered from the templates' own text
// (scripts/make_chat_goldens.py, configured as transformers configures it).
#include "src/model/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/paths.h"

namespace tritium {
namespace {

using json = nlohmann::json;

json Goldens() {
  auto text = ReadFileToString(std::string(TRITIUM_SOURCE_DIR) + "/tests/data/chat/goldens.json");
  EXPECT_TRUE(text.ok()) << text.status().message();
  return json::parse(text.ok() ? *text : "[]");
}

TEST(ChatTemplateTest, RendersLikeJinjaForEveryFamily) {
  const json goldens = Goldens();
  ASSERT_EQ(goldens.size(), 5u);  // llama2, llama3, qwen2, chatml, qwen3
  int compared = 0, errors = 0;
  for (const json& t : goldens) {
    auto kind = ChatTemplateByName(t["template"].get<std::string>());
    ASSERT_TRUE(kind.ok()) << kind.status().message();
    ChatRenderOptions o;
    o.bos_token = t["bos_token"];
    o.eos_token = t["eos_token"];
    for (const json& c : t["cases"]) {
      std::vector<ChatMessage> messages;
      for (const json& m : c["messages"]) messages.push_back({m["role"], m["content"]});
      o.add_generation_prompt = c["add_generation_prompt"];
      o.enable_thinking = c["enable_thinking"];
      auto got = RenderChat(*kind, messages, o);
      if (c.contains("error")) {
        EXPECT_FALSE(got.ok()) << t["template"] << ": " << c.dump();
        if (!got.ok()) {
          EXPECT_EQ(got.status().message(), c["error"].get<std::string>());
        }
        ++errors;
      } else {
        ASSERT_TRUE(got.ok()) << t["template"] << ": " << got.status().message();
        EXPECT_EQ(*got, c["text"].get<std::string>())
            << t["template"] << ": " << c["messages"].dump();
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 140);
  EXPECT_GE(errors, 4);  // Llama 2 refuses turns that do not alternate
}

TEST(ChatTemplateTest, DetectsTheFamilyFromTheTemplateText) {
  for (const char* name : {"llama2", "llama3", "qwen2", "chatml"}) {
    auto text =
        ReadFileToString(std::string(TRITIUM_SOURCE_DIR) + "/tests/data/chat/" + name + ".jinja");
    ASSERT_TRUE(text.ok());
    auto t = DetectChatTemplate(*text);
    ASSERT_TRUE(t.ok()) << name << ": " << t.status().message();
    EXPECT_STREQ(ChatTemplateName(*t), name);
  }
  const std::string qwen3 = SharedPath("tokenizers/qwen3/tokenizer_config.json");
  if (!FileExists(qwen3)) GTEST_SKIP() << "SKIPPED: " << qwen3 << " not found (set TRITIUM_SHARED)";
  auto text = ReadFileToString(qwen3);
  ASSERT_TRUE(text.ok());
  auto t = DetectChatTemplate(json::parse(*text)["chat_template"].get<std::string>());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(*t, ChatTemplate::kQwen3);
}

TEST(ChatTemplateTest, UnknownTemplatesAndNamesAreReported) {
  auto t = DetectChatTemplate("{% for m in messages %}<start_of_turn>{{ m.content }}{% endfor %}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
  auto n = ChatTemplateByName("vicuna");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("llama2, llama3, chatml, qwen2, qwen3"), std::string::npos);
  auto r = RenderChat(ChatTemplate::kChatMl, {{"tool", "x"}}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'tool'"), std::string::npos);
}

}  // namespace
}  // namespace tritium
