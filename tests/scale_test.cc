// Real-size behaviour, tested at small shapes: the streaming quantizer keeps resident memory flat
// in the number of layers, a quantized file loads without a second copy of its weights, a signal
// mid-write leaves no temporary file, synthetic checkpoints are deterministic, and the streaming
// rewrite kept the quantized bytes of llama-docs-28m identical.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "src/base/cpu_features.h"
#include "src/base/file.h"
#include "src/io/safetensors.h"
#include "src/model/model.h"
#include "tests/test_util.h"

namespace tritium {
namespace {

using testing::Quote;
using testing::RunTritium;
using testing::TempPath;

// Runs the tritium binary in a child and returns its exit status and peak resident memory.
struct ChildRun {
  int status = -1;
  uint64_t peak_rss = 0;
};
ChildRun RunChild(const std::vector<std::string>& args) {
  ChildRun r;
  std::fflush(nullptr);  // the child must not flush our buffered output again
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string bin = TRITIUM_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  wait4(pid, &st, 0, &ru);
  r.status = st;
  r.peak_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  return r;
}

std::string Sha256(const std::string& path) {
  std::string cmd = "sha256sum " + Quote(path);
  FILE* p = popen(cmd.c_str(), "r");
  char buf[65] = {};
  if (p == nullptr || std::fread(buf, 1, 64, p) != 64) buf[0] = 0;
  if (p != nullptr) pclose(p);
  return buf;
}

// A synthetic Llama of `layers` layers at hidden 1024 (vocab 4096, no tokenizer), made once per
// test process.
std::string Synth(int layers) {
  const std::string dir = TempPath("synth" + std::to_string(layers));
  if (!FileExists(JoinPath(dir, "config.json"))) {
    auto r = RunTritium("synth llama2-7b " + Quote(dir) + " --layers " + std::to_string(layers) +
                        " --hidden 1024 --intermediate 2816 --heads 16 --vocab 4096 -t 2");
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return dir;
}

TEST(ScaleTest, SynthIsDeterministicAndDistributedAsAsked) {
  const std::string a = TempPath("det_a"), b = TempPath("det_b");
  for (const auto& [dir, threads] : {std::pair{a, 1}, std::pair{b, 2}}) {
    auto r = RunTritium("synth tinyllama-1.1b " + Quote(dir) +
                        " --layers 1 --hidden 256 --intermediate 512 --heads 4 --kv-heads 2 "
                        "--vocab 1000 --shard-gb 0.001 -t " +
                        std::to_string(threads));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // --shard-gb 0.001 (1 MiB) forces several shards.
  auto set = SafetensorsSet::Open(a);
  ASSERT_TRUE(set.ok()) << set.status().message();
  int shards = 0;
  for (const char* f : {"config.json", "model.safetensors.index.json"}) {
    EXPECT_EQ(Sha256(JoinPath(a, f)), Sha256(JoinPath(b, f))) << f;
  }
  for (const auto& [name, t] : (*set)->tensors()) {
    const std::string shard = t.file.substr(t.file.rfind('/') + 1);
    EXPECT_EQ(Sha256(JoinPath(a, shard)), Sha256(JoinPath(b, shard))) << shard;
    if (shard.find("-of-00001") == std::string::npos) shards = 2;
  }
  EXPECT_GE(shards, 2) << "expected several shards";
  const StTensor* q = (*set)->Find("model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{256, 256}));
  auto v = StTensorToF32(*q, true);
  ASSERT_TRUE(v.ok());
  double s = 0, s2 = 0;
  for (float x : *v) s += x, s2 += static_cast<double>(x) * x;
  const double n = static_cast<double>(v->size()), mean = s / n;
  const double sd = std::sqrt(s2 / n - mean * mean);
  EXPECT_NEAR(sd, 0.02, 0.02 * 0.03);        // 65536 samples: 3% is > 10 standard errors
  EXPECT_NEAR(mean, 0.0, 0.02 * 5 / 256.0);  // 5 standard errors
  const StTensor* norm = (*set)->Find("model.layers.0.input_layernorm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ((*StTensorToF32(*norm, true))[17], 1.0f);
}

TEST(ScaleTest, QuantizePeakMemoryDoesNotGrowWithLayers) {
  const std::string m2 = Synth(2), m8 = Synth(8);
  for (const char* method : {"ptqtp", "rtn"}) {
    uint64_t peak[2];
    int i = 0;
    for (const std::string& m : {m2, m8}) {
      const std::string out = TempPath(std::string("flat_") + method + std::to_string(i) + ".gguf");
      ChildRun r = RunChild({"quantize", m, out, "--method", method, "-t", "2"});
      ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << method << " " << m;
      peak[i++] = r.peak_rss;
      std::remove(out.c_str());
    }
    // The 8-layer checkpoint is 4x the 2-layer one's layers (200 vs 50 MB of bf16, 400 vs 100 MB
    // widened): any per-layer residue would show.
    std::printf("%s: peak RSS 2 layers %.1f MB, 8 layers %.1f MB\n", method, peak[0] / 1e6,
                peak[1] / 1e6);
    EXPECT_LE(static_cast<double>(peak[1]), 1.25 * static_cast<double>(peak[0])) << method;
  }
}

TEST(ScaleTest, QuantizedFileLoadsWithoutASecondCopy) {
  const std::string m8 = Synth(8);
  const std::string out = TempPath("incore.gguf");
  auto q = RunTritium("quantize " + Quote(m8) + " " + Quote(out) + " --planes 2 -t 2");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  auto f = MappedFile::Open(out);
  ASSERT_TRUE(f.ok());
  const double file_bytes = static_cast<double>((*f)->size());
  f->reset();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // The child measures itself: resident memory added by loading.
    close(fds[0]);
    const double before = static_cast<double>(CurrentRssBytes());
    LoadOptions lo;
    lo.require_tokenizer = false;
    auto model = Model::Load(out, lo);
    double r[3] = {-1, 0, 0};
    if (model.ok()) {
      r[0] = static_cast<double>(CurrentRssBytes()) - before;
      r[1] = static_cast<double>((*model)->PreparedBytes());
      r[2] = static_cast<double>((*model)->TensorBytes());
    }
    (void)!write(fds[1], r, sizeof(r));
    _exit(0);
  }
  close(fds[1]);
  double r[3] = {-1, 0, 0};
  ASSERT_EQ(read(fds[0], r, sizeof(r)), static_cast<ssize_t>(sizeof(r)));
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  ASSERT_GE(r[0], 0) << "the child could not load " << out;
  if (r[1] == 0) GTEST_SKIP() << "no SIMD kernels on this CPU: nothing is repacked";
  std::printf("file %.1f MB, repacked %.1f MB, resident after load +%.1f MB\n", file_bytes / 1e6,
              r[1] / 1e6, r[0] / 1e6);
  // One copy: the repacked matrices (4.25 bits a weight for K=2) replace their file pages (3.5),
  // the rest of the file (BF16 embedding and head) stays mapped. Two copies would be the file plus
  // the repacked matrices.
  EXPECT_LT(r[0], file_bytes + 0.5 * r[1]);
  EXPECT_LT(r[0], 1.35 * file_bytes);
}

TEST(ScaleTest, SignalMidWriteLeavesNoTemporaryFile) {
  const std::string m8 = Synth(8);
  const std::string out = TempPath("killed.gguf");
  std::remove(out.c_str());
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(TRITIUM_BINARY, TRITIUM_BINARY, "quantize", m8.c_str(), out.c_str(), "--planes", "2",
          "-t", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string tmp = out + ".tmp." + std::to_string(pid);
  bool seen = false;
  for (int i = 0; i < 20000 && !seen; ++i) {  // up to 20 s
    seen = FileExists(tmp);
    if (!seen) usleep(1000);
  }
  ASSERT_TRUE(seen) << "the temporary file never appeared: " << tmp;
  usleep(200 * 1000);  // mid-write: the header is out, tensors are being written
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << "quantize finished before the signal; make the model larger";
  EXPECT_EQ(WTERMSIG(st), SIGTERM);
  EXPECT_FALSE(FileExists(tmp)) << tmp << " was left behind";
  EXPECT_FALSE(FileExists(out)) << out << " appeared though the run was killed";
}

// The quantized bytes of llama-docs-28m, as written before the streaming rewrite (commit
// 385bebd, recorded with `sha256sum` of the files the commands below wrote). Streaming changes
// when and how bytes are written, never which: a change here is a change of the method.
TEST(ScaleTest, QuantizedBytesOfTheDefaultModelAreUnchanged) {
  TRITIUM_REQUIRE_SHARED(model, "models/llama-docs-28m/config.json");
  const std::string dir = model.substr(0, model.rfind('/'));
  struct Case {
    const char* args;
    const char* sha256;
  };
  const Case cases[] = {
      {"--method ptqtp", "fe277b51be4bb67aa993d432ef81594a155c547ad57292ec4417e05ab0ddf360"},
      {"--method rtn", "3a20cbd52c3594dab1cc6e1aa1be9358a9d4dd24031b08094a8df9dc279bdde5"},
      {"--method gptq --calib-seqs 4 --calib-ctx 128",
       "084e25bf02bda522e6a8562b200da92f18912eb50e5c60be5aea707ec1d0bf02"},
      {"--method ptqtp-gptq-ls --calib-seqs 4 --calib-ctx 128",
       "8f1eadae05c4eae1d48b6035e9d621c440d4c8e3c4afcf27122bd923eb42fc2d"},
  };
  for (const Case& c : cases) {
    // Calibration runs the float forward pass, whose AVX2 tiles (FMA) and scalar twin round
    // differently; the pins were recorded with AVX2, which every machine of this project has.
    if (std::string(c.args).find("calib") != std::string::npos && !GetCpuFeatures().avx2_fma) {
      std::printf("SKIPPED %s: no AVX2 on this CPU, the pin was recorded with it\n", c.args);
      continue;
    }
    const std::string out = TempPath("pin.gguf");
    auto r = RunTritium("quantize " + Quote(dir) + " " + Quote(out) + " " + c.args + " -t 2");
    ASSERT_EQ(r.exit_code, 0) << c.args << ": " << r.err;
    EXPECT_EQ(Sha256(out), c.sha256) << c.args;
    std::remove(out.c_str());
  }
}

}  // namespace
}  // namespace tritium
