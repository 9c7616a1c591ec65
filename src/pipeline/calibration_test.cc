// Calibration: the importance matrix file round trip and its refusal when it does not fit the
// model, Hessian accumulation against a plain sum, seeded window sampling, and the layer runner
// against the forward pass (stories260K, skipped when the shared model is missing).
#include "src/pipeline/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <unistd.h>

#include "src/base/file.h"
#include "src/base/paths.h"
#include "src/model/forward.h"

namespace tritium {
namespace {

std::string TempPath(const std::string& name) {
  return "/tmp/tritium_calib_test_" + std::to_string(getpid()) + "_" + name;
}

std::unique_ptr<Model> LoadStories() {
  const std::string bin = SharedPath("models/stories260K/stories260K.bin");
  const std::string tok = SharedPath("models/stories260K/tok512.bin");
  if (!FileExists(bin) || !FileExists(tok)) return nullptr;
  LoadOptions lo;
  lo.tokenizer_path = tok;
  auto m = Model::Load(bin, lo);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(*m) : nullptr;
}

TEST(Imatrix, RoundTrip) {
  Imatrix m;
  m.values["blk.0.attn_q.weight"] = {1.0f, 2.5f, 0.0f};
  m.values["blk.0.ffn_down.weight"] = {3.0f, 4.0f};
  m.tokens = 1234;
  m.text_hash = 0x0123456789abcdefULL;
  m.windows = 7;
  const std::string path = TempPath("rt.gguf");
  ASSERT_TRUE(SaveImatrix(path, m).ok());
  auto back = LoadImatrix(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->values, m.values);
  EXPECT_EQ(back->tokens, 1234);
  EXPECT_EQ(back->text_hash, m.text_hash);
  EXPECT_EQ(back->windows, 7);
  EXPECT_EQ(back->path, path);
  std::remove(path.c_str());
}

TEST(Imatrix, RefusesOneThatDoesNotFitTheModel) {
  auto model = LoadStories();
  if (!model) GTEST_SKIP() << "SKIPPED: shared asset missing: models/stories260K";
  // A correct one: every decoder linear, right sizes.
  Imatrix good;
  for (const Tensor& t : model->tensors()) {
    if (t.name.rfind("blk.", 0) == 0 && t.shape.size() == 2) {
      good.values[t.name] = std::vector<float>(static_cast<size_t>(t.cols()), 1.0f);
    }
  }
  const std::string path = TempPath("fit.gguf");
  ASSERT_TRUE(SaveImatrix(path, good).ok());
  auto loaded = LoadImatrix(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(CheckImatrix(*loaded, *model).ok());

  Imatrix wrong_shape = *loaded;
  wrong_shape.values["blk.0.ffn_down.weight"].push_back(1.0f);
  Status s = CheckImatrix(wrong_shape, *model);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("blk.0.ffn_down.weight"), std::string::npos) << s.message();

  Imatrix wrong_name = *loaded;
  wrong_name.values["blk.99.attn_q.weight"] = {1.0f};
  s = CheckImatrix(wrong_name, *model);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("blk.99.attn_q.weight"), std::string::npos) << s.message();

  Imatrix missing = *loaded;
  missing.values.erase("blk.1.attn_k.weight");
  s = CheckImatrix(missing, *model);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("blk.1.attn_k.weight"), std::string::npos) << s.message();
  std::remove(path.c_str());

  // Not an imatrix at all.
  EXPECT_FALSE(LoadImatrix(SharedPath("models/stories260K/stories260K.bin")).ok());
}

TEST(Hessian, MatchesPlainSumForAnyThreadCount) {
  const int64_t cols = 150, n = 37;
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  std::vector<float> x1(n * cols), x2(n * cols);
  for (auto& v : x1) v = g(rng);
  for (auto& v : x2) v = g(rng);
  ThreadPool one(1), two(2);
  HessianAccumulator a(cols), b(cols);
  a.Add(x1.data(), n, &one);
  a.Add(x2.data(), n, &one);
  b.Add(x1.data(), n, &two);
  b.Add(x2.data(), n, &two);
  const auto ha = a.Mean(), hb = b.Mean();
  EXPECT_EQ(ha, hb);
  EXPECT_EQ(b.TakeMean(), ha);  // in place, the same bits
  EXPECT_EQ(b.tokens(), 0);
  for (int64_t i = 0; i < cols; i += 13) {
    for (int64_t j = 0; j < cols; j += 11) {
      double s = 0;
      for (int64_t t = 0; t < n; ++t) {
        s += static_cast<double>(x1[t * cols + i]) * x1[t * cols + j];
        s += static_cast<double>(x2[t * cols + i]) * x2[t * cols + j];
      }
      EXPECT_NEAR(ha[i * cols + j], s / (2 * n), 1e-5);
      EXPECT_EQ(ha[i * cols + j], ha[j * cols + i]);
    }
  }
}

TEST(LayerRunner, MatchesTheForwardPassAndSamplingIsSeeded) {
  auto model = LoadStories();
  if (!model) GTEST_SKIP() << "SKIPPED: shared asset missing: models/stories260K";
  const std::string text = SharedPath("data/tinystories/val100.txt");
  if (!FileExists(text)) GTEST_SKIP() << "SKIPPED: shared asset missing: " << text;
  CalibrationOptions co;
  co.text_path = text;
  co.seqs = 3;
  co.ctx = 64;
  co.seed = 5;
  auto c1 = LoadCalibrationText(*model->tokenizer(), co);
  auto c2 = LoadCalibrationText(*model->tokenizer(), co);
  ASSERT_TRUE(c1.ok() && c2.ok());
  EXPECT_EQ(c1->windows, c2->windows);
  co.seed = 6;
  auto c3 = LoadCalibrationText(*model->tokenizer(), co);
  ASSERT_TRUE(c3.ok());
  EXPECT_NE(c1->windows, c3->windows);
  ASSERT_EQ(c1->windows.size(), 3u);

  ThreadPool pool(2);
  LayerRunner runner(*model, c1->windows, &pool);
  const int64_t layers = model->config().n_layers, d = model->config().hidden;
  for (int64_t l = 0; l < layers; ++l) {
    const LayerWeights& w = model->layers()[l];
    for (int s = 0; s < 4; ++s) {
      runner.RunStage(static_cast<int>(l), w, static_cast<LayerStage>(s), nullptr);
    }
    runner.Finish(static_cast<int>(l), w);
  }
  for (size_t i = 0; i < c1->windows.size(); ++i) {
    const auto& win = c1->windows[i];
    std::vector<float> last;
    Session session(*model, &pool, static_cast<int64_t>(win.size()));
    session.set_hidden_observer([&](int layer, const float* h, int64_t n) {
      if (layer == layers - 1) last.assign(h, h + n * d);
    });
    std::vector<float> logits;
    ASSERT_TRUE(session.Forward(win.data(), static_cast<int64_t>(win.size()), false, &logits).ok());
    const auto& mine = runner.residual(i);
    ASSERT_EQ(mine.size(), last.size());
    double err = 0, norm = 0;
    for (size_t j = 0; j < last.size(); ++j) {
      err += (mine[j] - last[j]) * (mine[j] - last[j]);
      norm += last[j] * last[j];
    }
    EXPECT_LT(std::sqrt(err / norm), 1e-5) << "window " << i;
  }
}

}  // namespace
}  // namespace tritium
