// Generation end to end: end-of-generation ids (a single eos, BOS for llama2.c stories, a list of
// eos ids from generation_config.json), stop strings and the streamed text, against the same
// generation run with --ignore-eos as the reference.
#include "src/model/generate.h"

#include <gtest/gtest.h>

#include <fstream>

#include "src/base/threads.h"
#include "src/model/chat_template.h"
#include "src/pipeline/synth.h"
#include "tests/test_util.h"

namespace tritium {
namespace {

struct Gen {
  GenerateResult r;
  std::string streamed;
};

Gen RunGen(const Model& m, const std::string& prompt, const GenerateOptions& go,
           SamplingParams sp) {
  ThreadPool pool(2);
  Session session(m, &pool, 512);
  Sampler sampler(sp);
  std::vector<int32_t> ids = m.tokenizer()->Encode(prompt, false);
  ids.insert(ids.begin(), m.config().bos_id);
  std::vector<int32_t> cached;
  Gen g;
  auto r =
      Generate(&session, *m.tokenizer(), &cached, ids, &sampler, go, [&](std::string_view piece) {
        g.streamed.append(piece);
        return true;
      });
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (r.ok()) g.r = *r;
  return g;
}

// Index of the first id of `ids` in `tokens`, or -1.
int FirstOf(const std::vector<int32_t>& tokens, const std::vector<int32_t>& ids) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (std::find(ids.begin(), ids.end(), tokens[i]) != ids.end()) return static_cast<int>(i);
  }
  return -1;
}

TEST(GenerateTest, StoriesStopAtTheEndOfAStory) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  LoadOptions lo;
  lo.tokenizer_path = tok;
  auto m = Model::Load(bin, lo);
  ASSERT_TRUE(m.ok()) << m.status().message();
  SamplingParams sp;
  sp.temperature = 0.9f;
  sp.seed = 7;
  GenerateOptions go;
  go.max_tokens = 480;
  go.eos_ids = EndOfGenerationIds(**m);
  // llama2.c stories: eos 2, and BOS (1) starts the next story.
  EXPECT_NE(std::find(go.eos_ids.begin(), go.eos_ids.end(), 1), go.eos_ids.end());
  EXPECT_NE(std::find(go.eos_ids.begin(), go.eos_ids.end(), 2), go.eos_ids.end());
  GenerateOptions ref_opts = go;
  ref_opts.ignore_eos = true;
  const Gen ref = RunGen(**m, "Once upon a time", ref_opts, sp);
  ASSERT_EQ(ref.r.tokens.size(), 480u);
  const int k = FirstOf(ref.r.tokens, go.eos_ids);
  ASSERT_GE(k, 0) << "the reference run never ended a story in 480 tokens";
  const Gen got = RunGen(**m, "Once upon a time", go, sp);
  EXPECT_EQ(got.r.finish_reason, "stop");
  ASSERT_EQ(got.r.tokens.size(), static_cast<size_t>(k + 1));
  EXPECT_TRUE(std::equal(got.r.tokens.begin(), got.r.tokens.end(), ref.r.tokens.begin()));
  EXPECT_EQ(got.streamed, got.r.text);
  EXPECT_EQ(ref.r.text.compare(0, got.r.text.size(), got.r.text), 0);
  EXPECT_EQ(ref.streamed, ref.r.text);
}

TEST(GenerateTest, StopStringsCutTheTextAndNothingPastThemIsStreamed) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  LoadOptions lo;
  lo.tokenizer_path = tok;
  auto m = Model::Load(bin, lo);
  ASSERT_TRUE(m.ok());
  SamplingParams sp;
  sp.temperature = 0;
  GenerateOptions go;
  go.max_tokens = 60;
  go.ignore_eos = true;
  const Gen ref = RunGen(**m, "Once upon a time", go, sp);
  ASSERT_GT(ref.r.text.size(), 80u);
  // A stop string from the middle of the reference text, made of two words (so it spans tokens).
  const size_t at = ref.r.text.find(' ', 40);
  ASSERT_NE(at, std::string::npos);
  const size_t end = ref.r.text.find(' ', ref.r.text.find(' ', at + 1) + 1);
  const std::string stop = ref.r.text.substr(at, end - at);
  const size_t first = ref.r.text.find(stop);
  go.stop = {"never appears in a story 123", stop};
  const Gen got = RunGen(**m, "Once upon a time", go, sp);
  EXPECT_EQ(got.r.finish_reason, "stop");
  EXPECT_EQ(got.r.text, ref.r.text.substr(0, first));
  EXPECT_EQ(got.streamed, got.r.text);
}

// A tiny random Llama with the Llama 2 tokenizer whose generation_config.json names a list of
// eos ids: generation stops at the second one.
TEST(GenerateTest, AnyIdOfAnEosListStops) {
  TRITIUM_REQUIRE_SHARED(tokdir, "tokenizers/llama2");
  const std::string dir = testing::TempPath("gen_eos_list");
  SynthShape s;
  s.name = "tiny";
  s.hidden = 64;
  s.intermediate = 128;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 4;
  s.head_dim = 16;
  s.vocab = 32000;
  s.tokenizer = "llama2";
  SynthOptions so;
  so.stddev = 0.3;  // peaked enough for greedy decoding to vary its tokens
  ThreadPool pool(2);
  auto w = WriteSynthCheckpoint(dir, s, so, &pool, nullptr);
  ASSERT_TRUE(w.ok()) << w.status().message();
  SamplingParams sp;
  sp.temperature = 0;
  GenerateOptions go;
  go.max_tokens = 40;
  go.ignore_eos = true;
  std::vector<int32_t> ref;
  {
    auto m = Model::Load(dir);
    ASSERT_TRUE(m.ok()) << m.status().message();
    ref = RunGen(**m, "Hello", go, sp).r.tokens;
  }
  ASSERT_EQ(ref.size(), 40u);
  // The first token that did not appear before position 3 becomes the second eos id.
  size_t k = 3;
  while (k < ref.size() && std::find(ref.begin(), ref.begin() + k, ref[k]) != ref.begin() + k) ++k;
  ASSERT_LT(k, ref.size());
  std::ofstream(dir + "/generation_config.json")
      << R"({"bos_token_id": 1, "eos_token_id": [2, )" << ref[k] << "]}";
  auto m = Model::Load(dir);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->config().eos_ids, (std::vector<int32_t>{2, ref[k]}));
  go.ignore_eos = false;
  go.eos_ids = EndOfGenerationIds(**m);
  const Gen got = RunGen(**m, "Hello", go, sp);
  EXPECT_EQ(got.r.finish_reason, "stop");
  EXPECT_EQ(got.r.tokens, std::vector<int32_t>(ref.begin(), ref.begin() + k + 1));
}

TEST(GenerateTest, ReusesTheCachedPrefixAndRefusesAnOverlongRequest) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  LoadOptions lo;
  lo.tokenizer_path = tok;
  auto m = Model::Load(bin, lo);
  ASSERT_TRUE(m.ok());
  ThreadPool pool(2);
  Session session(**m, &pool, 64);
  SamplingParams sp;
  sp.temperature = 0;
  Sampler sampler(sp);
  GenerateOptions go;
  go.max_tokens = 10;
  go.ignore_eos = true;
  std::vector<int32_t> cached;
  std::vector<int32_t> p1 = (*m)->tokenizer()->Encode("Once upon a time", true);
  auto a = Generate(&session, *(*m)->tokenizer(), &cached, p1, &sampler, go, nullptr);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->reused_tokens, 0);
  EXPECT_EQ(cached.size(), p1.size() + 9);  // the last sampled token is never fed
  std::vector<int32_t> p2 = cached;
  p2.push_back(a->tokens.back());
  auto b = Generate(&session, *(*m)->tokenizer(), &cached, p2, &sampler, go, nullptr);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->reused_tokens, static_cast<int64_t>(p2.size() - 1));
  go.max_tokens = 64;
  auto c = Generate(&session, *(*m)->tokenizer(), &cached, p1, &sampler, go, nullptr);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("exceeds the context of 64"), std::string::npos);
}

// A tiny random Qwen3 with the real Qwen3 tokenizer and template: the template is recognised, its
// control tokens are encoded as single ids, <|im_end|> ends generation, the template survives
// quantization into our GGUF, and `tritium chat` reuses the cache on the second turn.
TEST(ChatEndToEndTest, Qwen3TemplateTokensAndTwoTurns) {
  TRITIUM_REQUIRE_SHARED(tokdir, "tokenizers/qwen3");
  const std::string dir = testing::TempPath("chat_qwen3");
  auto shape = SynthShapeByName("qwen3-8b");
  ASSERT_TRUE(shape.ok());
  SynthShape s = *shape;
  s.hidden = 64;
  s.intermediate = 128;
  s.layers = 1;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 16;
  ThreadPool pool(2);
  auto w = WriteSynthCheckpoint(dir, s, SynthOptions(), &pool, nullptr);
  ASSERT_TRUE(w.ok()) << w.status().message();
  auto m = Model::Load(dir);
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::string note;
  bool warn = true;
  EXPECT_EQ(ResolveChatTemplate(**m, std::nullopt, &note, &warn), ChatTemplate::kQwen3);
  EXPECT_FALSE(warn) << note;
  const Tokenizer& tok = *(*m)->tokenizer();
  auto text = RenderChat(ChatTemplate::kQwen3, {{"user", "Hi there"}}, DefaultRenderOptions(tok));
  ASSERT_TRUE(text.ok());
  const std::vector<int32_t> ids = EncodeWithControlTokens(tok, *text);
  // <|im_start|> user \n Hi there <|im_end|> \n <|im_start|> assistant \n
  ASSERT_GE(ids.size(), 8u);
  EXPECT_EQ(ids.front(), 151644);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 151644), 2);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 151645), 1);
  // Between the control tokens, the text is encoded as the tokenizer encodes it alone.
  const std::vector<int32_t> user = tok.Encode("user\nHi there", false);
  EXPECT_TRUE(std::equal(user.begin(), user.end(), ids.begin() + 1));
  const std::vector<int32_t> eog = EndOfGenerationIds(**m);
  EXPECT_NE(std::find(eog.begin(), eog.end(), 151645), eog.end());  // <|im_end|>
  EXPECT_NE(std::find(eog.begin(), eog.end(), 151643), eog.end());  // <|endoftext|>

  const std::string gguf = dir + ".gguf";
  auto q = testing::RunTritium("quantize " + testing::Quote(dir) + " " + testing::Quote(gguf) +
                               " --method rtn --bits 8");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  auto mq = Model::Load(gguf);
  ASSERT_TRUE(mq.ok()) << mq.status().message();
  EXPECT_EQ((*mq)->chat_template(), (*m)->chat_template());

  const std::string in = dir + ".in", out = dir + ".out", err = dir + ".err";
  std::ofstream(in) << "Hello\nTell me more\n/exit\nnot read\n";
  const std::string cmd = std::string(TRITIUM_BINARY) + " chat " + testing::Quote(gguf) +
                          " --temp 0 -n 8 -t 2 <" + in + " >" + out + " 2>" + err;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string e = ReadFileToString(err).value();
  EXPECT_NE(e.find("chat template 'qwen3' (the model's)"), std::string::npos) << e;
  const size_t t1 = e.find("[prompt "), t2 = e.find("[prompt ", t1 + 1);
  ASSERT_NE(t2, std::string::npos) << e;
  EXPECT_EQ(e.find("[prompt ", t2 + 1), std::string::npos) << "read past /exit: " << e;
  EXPECT_NE(e.find("(0 reused", t1), t1 + std::string("[prompt ").size() + 2) << e;
  const size_t reused = std::stoul(e.substr(e.find('(', t2) + 1));
  EXPECT_GT(reused, 8u) << e;  // the whole first turn, at least
}

}  // namespace
}  // namespace tritium
