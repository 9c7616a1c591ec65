// The logits base and KL divergence: exact on synthetic distributions (and a lower bound of the
// full KL when the base keeps fewer than all tokens), zero for a model against its own base,
// positive for a damaged one, and every kind of broken or mismatched base file refused cleanly.
#include "src/eval/kld.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "src/base/file.h"
#include "src/base/paths.h"
#include "src/eval/evaluate.h"
#include "src/pipeline/quantize_model.h"

namespace tritium {
namespace {

namespace fs = std::filesystem;

std::string Temp(const std::string& name) {
  return ::testing::TempDir() + "/kld_test_" + std::to_string(::getpid()) + "_" + name;
}

// A synthetic run: `windows` windows of ctx positions over a vocabulary, random logits.
struct Synthetic {
  int64_t vocab = 40, ctx = 6, windows = 3;
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> base, model;  // per window [ctx x vocab]
  explicit Synthetic(uint32_t seed, double perturb) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0, 2);
    std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(vocab) - 1);
    for (int64_t i = 0; i < ctx * windows; ++i) ids.push_back(tok(rng));
    for (int64_t w = 0; w < windows; ++w) {
      std::vector<float> b(static_cast<size_t>(ctx * vocab)), m(b.size());
      for (size_t i = 0; i < b.size(); ++i) {
        b[i] = n(rng);
        m[i] = b[i] + static_cast<float>(perturb) * n(rng);
      }
      base.push_back(b);
      model.push_back(m);
    }
  }
  LogitsBaseInfo Info(int k) const {
    LogitsBaseInfo in;
    in.top_k = k;
    in.vocab = vocab;
    in.ctx = ctx;
    in.windows = windows;
    in.vocab_hash = 1234;
    in.model_name = "synthetic";
    return in;
  }
  std::vector<uint64_t> Hashes() const { return WindowHashes(ids, ctx, windows, false, -1); }
  Status Write(const std::string& path, int k) const {
    TRITIUM_ASSIGN_OR_RETURN(auto w, LogitsBaseWriter::Create(path, Info(k), Hashes()));
    for (int64_t i = 0; i < windows; ++i) {
      TRITIUM_RETURN_IF_ERROR(w->AddWindow(base[i].data(), &ids[i * ctx]));
    }
    return w->Commit();
  }
  // Full-vocabulary KL(base || model), averaged over scored positions, in double.
  double FullKld() const {
    double sum = 0;
    int64_t n = 0;
    for (int64_t w = 0; w < windows; ++w) {
      for (int64_t i = 0; i + 1 < ctx; ++i) {
        const float* b = &base[w][i * vocab];
        const float* m = &model[w][i * vocab];
        double zb = 0, zm = 0;
        for (int64_t j = 0; j < vocab; ++j) zb += std::exp(double{b[j]}), zm += std::exp(double{m[j]});
        double kl = 0;
        for (int64_t j = 0; j < vocab; ++j) {
          const double lp = b[j] - std::log(zb), lq = m[j] - std::log(zm);
          kl += std::exp(lp) * (lp - lq);
        }
        sum += kl;
        ++n;
      }
    }
    return sum / n;
  }
  StatusOr<KldResult> Compare(const LogitsBase& base_file) const {
    KldAccumulator acc(&base_file);
    for (int64_t w = 0; w < windows; ++w) acc.AddWindow(w, model[w].data(), &ids[w * ctx]);
    return acc.Finish();
  }
};

TEST(Kld, ExactWhenTheBaseKeepsEveryToken) {
  Synthetic s(1, 0.5);
  const std::string p = Temp("full");
  ASSERT_TRUE(s.Write(p, static_cast<int>(s.vocab)).ok());
  auto base = LogitsBase::Open(p);
  ASSERT_TRUE(base.ok()) << base.status().message();
  auto r = s.Compare(**base);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GT(r->kld_mean, 0.05);
  EXPECT_NEAR(r->kld_mean, s.FullKld(), 1e-6 * s.FullKld());
  EXPECT_EQ(r->tokens, s.windows * (s.ctx - 1));
  EXPECT_EQ(r->base_tail_mass, 0);
  fs::remove(p);
}

TEST(Kld, WholeDistributionsInFp16AreExactToRounding) {
  Synthetic s(6, 0.5);
  const std::string p = Temp("fp16");
  ASSERT_TRUE(s.Write(p, 0).ok());
  EXPECT_EQ(fs::file_size(p), 72 + 9 + 8 * 3 + 3 * 5 * (8 + 2 * 40) + 8);
  auto base = LogitsBase::Open(p);
  ASSERT_TRUE(base.ok()) << base.status().message();
  auto r = s.Compare(**base);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NEAR(r->kld_mean, s.FullKld(), 1e-3 * s.FullKld());
  EXPECT_FALSE(r->lower_bound);
  fs::remove(p);
}

TEST(Kld, TopKIsALowerBoundThatTightensWithK) {
  Synthetic s(2, 0.5);
  const double full = s.FullKld();
  double prev = 0;
  for (int k : {1, 4, 16, 39}) {
    const std::string p = Temp("k" + std::to_string(k));
    ASSERT_TRUE(s.Write(p, k).ok());
    auto base = LogitsBase::Open(p);
    ASSERT_TRUE(base.ok()) << base.status().message();
    auto r = s.Compare(**base);
    ASSERT_TRUE(r.ok());
    EXPECT_LE(r->kld_mean, full * (1 + 1e-6)) << k;
    EXPECT_GE(r->kld_mean, prev * (1 - 1e-6)) << k;  // coarser partitions lose information
    EXPECT_GT(r->base_tail_mass, 0) << k;
    prev = r->kld_mean;
    fs::remove(p);
  }
  EXPECT_GT(prev, 0.9 * full);
}

TEST(Kld, SelfComparisonIsZeroWithFullAgreement) {
  Synthetic s(3, 0.0);
  for (int k : {0, 8}) {
    const std::string p = Temp("self");
    ASSERT_TRUE(s.Write(p, k).ok());
    auto base = LogitsBase::Open(p);
    ASSERT_TRUE(base.ok());
    auto r = s.Compare(**base);
    ASSERT_TRUE(r.ok());
    EXPECT_NEAR(r->kld_mean, 0, 1e-6) << k;
    EXPECT_NEAR(r->kld_max, 0, 1e-5) << k;
    EXPECT_EQ(r->top1_agree, 1.0) << k;
    EXPECT_NEAR(r->ppl_ratio, 1, 1e-6) << k;
    fs::remove(p);
  }
}

TEST(Kld, RefusesAnotherTokenizerTextCtxOrMoreWindows) {
  Synthetic s(4, 0.1);
  const std::string p = Temp("compat");
  ASSERT_TRUE(s.Write(p, 4).ok());
  auto base = LogitsBase::Open(p);
  ASSERT_TRUE(base.ok());
  const auto hashes = s.Hashes();
  EXPECT_TRUE((*base)->CheckCompatible(s.Info(4), hashes).ok());
  auto expect_refused = [&](LogitsBaseInfo in, std::vector<uint64_t> h, const std::string& why) {
    Status st = (*base)->CheckCompatible(in, h);
    EXPECT_FALSE(st.ok()) << why;
    EXPECT_NE(st.message().find(p), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(why), std::string::npos) << st.message();
  };
  LogitsBaseInfo in = s.Info(4);
  in.vocab_hash ^= 1;
  expect_refused(in, hashes, "tokenizer");
  in = s.Info(4);
  in.ctx = 5;
  expect_refused(in, hashes, "--ctx");
  in = s.Info(4);
  in.windows = 4;
  expect_refused(in, {hashes[0], hashes[1], hashes[2], 7}, "--chunks");
  std::vector<uint64_t> other = hashes;
  other[1] ^= 1;
  expect_refused(s.Info(4), other, "another text");
  in = s.Info(4);
  in.windows = 2;  // a prefix of the base is fine
  EXPECT_TRUE((*base)->CheckCompatible(in, hashes).ok());
  fs::remove(p);
}

TEST(Kld, BrokenFilesAreErrorsNotCrashes) {
  Synthetic s(5, 0.1);
  const std::string p = Temp("broken");
  ASSERT_TRUE(s.Write(p, 4).ok());
  const std::string good = ReadFileToString(p).value();
  auto expect_bad = [&](const std::string& bytes, const std::string& why) {
    const std::string q = Temp("bad");
    std::ofstream(q, std::ios::binary | std::ios::trunc) << bytes;
    auto b = LogitsBase::Open(q);
    EXPECT_FALSE(b.ok()) << why;
    if (!b.ok()) {
      EXPECT_NE(b.status().message().find(q), std::string::npos) << why;
    }
    fs::remove(q);
  };
  // Every truncation, and a byte appended.
  for (size_t n = 0; n < good.size(); n += (n < 100 ? 1 : 37)) expect_bad(good.substr(0, n), "cut");
  expect_bad(good + "x", "extended");
  // Any flipped bit: the checksum.
  for (size_t at : {size_t{0}, size_t{13}, size_t{40}, good.size() / 2, good.size() - 1}) {
    std::string b = good;
    b[at] ^= 0x10;
    expect_bad(b, "flip at " + std::to_string(at));
  }
  // A lying writer: valid checksum, but an id out of range, or probabilities not summing to 1.
  auto reseal = [](std::string b) {
    const uint64_t h = XXH64(b.data(), b.size() - 8, 0);
    std::memcpy(&b[b.size() - 8], &h, 8);
    return b;
  };
  const size_t rec0 = 72 + 9 + 8 * static_cast<size_t>(s.windows);  // "synthetic" + hashes
  std::string b = good;
  const uint32_t huge = 1000;
  std::memcpy(&b[rec0 + 8], &huge, 4);
  expect_bad(reseal(b), "id out of range");
  b = good;
  const float lp = -0.01f;
  std::memcpy(&b[rec0 + 12], &lp, 4);
  expect_bad(reseal(b), "mass above 1");
  b = good;
  std::memcpy(&b[rec0 + 16], &b[rec0 + 8], 4);  // entry 1 repeats entry 0's id
  expect_bad(reseal(b), "repeated id");
  {
    // A header claiming 2^31 tokens: the reader must not size anything by it (it allocated
    // 16 GiB for a 104-byte file, issue 13 item 4).
    b = good;
    const int64_t vocab = int64_t{1} << 31;
    std::memcpy(&b[16], &vocab, 8);
    const std::string q = Temp("huge_vocab");
    std::ofstream(q, std::ios::binary | std::ios::trunc) << reseal(b);
    const uint64_t before = PeakRssBytes();
    auto opened = LogitsBase::Open(q);
    EXPECT_LT(PeakRssBytes(), before + (uint64_t{256} << 20));
    fs::remove(q);
  }
  // The same for whole distributions: a top-1 id out of range, a log-prob of +1.
  const std::string pf = Temp("broken_full");
  ASSERT_TRUE(s.Write(pf, 0).ok());
  const std::string full = ReadFileToString(pf).value();
  b = full;
  std::memcpy(&b[rec0 + 4], &huge, 4);
  expect_bad(reseal(b), "top-1 out of range");
  b = full;
  const uint16_t plus_one = 0x3c00;
  std::memcpy(&b[rec0 + 8 + 2 * 7], &plus_one, 2);
  expect_bad(reseal(b), "log p > 0");
  for (size_t n = 0; n < full.size(); n += 53) expect_bad(full.substr(0, n), "cut full");
  fs::remove(pf);
  // Sanity: resealing an untouched file keeps it valid (so the cases above test what they say).
  const std::string q = Temp("resealed");
  std::ofstream(q, std::ios::binary | std::ios::trunc) << reseal(good);
  EXPECT_TRUE(LogitsBase::Open(q).ok());
  fs::remove(q);
  fs::remove(p);
}

// A real model: stories260K against its own base is 0 with 100% top-1; its 2-bit RTN version is
// not, and the text or window mismatch is refused before anything runs.
TEST(Kld, Stories260KAgainstItself) {
  const std::string bin = SharedPath("models/stories260K/stories260K.bin");
  const std::string tok = SharedPath("models/stories260K/tok512.bin");
  const std::string txt = SharedPath("data/tinystories/val100.txt");
  for (const auto& f : {bin, tok, txt}) {
    if (!FileExists(f)) GTEST_SKIP() << "SKIPPED: shared asset missing: " << f;
  }
  LoadOptions lo;
  lo.tokenizer_path = tok;
  auto model = Model::Load(bin, lo);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const std::string text = ReadFileToString(txt).value();
  ThreadPool pool(2);
  const std::string p = Temp("stories.logits");
  EvaluateOptions o;
  o.ctx = 128;
  o.max_chunks = 6;
  o.save_logits = p;
  auto saved = EvaluateModel(**model, text, o, &pool);
  ASSERT_TRUE(saved.ok()) << saved.status().message();
  EXPECT_EQ(saved->saved_bytes, fs::file_size(p));
  EXPECT_GT(saved->saved_bytes, static_cast<uint64_t>(6 * 127 * (8 + 2 * 512)));

  o.save_logits.clear();
  o.max_chunks = 0;  // the base's window count
  o.kld_base = p;
  auto self = EvaluateModel(**model, text, o, &pool);
  ASSERT_TRUE(self.ok()) << self.status().message();
  ASSERT_TRUE(self->kld.has_value());
  EXPECT_EQ(self->ppl.windows, 6);
  EXPECT_NEAR(self->kld->kld_mean, 0, 1e-6);
  EXPECT_NEAR(self->kld->kld_p99, 0, 1e-5);
  EXPECT_EQ(self->kld->top1_agree, 1.0);
  EXPECT_NEAR(self->kld->ppl_base, saved->ppl.ppl, 1e-4 * saved->ppl.ppl);
  EXPECT_NEAR(self->kld->ppl_ratio, 1, 1e-6);

  const std::string q = Temp("stories-rtn2.gguf");
  QuantizeModelOptions qo;
  qo.quant.method = "rtn";
  qo.quant.bits = 2;
  qo.quant.group = 32;
  ASSERT_TRUE(QuantizeModel(**model, q, qo, &pool).ok());
  auto qm = Model::Load(q);
  ASSERT_TRUE(qm.ok()) << qm.status().message();
  auto damaged = EvaluateModel(**qm, text, o, &pool);
  ASSERT_TRUE(damaged.ok()) << damaged.status().message();
  EXPECT_GT(damaged->kld->kld_mean, 0.01);
  EXPECT_LT(damaged->kld->top1_agree, 0.99);
  EXPECT_GT(damaged->kld->ppl_ratio, 1.0);
  EXPECT_GE(damaged->kld->kld_p99, damaged->kld->kld_median);

  o.ctx = 64;
  auto wrong_ctx = EvaluateModel(**model, text, o, &pool);
  ASSERT_FALSE(wrong_ctx.ok());
  EXPECT_NE(wrong_ctx.status().message().find(p), std::string::npos);
  o.ctx = 128;
  auto wrong_text = EvaluateModel(**model, "Another text. " + text, o, &pool);
  ASSERT_FALSE(wrong_text.ok());
  EXPECT_NE(wrong_text.status().message().find("another text"), std::string::npos);
  fs::remove(p);
  fs::remove(q);
}

}  // namespace
}  // namespace tritium
