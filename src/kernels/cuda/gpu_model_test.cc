// The whole model on the GPU against the CPU Session: perplexity of the 28M model (as shipped, and
// quantized to TRIT_PLANES K=2 and INT_G 4-bit) within 0.1% on a few windows, and decode logits
// (the GEMV path) against prefill and the CPU. Skips without a CUDA device or the shared assets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "src/base/file.h"
#include "src/base/paths.h"
#include "src/base/threads.h"
#include "src/eval/perplexity.h"
#include "src/gpu/forward_gpu.h"
#include "src/model/forward.h"
#include "src/pipeline/quantize_model.h"

namespace tritium {
namespace {

constexpr int64_t kCtx = 256;
constexpr int64_t kWindows = 4;
constexpr size_t kTextBytes = 64 * 1024;  // enough for kWindows windows, quick to tokenize

class GpuModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto n = cuda::DeviceCount();
    if (!n.ok()) GTEST_SKIP() << "SKIPPED: no CUDA device (" << n.status().message() << ")";
    // The CPU side is the float engine (dequantize + fp32 dots), not the int8-activation kernels:
    // the GPU is held to the reference, and the CPU's own activation rounding would blur the
    // comparison. Read once per process, before the first MatMul (ctest runs each test alone).
    setenv("TRITIUM_CPU", "scalar", /*overwrite=*/1);
    model_dir_ = SharedPath("models/llama-docs-28m");
    text_path_ = SharedPath("data/wikitext-2/wiki.test.raw");
    if (!FileExists(model_dir_ + "/config.json")) {
      GTEST_SKIP() << "SKIPPED: shared asset missing: " << model_dir_;
    }
    if (!FileExists(text_path_)) GTEST_SKIP() << "SKIPPED: shared asset missing: " << text_path_;
  }

  std::unique_ptr<Model> LoadOrDie(const std::string& path) {
    auto m = Model::Load(path);
    EXPECT_TRUE(m.ok()) << path << ": " << m.status().message();
    return m.ok() ? std::move(m).value() : nullptr;
  }

  std::vector<int32_t> Ids(const Model& m) {
    auto text = ReadFileToString(text_path_);
    EXPECT_TRUE(text.ok());
    std::string t = text->substr(0, kTextBytes);
    return m.tokenizer()->Encode(t, /*add_bos=*/true);
  }

  // The CPU protocol of ComputePerplexity, on the GPU session.
  double GpuPerplexity(const Model& m, const std::vector<int32_t>& ids, cuda::GemmPath path) {
    auto s = CreateGpuSession(m, kCtx);
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return 0;
    (*s)->set_gemm_path(path);
    const int64_t vocab = m.config().vocab_size;
    std::vector<float> logits;
    double sum = 0;
    int64_t scored = 0;
    for (int64_t w = 0; w < kWindows; ++w) {
      const int32_t* win = ids.data() + w * kCtx;
      (*s)->Reset();
      Status st = (*s)->Forward(win, kCtx, /*all_logits=*/true, &logits);
      EXPECT_TRUE(st.ok()) << st.message();
      if (!st.ok()) return 0;
      for (int64_t i = 0; i + 1 < kCtx; ++i) {
        sum -= LogProb(&logits[i * vocab], vocab, win[i + 1]);
        ++scored;
      }
    }
    return std::exp(sum / static_cast<double>(scored));
  }

  void ComparePerplexity(const Model& m, const std::string& what) {
    std::vector<int32_t> ids = Ids(m);
    ASSERT_GE(static_cast<int64_t>(ids.size()), kCtx * kWindows);
    ThreadPool pool;
    PerplexityOptions opts;
    opts.ctx = kCtx;
    opts.max_chunks = kWindows;
    auto cpu = ComputePerplexity(m, ids, opts, &pool);
    ASSERT_TRUE(cpu.ok()) << cpu.status().message();
    for (cuda::GemmPath p : {cuda::GemmPath::kAuto, cuda::GemmPath::kDequantCublas}) {
      const double gpu = GpuPerplexity(m, ids, p);
      std::printf("%s: CPU ppl %.5f, GPU ppl %.5f (path %d), rel diff %.2e\n", what.c_str(),
                  cpu->ppl, gpu, static_cast<int>(p), std::fabs(gpu / cpu->ppl - 1));
      EXPECT_NEAR(gpu / cpu->ppl, 1.0, 1e-3) << what << " path " << static_cast<int>(p);
    }
  }

  std::string Quantized(const Model& m, const std::string& method, int planes, int bits) {
    const std::string out = ::testing::TempDir() + "/gpu_model_test_" + std::to_string(getpid()) +
                            "_" + method + ".gguf";
    QuantizeModelOptions o;
    o.quant.method = method;
    o.quant.planes = planes;
    o.quant.bits = bits;
    o.quant.group = 128;
    ThreadPool pool;
    auto r = QuantizeModel(m, out, o, &pool);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return out;
  }

  std::string model_dir_, text_path_;
};

TEST_F(GpuModelTest, SourceModelPerplexityMatchesCpu) {
  auto m = LoadOrDie(model_dir_);
  ASSERT_NE(m, nullptr);
  ComparePerplexity(*m, "llama-docs-28m (fp32)");
}

TEST_F(GpuModelTest, TritPlanesK2PerplexityMatchesCpu) {
  auto src = LoadOrDie(model_dir_);
  ASSERT_NE(src, nullptr);
  const std::string path = Quantized(*src, "ptqtp", 2, 0);
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  ComparePerplexity(*m, "llama-docs-28m TRIT_PLANES K=2 G=128");
  std::remove(path.c_str());
}

TEST_F(GpuModelTest, Int4PerplexityMatchesCpu) {
  auto src = LoadOrDie(model_dir_);
  ASSERT_NE(src, nullptr);
  const std::string path = Quantized(*src, "rtn", 0, 4);
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  ComparePerplexity(*m, "llama-docs-28m INT_G B=4 G=128");
  std::remove(path.c_str());
}

// Token-by-token decode (GEMV path, attention over a growing cache) against one prefill on the GPU
// and against the CPU session.
TEST_F(GpuModelTest, DecodeMatchesPrefillAndCpu) {
  auto src = LoadOrDie(model_dir_);
  ASSERT_NE(src, nullptr);
  const std::string path = Quantized(*src, "ptqtp", 2, 0);
  auto m = LoadOrDie(path);
  ASSERT_NE(m, nullptr);
  std::vector<int32_t> ids = Ids(*m);
  constexpr int64_t kN = 24;
  ids.resize(kN);
  const int64_t vocab = m->config().vocab_size;
  auto gpu = CreateGpuSession(*m, 64);
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  std::vector<float> prefill, step, cpu_logits;
  ASSERT_TRUE((*gpu)->Forward(ids.data(), kN, true, &prefill).ok());
  (*gpu)->Reset();
  ThreadPool pool;
  Session cpu(*m, &pool, 64);
  double max_prefill = 0, max_cpu = 0, max_abs = 0;
  // Steps of 1, 2, 3 and 5 tokens: every GEMV token count up to 4 and the loop beyond it.
  for (int64_t at = 0, k = 0; at < kN; ++k) {
    const int64_t step_n = std::min<int64_t>(std::vector<int64_t>{1, 2, 3, 5}[k % 4], kN - at);
    ASSERT_TRUE((*gpu)->Forward(ids.data() + at, step_n, true, &step).ok());
    ASSERT_TRUE(cpu.Forward(ids.data() + at, step_n, true, &cpu_logits).ok());
    for (int64_t i = 0; i < step_n * vocab; ++i) {
      max_prefill = std::max<double>(max_prefill, std::fabs(step[i] - prefill[at * vocab + i]));
      max_cpu = std::max<double>(max_cpu, std::fabs(step[i] - cpu_logits[i]));
      max_abs = std::max<double>(max_abs, std::fabs(cpu_logits[i]));
    }
    at += step_n;
  }
  std::printf("decode vs prefill max |diff| %.3e, vs CPU %.3e (max |logit| %.2f)\n", max_prefill,
              max_cpu, max_abs);
  EXPECT_LT(max_prefill, 2e-2 * std::max(1.0, max_abs));
  EXPECT_LT(max_cpu, 2e-2 * std::max(1.0, max_abs));
  EXPECT_EQ((*gpu)->pos(), kN);
  std::remove(path.c_str());
}

TEST(GpuSessionNoDevice, FactoryExplainsMissingDevice) {
  // Runs only where there is no device: the factory must fail with a message saying so.
  if (cuda::DeviceCount().ok()) GTEST_SKIP() << "SKIPPED: a CUDA device is present";
  const std::string dir = SharedPath("models/llama-docs-28m");
  if (!FileExists(dir + "/config.json")) GTEST_SKIP() << "SKIPPED: shared asset missing: " << dir;
  auto m = Model::Load(dir);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto s = CreateGpuSession(**m, 64);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("no CUDA device"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace tritium
