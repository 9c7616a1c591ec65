// Seed corpora for the fuzz targets (fuzz/*_fuzz.cc): small valid inputs of every reader, each
// checked here to be accepted by the same entry point its fuzzer calls. With TRITIUM_FUZZ_SEEDS
// set, the seeds are also written to $TRITIUM_FUZZ_SEEDS/<target>/ (scripts/fuzz.sh does this).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "src/base/file.h"
#include "src/eval/kld.h"
#include "src/io/gguf.h"
#include "src/io/safetensors.h"
#include "src/model/config.h"
#include "src/model/model.h"
#include "src/tokenizer/tokenizer_internal.h"
#include "tests/test_util.h"

namespace tritium {
namespace {

namespace fs = std::filesystem;
using ::tritium::testing::Quote;
using ::tritium::testing::RunTritium;

class FuzzSeedsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* out = std::getenv("TRITIUM_FUZZ_SEEDS");
    root_ = out != nullptr && *out ? out : ::tritium::testing::TempPath("seeds");
  }
  // Writes seed `name` of `target` and returns its path.
  std::string Seed(const std::string& target, const std::string& name, const std::string& bytes) {
    const std::string d = root_ + "/" + target;
    fs::create_directories(d);
    const std::string p = d + "/" + name;
    EXPECT_TRUE(WriteFileAtomically(p, bytes).ok()) << p;
    return p;
  }
  std::string root_;
};

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// A llama2.c checkpoint of dim 8, hidden 16, 1 layer, 2 heads, vocab 16, seq 4 (shared embedding).
std::string TinyLlama2c() {
  const int32_t h[7] = {8, 16, 1, 2, 2, 16, 4};
  std::string s(reinterpret_cast<const char*>(h), sizeof(h));
  const int64_t d = 8, f = 16, V = 16, head = 4;
  const int64_t n = V * d + d + d * d * 4 + d + 3 * f * d + d + 4 * head / 2 * 2;
  std::vector<float> w(static_cast<size_t>(n));
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i % 17) - 0.08f;
  return s + Bytes(w);
}

TEST_F(FuzzSeedsTest, Llama2c) {
  const std::string p = Seed("llama2c_fuzz", "tiny.bin", TinyLlama2c());
  LoadOptions o;
  o.require_tokenizer = false;
  auto m = Model::Load(p, o);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->config().n_layers, 1);
}

TEST_F(FuzzSeedsTest, GgufAndGgufModel) {
  // The container: every value type once, two tensors.
  GgufWriter w;
  w.Set("general.architecture", GgufValue::Str("llama"));
  w.Set("u8", GgufValue::U8(1));
  w.Set("i64", GgufValue::I64(-5));
  w.Set("f64", GgufValue::F64(0.5));
  w.Set("b", GgufValue::Bool(true));
  w.Set("strs", GgufValue::StrArray({"a", "bc"}));
  w.Set("f32s", GgufValue::F32Array({1.5f, -2}));
  std::vector<float> a = {1, 2, 3, 4}, b = {5, 6};
  w.AddTensor("a", {2, 2}, kGgmlTypeF32, a.data(), 16);
  w.AddTensor("b", {2}, kGgmlTypeF32, b.data(), 8);
  const std::string raw = Seed("gguf_fuzz", "values.gguf", "");
  ASSERT_TRUE(w.Write(raw).ok());
  ASSERT_TRUE(GgufFile::Open(raw).ok());

  // A model: the tiny llama2.c checkpoint with stories260K's tokenizer, written by quantize.
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  const std::string model = Seed("gguf_model_fuzz", "stories.gguf", "");
  auto r = RunTritium("quantize " + Quote(bin) + " --tokenizer " + Quote(tok) + " " + Quote(model) +
                      " --method ptqtp --planes 2 --group 32 --tensor-type " +
                      "'token_embd.weight=Q8_0'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = Model::Load(model);
  ASSERT_TRUE(m.ok()) << m.status().message();
  fs::copy_file(model, root_ + "/gguf_fuzz/stories.gguf", fs::copy_options::overwrite_existing);
  const std::string tiny = root_ + "/gguf_model_fuzz/tiny.gguf";
  const std::string tiny_bin = Seed("gguf_model_fuzz", "tiny.bin", TinyLlama2c());
  r = RunTritium("quantize " + Quote(tiny_bin) + " " + Quote(tiny) + " --method rtn --bits 4 " +
                 "--group 32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::remove(tiny_bin);
  LoadOptions o;
  o.require_tokenizer = false;
  ASSERT_TRUE(Model::Load(tiny, o).ok());
}

TEST_F(FuzzSeedsTest, Safetensors) {
  const std::string header = R"({"__metadata__": {"format": "pt"},)"
                             R"("a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},)"
                             R"("b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]},)"
                             R"("c": {"dtype": "F16", "shape": [2], "data_offsets": [20, 24]}})";
  std::string s(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(s.data(), &n, 8);
  s += header + Bytes({1, 2, 3, 4}) + std::string("\x80\x3f\x00\x40", 4) +
       std::string("\x00\x3c\x00\x40", 4);
  const std::string p = Seed("safetensors_fuzz", "small.safetensors", s);
  auto st = SafetensorsSet::Open(p);
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_EQ((*st)->tensors().size(), 3u);
}

TEST_F(FuzzSeedsTest, Config) {
  TRITIUM_REQUIRE_SHARED(cfg, "models/llama-docs-28m/config.json");
  const std::string p = Seed("config_fuzz", "llama-docs-28m.json", ReadFileToString(cfg).value());
  ASSERT_TRUE(ParseHfConfig(p).ok());
  const std::string q = Seed("config_fuzz", "qwen.json",
                             R"({"architectures": ["Qwen3ForCausalLM"], "hidden_size": 64,
                                 "intermediate_size": 128, "num_hidden_layers": 2,
                                 "num_attention_heads": 4, "num_key_value_heads": 2,
                                 "head_dim": 16, "vocab_size": 100, "rms_norm_eps": 1e-6,
                                 "rope_theta": 1000000.0, "max_position_embeddings": 256,
                                 "tie_word_embeddings": true, "bos_token_id": null,
                                 "eos_token_id": [1, 2]})");
  auto c = ParseHfConfig(q);
  ASSERT_TRUE(c.ok()) << c.status().message();
}

TEST_F(FuzzSeedsTest, Tokenizers) {
  namespace ti = tokenizer_internal;
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  const std::string l = ReadFileToString(tok).value();
  Seed("tokenizer_llama2c_fuzz", "tok512.bin", l);
  ASSERT_TRUE(ti::Llama2cFromBytes(l, -1, "tok512.bin").ok());

  TRITIUM_REQUIRE_SHARED(sp, "models/llama-docs-28m/tokenizer.model");
  const std::string s = ReadFileToString(sp).value();
  Seed("tokenizer_sentencepiece_fuzz", "llama-docs.model", s);
  ASSERT_TRUE(ti::SentencePieceFromBytes(s, "tokenizer.model").ok());

  const std::string j = R"({
    "version": "1.0",
    "added_tokens": [{"id": 6, "content": "<|endoftext|>", "special": true,
                      "single_word": false, "lstrip": false, "rstrip": false,
                      "normalized": false}],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                      "use_regex": true},
    "post_processor": null,
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "dropout": null, "unk_token": null,
              "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "\u0120": 4, "\u0120a": 5,
                        "<|endoftext|>": 6},
              "merges": ["a b", "\u0120 a"]}
  })";
  Seed("tokenizer_hf_json_fuzz", "tiny.json", j);
  auto t = ti::HfJsonFromBytes(j, "tokenizer.json", "", "");
  ASSERT_TRUE(t.ok()) << t.status().message();
}

TEST_F(FuzzSeedsTest, LogitsBase) {
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  TRITIUM_REQUIRE_SHARED(text, "data/tinystories/val100.txt");
  const std::string p = Seed("logits_base_fuzz", "two_windows.kldbase", "");
  for (const char* topk : {"8", "0"}) {
    auto r = RunTritium("ppl " + Quote(bin) + " --tokenizer " + Quote(tok) + " " + Quote(text) +
                        " --ctx 8 --chunks 2 --logits-top-k " + topk + " --save-logits " +
                        Quote(p + topk));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto b = LogitsBase::Open(p + topk);
    ASSERT_TRUE(b.ok()) << b.status().message();
    EXPECT_EQ((*b)->info().windows, 2);
  }
  fs::remove(p);
}

}  // namespace
}  // namespace tritium
