// llama.cpp's own quantized files run in tritium. The files in tests/data/ggml were quantized by
// llama.cpp (llama_model_quantize) from one tiny random Llama whose rows are multiples of 256, and
// llama.cpp's own outputs recorded beside them (reference.json, scripts/llamacpp/): its
// dequantization of every type, which tritium's decoders must reproduce bit for bit, and its
// logits. llama.cpp rounds activations to 8 bits in its quantized dot products (so do tritium's
// integer kernels, differently) and keeps the KV cache in fp16, so logits cannot agree exactly;
// they must agree well inside what the quantization itself moved them (llama.cpp on the file
// against llama.cpp on the float model), which a misdecoded block would not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "src/model/forward.h"
#include "src/base/file.h"
#include "src/model/gguf_model.h"
#include "tests/test_util.h"

namespace tritium {
namespace {

using ::tritium::testing::ReadF32File;
using ::tritium::testing::ReadJson;

const std::string kDir = std::string(TRITIUM_SOURCE_DIR) + "/tests/data/ggml/";

double Rms(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

class GgmlInteropTest : public ::testing::TestWithParam<std::string> {};

// tritium's reference decoders against llama.cpp's own dequantization of the same bytes
// (tiny-<type>.deq8.f32: the first 8 rows of every matrix, in name order, as llama.cpp's
// requantization to F32 wrote them): bit for bit.
TEST_P(GgmlInteropTest, DecodesAsLlamaCppDoes) {
  auto gguf = OpenModelGguf(kDir + "tiny-" + GetParam() + ".gguf");
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  std::vector<const GgufTensorInfo*> infos;
  for (const GgufTensorInfo& info : (*gguf)->tensors()) {
    if (info.dims.size() == 2) infos.push_back(&info);
  }
  std::sort(infos.begin(), infos.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->name < b->name; });
  const std::vector<float> want = ReadF32File(kDir + "tiny-" + GetParam() + ".deq8.f32");
  size_t at = 0;
  std::set<std::string> formats;
  for (const GgufTensorInfo* info : infos) {
    auto t = TensorFromGguf(**gguf, *info);
    ASSERT_TRUE(t.ok()) << t.status().message();
    formats.insert(t->format->name);
    const int64_t cols = t->cols(), rows = std::min<int64_t>(8, t->rows());
    const size_t rb = t->format->row_bytes(cols, t->params);
    std::vector<float> y(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      t->format->dequantize_row(t->data + r * rb, y.data(), cols, t->params);
      ASSERT_LE(at + cols, want.size());
      for (int64_t c = 0; c < cols; ++c, ++at) {
        ASSERT_EQ(y[c], want[at])
            << info->name << " (" << t->format->name << ") row " << r << " col " << c;
      }
    }
  }
  EXPECT_EQ(at, want.size());
  std::string all;
  for (const std::string& f : formats) all += f + " ";
  std::printf("%s decoded: %s\n", GetParam().c_str(), all.c_str());
}

TEST_P(GgmlInteropTest, LogitsMatchLlamaCpp) {
  const nlohmann::json ref = ReadJson(kDir + "reference.json");
  const std::vector<int32_t> ids = ref["input_ids"].get<std::vector<int32_t>>();
  const int64_t n = static_cast<int64_t>(ids.size()), V = ref["vocab"].get<int64_t>();
  LoadOptions lo;
  lo.require_tokenizer = false;
  auto model = Model::Load(kDir + "tiny-" + GetParam() + ".gguf", lo);
  ASSERT_TRUE(model.ok()) << model.status().message();
  ASSERT_EQ((*model)->config().vocab_size, V);
  const std::vector<float> want = ReadF32File(kDir + "tiny-" + GetParam() + ".logits.f32");
  const std::vector<float> f16 = ReadF32File(kDir + "tiny-f16.logits.f32");
  ASSERT_EQ(want.size(), static_cast<size_t>(n * V));
  ASSERT_EQ(f16.size(), want.size());
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    Session s(**model, &pool, 64);
    std::vector<float> logits;
    ASSERT_TRUE(s.Forward(ids.data(), n, true, &logits).ok());
    const double ours = Rms(logits, want), quant = Rms(want, f16);
    // The quantization must have moved the logits visibly, or the comparison proves nothing.
    ASSERT_GT(quant, 1e-3) << GetParam();
    EXPECT_LT(ours, 0.5 * quant) << GetParam() << ": rms distance to llama.cpp " << ours
                                 << ", llama.cpp's quantization effect " << quant;
    std::printf("%-8s threads %d: rms to llama.cpp %.5f, llama.cpp's quantization effect %.5f\n",
                GetParam().c_str(), threads, ours, quant);
  }
}

INSTANTIATE_TEST_SUITE_P(LlamaCppFiles, GgmlInteropTest,
                         ::testing::Values("q4_0", "q4_1", "q5_0", "q5_1", "q2_K", "q3_K_S",
                                           "q4_K_M", "q5_K_M", "q6_K", "iq4_nl", "iq4_xs",
                                           "tq1_0", "tq2_0"));

// A file with a type tritium cannot read is refused with the file, the tensor, and the type's name
// and number: llama.cpp's Q2_K file with one tensor relabelled IQ2_XXS (id 16).
TEST(GgmlInteropTest, UnreadableTypeInAFileIsNamed) {
  auto bytes = ReadFileToString(kDir + "tiny-q2_K.gguf");
  ASSERT_TRUE(bytes.ok());
  // Tensor info: name (u64 length + bytes), n_dims (u32), dims (u64 each), type (u32), offset.
  const std::string name = "blk.0.attn_q.weight";
  const size_t at = bytes->find(name + std::string("\x02\0\0\0", 4));
  ASSERT_NE(at, std::string::npos);
  const size_t type_at = at + name.size() + 4 + 2 * 8;
  ASSERT_EQ(static_cast<uint8_t>((*bytes)[type_at]), 10);  // Q2_K
  (*bytes)[type_at] = 16;
  const std::string path = ::tritium::testing::TempPath("iq2.gguf");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
  }
  LoadOptions lo;
  lo.require_tokenizer = false;
  auto model = Model::Load(path, lo);
  ASSERT_FALSE(model.ok());
  const std::string msg(model.status().message());
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("'blk.0.attn_q.weight' has ggml type IQ2_XXS (id 16)"), std::string::npos)
      << msg;
  std::remove(path.c_str());
}

// Requantizing llama.cpp's Q4_K_M file to trit-planes works, says the source bounds the quality,
// and the result runs.
TEST(GgmlInteropTest, RequantizesFromAGgmlFile) {
  using ::tritium::testing::Quote;
  using ::tritium::testing::RunTritium;
  const std::string out = ::tritium::testing::TempPath("requant.gguf");
  auto q = RunTritium("quantize " + Quote(kDir + "tiny-q4_K_M.gguf") + " " + Quote(out) +
                      " --method ptqtp");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.err.find("bounded by the source"), std::string::npos) << q.err;
  LoadOptions lo;
  lo.require_tokenizer = false;
  auto model = Model::Load(out, lo);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->FindTensor("blk.0.ffn_up.weight")->format->id, FormatId::kTritPlanes);
  auto r = RunTritium("run " + Quote(out) + " -p 'Once upon a time' -n 8 --temp 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::remove(out.c_str());
}

// Types whose tables tritium does not carry are refused by name and number, naming the file.
TEST(GgmlInteropTest, UnreadableTypesAreRefusedByName) {
  for (uint32_t id : {16u, 19u, 29u}) {
    const char* name = GgmlTypeName(id);
    ASSERT_NE(name, nullptr);
    EXPECT_EQ(FindFormatByRawId(id), nullptr) << name;
  }
  EXPECT_STREQ(GgmlTypeName(14), "Q6_K");
  EXPECT_EQ(GgmlTypeName(4000), nullptr);
}

}  // namespace
}  // namespace tritium
