// tritium ppl --save-logits / --kld and tritium sweep end to end, and the bits accounting that
// quantize, inspect and sweep share: all three report the same bytes and bits per weight, and
// those bytes are what the formats' documented layouts add up to by hand (scales, zeros and
// padding included).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace tritium {
namespace {

namespace fs = std::filesystem;
using ::tritium::testing::Quote;
using ::tritium::testing::RunTritium;
using ::tritium::testing::TempPath;

class EvalCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bin_ = ::tritium::testing::Shared("models/stories260K/stories260K.bin");
    tok_ = ::tritium::testing::Shared("models/stories260K/tok512.bin");
    text_ = ::tritium::testing::Shared("data/tinystories/val100.txt");
    if (bin_.empty() || tok_.empty() || text_.empty()) {
      GTEST_SKIP() << "SKIPPED: shared stories260K or tinystories/val100.txt missing";
    }
    model_ = Quote(bin_) + " --tokenizer " + Quote(tok_);
  }
  nlohmann::json Json(const std::string& args) {
    auto r = RunTritium(args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    if (r.exit_code != 0) return {};
    return nlohmann::json::parse(r.out);
  }
  std::string bin_, tok_, text_, model_;
};

void ExpectCleanError(const ::tritium::testing::CommandResult& r,
                      const std::vector<std::string>& needles) {
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_LT(r.exit_code, 128) << "crashed: " << r.err;
  EXPECT_NE(r.err.find("tritium: error:"), std::string::npos) << r.err;
  for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
}

TEST_F(EvalCliTest, KldOfAModelAgainstItsOwnBaseIsZero) {
  const std::string base = TempPath("self.logits");
  const std::string ppl = "ppl " + model_ + " " + Quote(text_) + " --ctx 128 --json";
  auto saved = Json(ppl + " --chunks 5 --save-logits " + Quote(base));
  ASSERT_FALSE(saved.is_null());
  EXPECT_EQ(saved["saved_logits_bytes"].get<uint64_t>(), fs::file_size(base));
  // 8 + 2 V bytes per scored token (V = 512), plus a header under 1 KB for 5 windows.
  EXPECT_GE(fs::file_size(base), 5u * 127 * 1032);
  EXPECT_LT(fs::file_size(base), 5u * 127 * 1032 + 1024);
  auto self = Json(ppl + " --kld " + Quote(base));
  ASSERT_FALSE(self.is_null());
  EXPECT_EQ(self["windows"].get<int64_t>(), 5);  // the base's windows without --chunks
  EXPECT_NEAR(self["kld_mean"].get<double>(), 0, 1e-6);
  EXPECT_NEAR(self["kld_p99"].get<double>(), 0, 1e-5);
  EXPECT_EQ(self["top1_agree"].get<double>(), 1.0);
  EXPECT_NEAR(self["ppl_base"].get<double>(), saved["ppl"].get<double>(),
              1e-4 * saved["ppl"].get<double>());
  EXPECT_NEAR(self["ppl_ratio"].get<double>(), 1, 1e-6);
  for (const char* k : {"kld_se", "kld_median", "ppl_diff", "top1_agree_se", "base_tail_mass"}) {
    EXPECT_TRUE(self.contains(k)) << k;
  }
  EXPECT_FALSE(self["kld_is_lower_bound"].get<bool>());
  // The compact top-K form: 8 + 8 K bytes a token, also 0 against itself, flagged a lower bound.
  const std::string small = TempPath("self16.logits");
  ASSERT_FALSE(Json(ppl + " --chunks 2 --logits-top-k 16 --save-logits " + Quote(small)).is_null());
  EXPECT_GE(fs::file_size(small), 2u * 127 * 136);
  EXPECT_LT(fs::file_size(small), 2u * 127 * 136 + 1024);
  auto self16 = Json(ppl + " --kld " + Quote(small));
  EXPECT_NEAR(self16["kld_mean"].get<double>(), 0, 1e-6);
  EXPECT_EQ(self16["top1_agree"].get<double>(), 1.0);
  EXPECT_TRUE(self16["kld_is_lower_bound"].get<bool>());
  fs::remove(small);
  auto text = RunTritium("ppl " + model_ + " " + Quote(text_) + " --ctx 128 --kld " + Quote(base));
  EXPECT_EQ(text.exit_code, 0) << text.err;
  for (const char* s : {"KLD mean", "top-1 agree", "PPL base", "p99"}) {
    EXPECT_NE(text.out.find(s), std::string::npos) << s << " in " << text.out;
  }

  // Refusals name the file: another ctx, more windows than stored, a truncated base.
  ExpectCleanError(RunTritium("ppl " + model_ + " " + Quote(text_) + " --ctx 64 --kld " +
                              Quote(base)),
                   {base, "--ctx 128"});
  ExpectCleanError(RunTritium(ppl + " --chunks 6 --kld " + Quote(base)), {base, "--chunks"});
  const std::string cut = TempPath("cut.logits");
  fs::copy_file(base, cut, fs::copy_options::overwrite_existing);
  fs::resize_file(cut, fs::file_size(base) - 700);
  ExpectCleanError(RunTritium(ppl + " --kld " + Quote(cut)), {cut, "truncated"});
  fs::remove(base);
  fs::remove(cut);
}

// Hand count of the quantized bytes of stories260K (5 layers; wq, wo 64x64; wk, wv 32x64;
// w1, w3 172x64; w2 64x172), from the layouts documented in src/formats/*.h.
struct Expected {
  const char* config;
  int64_t bytes_cols64, bytes_cols172;  // bytes of one packed row
};

TEST_F(EvalCliTest, BitsAgreeAcrossQuantizeInspectAndSweepAndByHand) {
  const Expected cases[] = {
      // INT_G B=4 G=128: [fp16 s][fp16 m][B n / 8 bytes] per group; 172 = 128 + 44.
      {"rtn:bits=4,group=128", 4 + 32, (4 + 64) + (4 + 22)},
      // TRIT_PLANES K=2 G=32: [2 K bytes of scales][K planes of ceil(n/5) bytes]; 172 = 5x32 + 12.
      {"ptqtp:planes=2,group=32", 2 * (4 + 2 * 7), 5 * (4 + 2 * 7) + (4 + 2 * 3)},
  };
  const int64_t rows64 = 5 * (64 + 32 + 32 + 64 + 172 + 172), rows172 = 5 * 64;
  const int64_t params = 5 * (64 * 64 * 2 + 32 * 64 * 2 + 172 * 64 * 3);
  std::string list;
  for (const auto& c : cases) list += std::string(list.empty() ? "" : ";") + c.config;
  const std::string prefix = TempPath("sweep");
  auto sweep = Json("sweep " + model_ + " " + Quote(text_) + " --ctx 128 --chunks 3 --configs " +
                    Quote(list) + " -o " + Quote(prefix) + " --work-dir " +
                    Quote(TempPath("work")) + " --json");
  ASSERT_FALSE(sweep.is_null());
  ASSERT_EQ(sweep["rows"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const Expected& c = cases[i];
    SCOPED_TRACE(c.config);
    const uint64_t want = rows64 * c.bytes_cols64 + rows172 * c.bytes_cols172;
    const std::string method = std::string(c.config).substr(0, std::string(c.config).find(':'));
    const std::string out = TempPath(method + ".gguf");
    std::string flags = method == "rtn" ? "--bits 4 --group 128" : "--planes 2 --group 32";
    auto q = Json("quantize " + model_ + " " + Quote(out) + " --method " + method + " " + flags +
                  " --json");
    auto in = Json("inspect " + Quote(out) + " --json");
    ASSERT_FALSE(q.is_null() || in.is_null());
    const auto& s = sweep["rows"][i];
    EXPECT_EQ(q["params_quantized"].get<int64_t>(), params);
    EXPECT_EQ(s["quantized_params"].get<int64_t>(), params);
    EXPECT_EQ(in["quantized_parameters"].get<int64_t>(), params);
    EXPECT_EQ(s["quantized_bytes"].get<uint64_t>(), want);
    // Bits per weight of the quantized tensors: the same double from all three, and by hand.
    const double bpw = 8.0 * static_cast<double>(want) / static_cast<double>(params);
    EXPECT_EQ(q["bpw_linear"].get<double>(), bpw);
    EXPECT_EQ(in["bpw_quantized"].get<double>(), bpw);
    EXPECT_EQ(s["bpw_linear"].get<double>(), bpw);
    // The whole file: the same file size and parameter count.
    EXPECT_EQ(q["file_bytes"].get<uint64_t>(), fs::file_size(out));
    EXPECT_EQ(s["file_bytes"].get<uint64_t>(), fs::file_size(out));
    EXPECT_EQ(in["parameters"].get<int64_t>(), q["params_total"].get<int64_t>());
    const double bpw_file = 8.0 * fs::file_size(out) / in["parameters"].get<double>();
    EXPECT_EQ(q["bpw_file"].get<double>(), bpw_file);
    EXPECT_EQ(s["bpw_file"].get<double>(), bpw_file);
    // Per tensor, inspect's bytes add up to the same total.
    uint64_t sum = 0;
    for (const auto& t : in["tensors"]) {
      if (!t["method"].get<std::string>().empty()) sum += t["bytes"].get<uint64_t>();
    }
    EXPECT_EQ(sum, want);
    fs::remove(out);
  }
  // The outputs: a table, a CSV with a float row and one row per config, an SVG.
  const std::string md = ReadFileToString(prefix + ".md").value();
  const std::string csv = ReadFileToString(prefix + ".csv").value();
  const std::string svg = ReadFileToString(prefix + ".svg").value();
  EXPECT_NE(md.find("| float |"), std::string::npos) << md;
  EXPECT_NE(md.find("PTQTP K=2 g32"), std::string::npos) << md;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("RTN 4b g128"), std::string::npos);
  EXPECT_NE(svg.find("Pareto"), std::string::npos);
  EXPECT_FALSE(fs::exists(TempPath("work")));  // cleaned up
  for (const char* ext : {".md", ".csv", ".svg"}) fs::remove(prefix + ext);
}

TEST_F(EvalCliTest, SweepRefusesBadConfigs) {
  for (const char* bad : {"rtn:bits=5", "ptqtp:bits=4", "gptq:bits=4", "rtn:group=100",
                          "ptqtp:planes=2,colour=red", "rtn:bits"}) {
    ExpectCleanError(RunTritium("sweep " + model_ + " " + Quote(text_) + " --configs " +
                                Quote(bad) + " -o " + Quote(TempPath("never"))),
                     {"--configs"});
  }
  EXPECT_FALSE(fs::exists(TempPath("never") + ".md"));
}

}  // namespace
}  // namespace tritium
