// tritium quantize end to end: the file it writes runs, describes itself, verifies its checksums,
// is byte-identical for any thread count, is refused when it lies, and never appears half-written.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "src/model/forward.h"
#include "src/model/gguf_model.h"
#include "tests/test_util.h"

namespace tritium {
namespace {

namespace fs = std::filesystem;

// A tensor whose ne[0] is 2^62 made 4 * ne[0] wrap to 0, so the size checks passed and validation
// read past the mapping (issue 13, item 1). Every dimension is now bounded before any product.
TEST(ModelGgufTest, HugeDimensionIsRefusedNotRead) {
  for (uint64_t big : {uint64_t{1} << 62, (uint64_t{1} << 62) + 1, (uint64_t{1} << 41)}) {
    GgufWriter w;
    w.Set("general.architecture", GgufValue::Str("llama"));
    const float data[4] = {1, 2, 3, 4};
    w.set_tensor_size_fn([](const std::map<std::string, GgufValue>&, const std::string&, uint32_t,
                            const std::vector<uint64_t>&) -> StatusOr<uint64_t> { return 16; });
    w.AddTensor("token_embd.weight", {big, 1}, kGgmlTypeF32, data, 16);
    const std::string path = ::tritium::testing::TempPath("huge_dim.gguf");
    ASSERT_TRUE(w.Write(path).ok());
    auto g = OpenModelGguf(path);
    ASSERT_FALSE(g.ok()) << big;
    EXPECT_NE(g.status().message().find("token_embd.weight"), std::string::npos)
        << g.status().message();
    EXPECT_NE(g.status().message().find("dimension"), std::string::npos) << g.status().message();
    std::remove(path.c_str());
  }
}
using ::tritium::testing::Quote;
using ::tritium::testing::RunTritium;
using ::tritium::testing::TempPath;

class QuantizeFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = ::tritium::testing::Shared("fixtures/hf/llama");
    if (model_.empty()) GTEST_SKIP() << "SKIPPED: shared fixtures/hf/llama missing";
    tok_ = ::tritium::testing::Shared("tokenizers/llama2/tokenizer.model");
  }
  std::string model_, tok_;
};

std::vector<float> Logits(const Model& m, const std::vector<int32_t>& ids, int threads) {
  ThreadPool pool(threads);
  Session s(m, &pool, 64);
  std::vector<float> logits;
  EXPECT_TRUE(s.Forward(ids.data(), static_cast<int64_t>(ids.size()), true, &logits).ok());
  return logits;
}

const std::vector<int32_t> kIds = {1, 17, 42, 99, 256, 300, 7, 511, 128, 64, 3, 250};

class GgufRoundTripTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufRoundTripTest, UnquantizedRoundTripKeepsTheModelExact) {
  // Everything kept at F32: the GGUF (for llama with q/k rows permuted for llama.cpp's interleaved
  // RoPE) must compute what the Hugging Face directory computes.
  TRITIUM_REQUIRE_SHARED(dir, "fixtures/hf/" + GetParam());
  std::string out = TempPath("keep_" + GetParam() + ".gguf");
  auto r = RunTritium("quantize " + Quote(dir) + " " + Quote(out) + " --tensor-type '*=keep'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  LoadOptions lo;
  lo.require_tokenizer = false;
  auto hf = Model::Load(dir, lo);
  auto gg = Model::Load(out, lo);
  ASSERT_TRUE(hf.ok() && gg.ok()) << gg.status().message();
  EXPECT_EQ((*gg)->config().arch, (*hf)->config().arch);
  EXPECT_EQ((*gg)->config().rope_style,
            GetParam() == "llama" ? RopeStyle::kInterleaved : RopeStyle::kHalf);
  EXPECT_EQ((*gg)->config().tie_embeddings, (*hf)->config().tie_embeddings);
  auto a = Logits(**hf, kIds, 2), b = Logits(**gg, kIds, 2);
  ASSERT_EQ(a.size(), b.size());
  float diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::fabs(a[i] - b[i]));
  EXPECT_LT(diff, 1e-4f);
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Architectures, GgufRoundTripTest,
                         ::testing::Values("llama", "qwen2", "qwen3"));

TEST_F(QuantizeFileTest, QuantizedFileRunsAndCountsBitsLikeInspect) {
  std::string out = TempPath("k2.gguf");
  auto r = RunTritium("quantize " + Quote(model_) + " " + Quote(out) +
                      " --method ptqtp --planes 2 --group 32 --json -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"bpw_linear", "bpw_file", "rel_weight_err", "seconds"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  // K=2, G=32: per group 2 fp16 scales + 2 planes of ceil(32/5) = 7 bytes -> 18 bytes / 32 weights.
  EXPECT_DOUBLE_EQ(j["bpw_linear"].get<double>(), 18.0 * 8 / 32);
  EXPECT_GT(j["rel_weight_err"].get<double>(), 0.0);
  EXPECT_LT(j["rel_weight_err"].get<double>(), 0.1);
  // inspect counts the same bits.
  auto ins = RunTritium("inspect " + Quote(out) + " --json --verify");
  ASSERT_EQ(ins.exit_code, 0) << ins.err;
  auto ij = nlohmann::json::parse(ins.out);
  EXPECT_DOUBLE_EQ(ij["bpw_quantized"].get<double>(), j["bpw_linear"].get<double>());
  EXPECT_EQ(ij["verified_tensors"].get<int>(), static_cast<int>(ij["tensors"].size()));
  // The quantized model runs and stays close to the float model on this random fixture.
  LoadOptions lo;
  lo.require_tokenizer = false;
  auto q = Model::Load(out, lo);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ((*q)->FindTensor("blk.0.attn_q.weight")->format->id, FormatId::kTritPlanes);
  EXPECT_EQ((*q)->FindTensor("token_embd.weight")->format->id, FormatId::kF32);
  auto logits = Logits(**q, kIds, 1);
  EXPECT_EQ(logits, Logits(**q, kIds, 3));
  fs::remove(out);
}

TEST_F(QuantizeFileTest, SameBytesForAnyThreadCount) {
  std::string a = TempPath("t1.gguf"), b = TempPath("t2.gguf");
  ASSERT_EQ(RunTritium("quantize " + Quote(model_) + " " + Quote(a) + " --group 32 -t 1").exit_code,
            0);
  ASSERT_EQ(RunTritium("quantize " + Quote(model_) + " " + Quote(b) + " --group 32 -t 3").exit_code,
            0);
  EXPECT_EQ(ReadFileToString(a).value(), ReadFileToString(b).value());
  fs::remove(a);
  fs::remove(b);
}

TEST_F(QuantizeFileTest, RecipeOverridesAndExcludes) {
  std::string out = TempPath("recipe.gguf");
  auto r = RunTritium(
      "quantize " + Quote(model_) + " " + Quote(out) +
      " --method rtn --bits 4 --group 32 --tensor-type 'blk.*.ffn_down.weight=Q8_0'"
      " --tensor-type 'blk.1.attn_q.weight=TRIT_PLANES:3' --exclude 'blk.0.attn_v.weight'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  LoadOptions lo;
  lo.require_tokenizer = false;
  auto q = Model::Load(out, lo);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const Model& m = **q;
  EXPECT_EQ(m.FindTensor("blk.0.ffn_down.weight")->format->id, FormatId::kQ8_0);
  EXPECT_EQ(m.FindTensor("blk.0.attn_k.weight")->format->id, FormatId::kIntG);
  EXPECT_EQ(m.FindTensor("blk.0.attn_k.weight")->params.bits, 4);
  EXPECT_EQ(m.FindTensor("blk.1.attn_q.weight")->format->id, FormatId::kTritPlanes);
  EXPECT_EQ(m.FindTensor("blk.1.attn_q.weight")->params.planes, 3);
  EXPECT_EQ(m.FindTensor("blk.0.attn_v.weight")->format->id, FormatId::kF32);
  fs::remove(out);
}

TEST_F(QuantizeFileTest, FailureLeavesNoOutputFile) {
  // Q8_0 needs rows that are multiples of 32; stories260K's FFN rows are 172 wide, so the run
  // fails partway, after other tensors were quantized.
  TRITIUM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  TRITIUM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  std::string out = TempPath("fail.gguf");
  auto r = RunTritium("quantize " + Quote(bin) + " " + Quote(out) + " --tokenizer " + Quote(tok) +
                      " --group 32 --tensor-type 'blk.*.ffn_down.weight=Q8_0'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("ffn_down"), std::string::npos) << r.err;
  EXPECT_FALSE(FileExists(out));
  for (auto& e : fs::directory_iterator(::testing::TempDir())) {
    EXPECT_EQ(e.path().string().find("fail.gguf.tmp"), std::string::npos) << e.path();
  }
  auto bad = RunTritium("quantize " + Quote(model_) + " /no/such/dir/out.gguf");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("/no/such/dir/out.gguf"), std::string::npos) << bad.err;
}

TEST_F(QuantizeFileTest, RefusesLyingFiles) {
  std::string out = TempPath("lie.gguf");
  ASSERT_EQ(RunTritium("quantize " + Quote(model_) + " " + Quote(out) + " --group 32").exit_code,
            0);
  std::string original = ReadFileToString(out).value();

  // An unknown tritium file version.
  {
    std::string s = original;
    std::string key = "tritium.file_version";
    size_t at = s.find(key);
    ASSERT_NE(at, std::string::npos);
    uint32_t v = 99;  // value follows the key and its u32 type tag
    std::memcpy(&s[at + key.size() + 4], &v, 4);
    std::ofstream(out, std::ios::binary | std::ios::trunc) << s;
    auto r = RunTritium("inspect " + Quote(out));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("version 99"), std::string::npos) << r.err;
  }
  // A flipped byte inside a tensor: --verify names the tensor.
  {
    std::string s = original;
    s[s.size() - 100] ^= 0x5a;
    std::ofstream(out, std::ios::binary | std::ios::trunc) << s;
    auto r = RunTritium("inspect " + Quote(out) + " --verify");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  }
  // A truncated file.
  {
    std::ofstream(out, std::ios::binary | std::ios::trunc)
        << original.substr(0, original.size() / 2);
    auto r = RunTritium("run " + Quote(out) + " -n 1");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_LT(r.exit_code, 128);
    EXPECT_NE(r.err.find(out), std::string::npos) << r.err;
  }
  fs::remove(out);
}

}  // namespace
}  // namespace tritium
