// The tritium binary end to end: bad input of every kind gets one clear error line naming the file
// and the problem and a non-zero exit, never a crash; and the verbs' JSON output carries the fields
// scripts rely on.
#include <gtest/gtest.h>

#include <filesystem>
#include <cstring>
#include <fstream>

#include "tests/test_util.h"

namespace tritium {
namespace {

namespace fs = std::filesystem;
using ::tritium::testing::Quote;
using ::tritium::testing::RunTritium;

// Expects failure with exactly one "tritium: error:" line mentioning every needle.
void ExpectCleanError(const ::tritium::testing::CommandResult& r,
                      const std::vector<std::string>& needles) {
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_LT(r.exit_code, 128) << "crashed: " << r.err;
  size_t lines = 0;
  for (size_t p = r.err.find("tritium: error:"); p != std::string::npos;
       p = r.err.find("tritium: error:", p + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << r.err;
  for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = ::tritium::testing::Shared("fixtures/hf/llama");
    if (src_.empty()) GTEST_SKIP() << "SKIPPED: shared fixtures/hf/llama missing";
    dir_ = ::testing::TempDir() + "/cli_model_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (auto& e : fs::directory_iterator(src_)) {
      fs::copy_file(e.path(), dir_ + "/" + e.path().filename().string());
      fs::permissions(dir_ + "/" + e.path().filename().string(), fs::perms::owner_all,
                      fs::perm_options::add);
    }
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void EditConfig(const std::string& from, const std::string& to) {
    std::string p = dir_ + "/config.json";
    std::string s = ReadFileToString(p).value();
    size_t at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
  }
  std::string src_, dir_;
};

TEST_F(CliTest, NonexistentPath) {
  ExpectCleanError(RunTritium("inspect /no/such/model"), {"/no/such/model"});
  ExpectCleanError(RunTritium("run /no/such/model.gguf -n 1"), {"/no/such/model.gguf"});
}

TEST_F(CliTest, TruncatedSafetensors) {
  fs::resize_file(dir_ + "/model.safetensors", 100000);
  ExpectCleanError(RunTritium("inspect " + Quote(dir_)), {"model.safetensors"});
}

TEST_F(CliTest, HeaderWhoseOffsetsLie) {
  // Rewrite the first data_offsets end to point far beyond the file, keeping the header length.
  std::string p = dir_ + "/model.safetensors";
  std::string s = ReadFileToString(p).value();
  size_t at = s.find("\"data_offsets\":[0,");
  ASSERT_NE(at, std::string::npos);
  size_t num = at + std::string("\"data_offsets\":[0,").size();
  size_t end = s.find(']', num);
  std::string repl = std::string(end - num, '9');
  s.replace(num, end - num, repl);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
  ExpectCleanError(RunTritium("inspect " + Quote(dir_)), {"model.safetensors", "data_offsets"});
}

TEST_F(CliTest, NanWeightIsRefused) {
  // Put a NaN into the first element of one matrix, found through the safetensors header.
  std::string p = dir_ + "/model.safetensors";
  std::string s = ReadFileToString(p).value();
  uint64_t header_len;
  std::memcpy(&header_len, s.data(), 8);
  auto header = nlohmann::json::parse(s.substr(8, header_len));
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  uint64_t begin = header[name]["data_offsets"][0].get<uint64_t>();
  const uint32_t nan_bits = 0x7fc00000u;
  std::memcpy(&s[8 + header_len + begin], &nan_bits, 4);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
  // inspect and quantize accept such a file (quantize counts and zeroes non-finite weights);
  // the engine refuses to run it.
  ExpectCleanError(RunTritium("run " + Quote(dir_) + " -n 1"),
                   {"model.safetensors", name, "non-finite"});
}

// Huge but finite weights overflow in the forward pass: a clear error, never NaN perplexity or
// token 0 forever (issue 13, item 5).
TEST_F(CliTest, OverflowingWeightsAreAnErrorNotGarbage) {
  std::string p = dir_ + "/model.safetensors";
  std::string s = ReadFileToString(p).value();
  uint64_t header_len;
  std::memcpy(&header_len, s.data(), 8);
  auto header = nlohmann::json::parse(s.substr(8, header_len));
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  ASSERT_EQ(header[name]["dtype"], "F32");
  const uint64_t begin = header[name]["data_offsets"][0].get<uint64_t>();
  const uint64_t end = header[name]["data_offsets"][1].get<uint64_t>();
  const float huge = 3e38f;
  for (uint64_t o = begin; o < end; o += 4) std::memcpy(&s[8 + header_len + o], &huge, 4);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
  // The fixture has no tokenizer; stories260K's has 512 tokens, like the fixture's vocabulary.
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  TRITIUM_REQUIRE_SHARED(text, "data/wikitext-2/wiki.test.raw");
  const std::string t = " --tokenizer " + Quote(tok);
  ExpectCleanError(RunTritium("run " + Quote(dir_) + t + " -n 4 --temp 0"), {"non-finite logit"});
  ExpectCleanError(
      RunTritium("ppl " + Quote(dir_) + " " + Quote(text) + t + " --ctx 64 --chunks 1"),
      {"non-finite logit"});
}

TEST_F(CliTest, MissingConfigKey) {
  EditConfig("\"hidden_size\"", "\"hidden_size_renamed\"");
  ExpectCleanError(RunTritium("inspect " + Quote(dir_)), {"config.json", "hidden_size"});
}

TEST_F(CliTest, UnknownArchitecture) {
  EditConfig("LlamaForCausalLM", "GPT2LMHeadModel");
  ExpectCleanError(RunTritium("inspect " + Quote(dir_)), {"config.json", "GPT2LMHeadModel"});
}

// A JSON value of the wrong type is an error naming the file and the key, not an abort.
TEST_F(CliTest, ConfigKeyOfTheWrongType) {
  EditConfig("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": \"yes\"");
  for (const char* verb : {"inspect ", "run "}) {
    ExpectCleanError(RunTritium(verb + Quote(dir_)), {"config.json", "tie_word_embeddings"});
  }
}

TEST_F(CliTest, ConfigNullMeansTheDefault) {
  EditConfig("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": null");
  auto r = RunTritium("inspect " + Quote(dir_));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// context_length is a 32-bit GGUF field: a larger max_position_embeddings is refused before
// anything is written, instead of making a file tritium itself refuses (issue 13, item 7).
TEST_F(CliTest, ContextTooLongForTheFileIsRefusedUpFront) {
  auto cfg = nlohmann::json::parse(ReadFileToString(dir_ + "/config.json").value());
  cfg["max_position_embeddings"] = int64_t{1} << 33;
  std::ofstream(dir_ + "/config.json", std::ios::trunc) << cfg.dump();
  const std::string out = dir_ + "/long.gguf";
  ExpectCleanError(RunTritium("quantize " + Quote(dir_) + " " + Quote(out) + " --method rtn"),
                   {"long.gguf", "context_length", "8589934592"});
  EXPECT_FALSE(FileExists(out));
}

TEST_F(CliTest, QuantizeRefusesToOverwriteItsInput) {
  const std::string out = dir_ + "/q.gguf";
  ASSERT_EQ(RunTritium("quantize " + Quote(dir_) + " " + Quote(out) + " --method rtn").exit_code,
            0);
  const std::string before = ReadFileToString(out).value();
  ExpectCleanError(RunTritium("quantize " + Quote(out) + " " + Quote(out) + " --method rtn"),
                   {"q.gguf", "output is the input"});
  EXPECT_EQ(ReadFileToString(out).value(), before);
}

// --json output with a file name that is not UTF-8: the bytes are replaced, the run still exits 0
// with one parseable object (it used to abort after writing the file).
TEST_F(CliTest, JsonSurvivesAPathThatIsNotUtf8) {
  const std::string out = dir_ + "/q\xff\xfe.gguf";
  auto r = RunTritium("quantize " + Quote(dir_) + " " + Quote(out) + " --method rtn --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_NE(j["output"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

// A llama2.c file longer than its header implies used to run (n_layers 5 -> 4) to garbage; the
// size must match exactly, and the message gives both numbers (issue 13, item 6).
TEST(CliLlama2c, SizeMustMatchTheHeaderExactly) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  std::string bytes = ReadFileToString(bin).value();
  const std::string padded = ::tritium::testing::TempPath("padded.bin");
  std::ofstream(padded, std::ios::binary | std::ios::trunc) << bytes << std::string(4, '\0');
  const std::string payload = std::to_string(bytes.size() - 28 + 4);
  const std::string floats = std::to_string((bytes.size() - 28) / 4);
  ExpectCleanError(RunTritium("run " + Quote(padded) + " --tokenizer " + Quote(tok) + " -n 1"),
                   {"padded.bin", payload + " bytes", "implies " + floats + " floats"});
  std::remove(padded.c_str());
}

TEST(CliVerbs, UnknownCommandIsNamedAndTheVerbsListed) {
  auto r = RunTritium("serv x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'serv'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("quantize"), std::string::npos) << r.err;
  auto t = RunTritium("synth llama2-7b /nonexistent-dir -t 5000");
  EXPECT_EQ(t.exit_code, 2) << t.err;
  EXPECT_NE(t.err.find("--threads"), std::string::npos) << t.err;
}

TEST_F(CliTest, TokenizerVocabularyDoesNotFitModel) {
  TRITIUM_REQUIRE_SHARED(tok, "tokenizers/llama2/tokenizer.model");
  // The fixture model has 512 rows; the Llama-2 tokenizer has 32000 tokens.
  ExpectCleanError(RunTritium("run " + Quote(dir_) + " --tokenizer " + Quote(tok) + " -n 1"),
                   {"tokenizer.model", "32000", "512"});
}

TEST_F(CliTest, BadSamplingAndAbsurdFlags) {
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  const std::string base = "run " + Quote(bin) + " --tokenizer " + Quote(tok);
  ExpectCleanError(RunTritium(base + " --temp nan -n 2"), {"--temp"});
  ExpectCleanError(RunTritium(base + " --top-p 1.5 -n 2"), {"--top-p"});
  for (const char* flags : {"-n -5", "-t 0", "--ctx 0", "--bogus-flag", "-n 999999999999"}) {
    auto r = RunTritium(base + " " + flags);
    EXPECT_NE(r.exit_code, 0) << flags;
    EXPECT_LT(r.exit_code, 128) << flags;
    EXPECT_NE(r.err.find("tritium: error:"), std::string::npos) << flags << ": " << r.err;
  }
  ExpectCleanError(RunTritium(base + " -n 600"), {"exceeds the context"});
}

TEST_F(CliTest, TextShorterThanOneWindow) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  std::string text = dir_ + "/short.txt";
  std::ofstream(text) << "Once upon a time.";
  ExpectCleanError(
      RunTritium("ppl " + Quote(bin) + " " + Quote(text) + " --tokenizer " + Quote(tok)),
      {"short.txt", "fewer than one window"});
}

TEST_F(CliTest, RunJsonHasDocumentedFields) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  auto r = RunTritium("run " + Quote(bin) + " --tokenizer " + Quote(tok) +
                      " -n 8 --temp 0 --json -p 'Once upon'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"prompt_tokens", "tokens", "text", "tokens_per_second"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["tokens"].size(), 8u);
  // Sampling with a seed is reproducible; greedy ignores the seed.
  auto a = RunTritium("run " + Quote(bin) + " --tokenizer " + Quote(tok) +
                      " -n 16 --temp 1 --seed 42 --json -t 1");
  auto b = RunTritium("run " + Quote(bin) + " --tokenizer " + Quote(tok) +
                      " -n 16 --temp 1 --seed 42 --json -t 2");
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(a.out)["tokens"], nlohmann::json::parse(b.out)["tokens"]);
}

TEST_F(CliTest, Stories260kGreedySampleThroughCli) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  auto r = RunTritium("run " + Quote(bin) + " --tokenizer " + Quote(tok) + " -n 64 --temp 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Once upon a time, there was a little girl named Lily.", 0), 0u) << r.out;
}

}  // namespace
}  // namespace tritium
