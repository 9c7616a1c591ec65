// The malformed-input corpus (issue 13, docs/reliability.md): every reader of untrusted bytes gets
// files that are truncated, lie about sizes, overflow dimensions, carry wrong types, bad UTF-8,
// duplicate keys, NaN/Inf/huge values. Each case is made here from a valid file of the shared
// models (or by hand, byte by byte) and run through the CLI; each must end with one clear error
// line that names the bad file, a non-zero exit without a crash, and no output file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/base/file.h"
#include "src/io/gguf.h"
#include "src/model/gguf_model.h"
#include "tests/test_util.h"

namespace tritium {
namespace {

namespace fs = std::filesystem;
using ::tritium::testing::Quote;
using ::tritium::testing::RunTritium;

std::string Read(const std::string& p) { return ReadFileToString(p).value(); }
void Write(const std::string& p, const std::string& bytes) {
  ASSERT_TRUE(WriteFileAtomically(p, bytes).ok()) << p;
}

// ---- raw GGUF bytes, for the container's own structure ----

struct RawGguf {
  std::string b;
  RawGguf& U32(uint32_t v) { return Put(&v, 4); }
  RawGguf& U64(uint64_t v) { return Put(&v, 8); }
  RawGguf& F32(float v) { return Put(&v, 4); }
  RawGguf& Str(const std::string& s) {
    U64(s.size());
    b += s;
    return *this;
  }
  RawGguf& Put(const void* p, size_t n) {
    b.append(static_cast<const char*>(p), n);
    return *this;
  }
  // "GGUF", version, tensor count, kv count.
  static RawGguf Header(uint32_t version, uint64_t tensors, uint64_t kvs) {
    RawGguf g;
    g.b = "GGUF";
    g.U32(version).U64(tensors).U64(kvs);
    return g;
  }
};

// ---- rewriting a valid GGUF with one change ----

struct GgufParts {
  std::map<std::string, GgufValue> meta;
  struct T {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    std::string data;
  };
  std::vector<T> tensors;
};

void RewriteGguf(const std::string& src, const std::string& dst,
                 const std::function<void(GgufParts*)>& edit) {
  auto g = OpenModelGguf(src);
  ASSERT_TRUE(g.ok()) << g.status().message();
  GgufParts p;
  p.meta = (*g)->metadata();
  for (const GgufTensorInfo& t : (*g)->tensors()) {
    p.tensors.push_back(
        {t.name, t.dims, t.type, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)});
  }
  edit(&p);
  GgufWriter w;
  // Sizes are written as given: some cases make them lie.
  std::map<std::string, uint64_t> sizes;
  for (const auto& t : p.tensors) sizes[t.name] = t.data.size();
  w.set_tensor_size_fn([&](const auto&, const std::string& name, uint32_t, const auto&) {
    return StatusOr<uint64_t>(sizes[name]);
  });
  for (const auto& [k, v] : p.meta) w.Set(k, v);
  for (const auto& t : p.tensors) w.AddTensor(t.name, t.dims, t.type, t.data.data(), t.data.size());
  ASSERT_TRUE(w.Write(dst).ok());
}

GgufParts::T* FindT(GgufParts* p, const std::string& name) {
  for (auto& t : p->tensors) {
    if (t.name == name) return &t;
  }
  ADD_FAILURE() << "no tensor " << name;
  return &p->tensors[0];
}

// ---- safetensors by hand ----

std::string Safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

class MalformedInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bin_ = ::tritium::testing::Shared("models/stories260K/stories260K.bin");
    tok_ = ::tritium::testing::Shared("models/stories260K/tok512.bin");
    hf_ = ::tritium::testing::Shared("models/llama-docs-28m");
    if (bin_.empty() || tok_.empty() || hf_.empty()) return;
    dir_ = ::tritium::testing::TempPath("malformed");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    gguf_ = dir_ + "/base.gguf";
    auto r = RunTritium("quantize " + Quote(bin_) + " --tokenizer " + Quote(tok_) + " " +
                        Quote(gguf_) + " --method rtn --bits 4 --group 32");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (bin_.empty() || tok_.empty() || hf_.empty()) {
      GTEST_SKIP() << "SKIPPED: shared stories260K or llama-docs-28m missing (set TRITIUM_SHARED)";
    }
    case_dir_ = dir_ + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(case_dir_);
    fs::create_directories(case_dir_);
  }

  // A Hugging Face directory of llama-docs-28m whose files are links, except those a case
  // rewrites.
  std::string HfCopy() {
    const std::string d = case_dir_ + "/hf";
    fs::create_directories(d);
    for (const auto& e : fs::directory_iterator(hf_)) {
      fs::create_symlink(e.path(), d + "/" + e.path().filename().string());
    }
    return d;
  }
  void Replace(const std::string& path, const std::string& bytes) {
    fs::remove(path);
    Write(path, bytes);
  }
  nlohmann::json HfConfig() { return nlohmann::json::parse(Read(hf_ + "/config.json")); }

  // One verb on one bad input: a clear one-line error naming `names` (the bad file, and a key
  // when given), exit 1 (never a crash), and for quantize no output or temporary file.
  void ExpectRefused(const std::string& verb, const std::string& model_args,
                     const std::vector<std::string>& names) {
    std::string args;
    const std::string out = case_dir_ + "/out.gguf";
    if (verb == "run") {
      args = "run " + model_args + " -p 'Once upon a time' -n 2 --temp 0";
    } else if (verb == "quantize") {
      const size_t sp = model_args.find(' ');
      args = "quantize " + (sp == std::string::npos ? model_args : model_args.substr(0, sp)) + " " +
             Quote(out) + " --method rtn --bits 4 --group 32" +
             (sp == std::string::npos ? "" : model_args.substr(sp));
    } else {
      args = verb + " " + model_args;
    }
    auto r = RunTritium(args);
    SCOPED_TRACE(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    // Warnings may come first; the error is one line, the last.
    const size_t at = r.err.find("tritium: error: ");
    EXPECT_NE(at, std::string::npos) << r.err;
    if (at != std::string::npos) {
      EXPECT_EQ(r.err.find('\n', at), r.err.size() - 1) << r.err;
      EXPECT_EQ(r.err.find("tritium: error: ", at + 1), std::string::npos) << r.err;
    }
    for (const auto& n : names)
      EXPECT_NE(r.err.find(n), std::string::npos) << n << " in\n" << r.err;
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(case_dir_)) {
      EXPECT_EQ(e.path().filename().string().find("out.gguf."), std::string::npos) << e.path();
    }
  }
  // Both run and quantize refuse a bad model file.
  void ExpectModelRefused(const std::string& model_args, const std::vector<std::string>& names) {
    ExpectRefused("run", model_args, names);
    ExpectRefused("quantize", model_args, names);
  }
  // A GGUF case: the base file rewritten by `edit`.
  void GgufCase(const std::function<void(GgufParts*)>& edit, const std::vector<std::string>& keys,
                bool quantize_too = true) {
    const std::string p = case_dir_ + "/bad.gguf";
    RewriteGguf(gguf_, p, edit);
    std::vector<std::string> names = keys;
    names.insert(names.begin(), p);
    ExpectRefused("run", Quote(p), names);
    if (quantize_too) ExpectRefused("quantize", Quote(p), names);
  }
  void RawGgufCase(const std::string& bytes, const std::string& what) {
    const std::string p = case_dir_ + "/bad.gguf";
    Write(p, bytes);
    ExpectModelRefused(Quote(p), {p, what});
  }
  // A config.json case: llama-docs-28m's config with `edit` applied (as text).
  void ConfigCase(const std::string& text, const std::vector<std::string>& keys) {
    const std::string d = HfCopy();
    Replace(d + "/config.json", text);
    std::vector<std::string> names = keys;
    names.insert(names.begin(), d + "/config.json");
    ExpectModelRefused(Quote(d), names);
  }
  void ConfigEdit(const std::function<void(nlohmann::json*)>& edit,
                  const std::vector<std::string>& keys) {
    nlohmann::json j = HfConfig();
    edit(&j);
    ConfigCase(j.dump(), keys);
  }
  // A safetensors case: a one-file HF directory (llama-docs-28m's config) whose
  // model.safetensors is `bytes`.
  void SafetensorsCase(const std::string& bytes, const std::string& what) {
    const std::string d = case_dir_ + "/hf";
    fs::create_directories(d);
    fs::copy_file(hf_ + "/config.json", d + "/config.json");
    fs::create_symlink(hf_ + "/tokenizer.model", d + "/tokenizer.model");
    Write(d + "/model.safetensors", bytes);
    ExpectModelRefused(Quote(d), {d + "/model.safetensors", what});
  }
  // A llama2.c case: stories260K.bin rewritten, with the good tokenizer.
  void Llama2cCase(const std::string& bytes, const std::vector<std::string>& what) {
    const std::string p = case_dir_ + "/bad.bin";
    Write(p, bytes);
    std::vector<std::string> names = what;
    names.insert(names.begin(), p);
    ExpectModelRefused(Quote(p) + " --tokenizer " + Quote(tok_), names);
  }
  void TokenizerCase(const std::string& name, const std::string& bytes,
                     const std::vector<std::string>& what) {
    const std::string p = case_dir_ + "/" + name;
    Write(p, bytes);
    std::vector<std::string> names = what;
    names.insert(names.begin(), p);
    ExpectModelRefused(Quote(bin_) + " --tokenizer " + Quote(p), names);
  }

  static std::string bin_, tok_, hf_, dir_, gguf_;
  std::string case_dir_;
};

std::string MalformedInputTest::bin_, MalformedInputTest::tok_, MalformedInputTest::hf_,
    MalformedInputTest::dir_, MalformedInputTest::gguf_;

// ================================ GGUF: the container ================================

TEST_F(MalformedInputTest, GgufEmpty) { RawGgufCase("", "unrecognized"); }
TEST_F(MalformedInputTest, GgufMagicOnly) { RawGgufCase("GGUF", "truncated"); }
TEST_F(MalformedInputTest, GgufVersion1) { RawGgufCase(RawGguf::Header(1, 0, 0).b, "version 1"); }
TEST_F(MalformedInputTest, GgufVersion99) {
  RawGgufCase(RawGguf::Header(99, 0, 0).b, "version 99");
}
TEST_F(MalformedInputTest, GgufBigEndian) {
  RawGgufCase(RawGguf::Header(0x03000000, 0, 0).b, "big-endian");
}
TEST_F(MalformedInputTest, GgufKvCountLies) {
  RawGgufCase(RawGguf::Header(3, 0, uint64_t{1} << 40).b, "metadata count");
}
TEST_F(MalformedInputTest, GgufTensorCountLies) {
  RawGgufCase(RawGguf::Header(3, uint64_t{1} << 40, 0).b, "tensor count");
}
TEST_F(MalformedInputTest, GgufKeyLengthLies) {
  RawGgufCase(RawGguf::Header(3, 0, 1).U64(uint64_t{1} << 62).U32(0).U64(0).b, "metadata key 0");
}
TEST_F(MalformedInputTest, GgufUnknownValueType) {
  RawGgufCase(RawGguf::Header(3, 0, 1).Str("general.architecture").U32(77).b,
              "unknown value type 77");
}
TEST_F(MalformedInputTest, GgufStringLengthLies) {
  RawGgufCase(RawGguf::Header(3, 0, 1).Str("general.architecture").U32(8).U64(1 << 30).b,
              "general.architecture");
}
TEST_F(MalformedInputTest, GgufArrayCountLies) {
  RawGgufCase(RawGguf::Header(3, 0, 1).Str("tokenizer.ggml.scores").U32(9).U32(6).U64(1ULL << 60).b,
              "tokenizer.ggml.scores");
}
TEST_F(MalformedInputTest, GgufArrayOfArrays) {
  RawGgufCase(RawGguf::Header(3, 0, 1).Str("x").U32(9).U32(9).U64(1).b, "arrays of arrays");
}
TEST_F(MalformedInputTest, GgufDuplicateKey) {
  RawGgufCase(RawGguf::Header(3, 0, 2).Str("a").U32(4).U32(1).Str("a").U32(4).U32(2).b, "'a'");
}
TEST_F(MalformedInputTest, GgufMetadataArrayOutgrowsTheFile) {
  // 4 M one-byte bools: a valid encoding, but 80x its size once parsed. (u8/i8 arrays are kept
  // packed, one byte each, so they are not limited: GgufTest checks one of 4 M bytes loads.)
  RawGguf g = RawGguf::Header(3, 0, 1).Str("big").U32(9).U32(7).U64(4u << 20);
  g.b.append(4u << 20, '\0');
  RawGgufCase(g.b, "elements");
}
TEST_F(MalformedInputTest, GgufTensorDimsOverflow) {
  // One F32 tensor whose ne[0] * 4 wraps to 0 in 64 bits.
  RawGguf g =
      RawGguf::Header(3, 1, 0).Str("token_embd.weight").U32(2).U64(uint64_t{1} << 62).U64(1);
  g.U32(0).U64(0);
  g.b.append(32 - g.b.size() % 32, '\0');
  RawGgufCase(g.b, "token_embd.weight");
}
TEST_F(MalformedInputTest, GgufTensorTooManyDims) {
  RawGguf g = RawGguf::Header(3, 1, 0).Str("t").U32(9);
  for (int i = 0; i < 9; ++i) g.U64(1);
  RawGgufCase(g.U32(0).U64(0).b, "'t'");
}
TEST_F(MalformedInputTest, GgufTensorOffsetPastTheEnd) {
  RawGguf g = RawGguf::Header(3, 1, 0).Str("t").U32(1).U64(8).U32(0).U64(1 << 20);
  g.b.append(64, '\0');
  RawGgufCase(g.b, "'t'");
}
TEST_F(MalformedInputTest, GgufTensorMisaligned) {
  RawGguf g = RawGguf::Header(3, 1, 0).Str("t").U32(1).U64(8).U32(0).U64(3);
  g.b.append(128, '\0');
  RawGgufCase(g.b, "'t'");
}
TEST_F(MalformedInputTest, GgufTensorsOverlap) {
  RawGguf g = RawGguf::Header(3, 2, 0);
  g.Str("a").U32(1).U64(16).U32(0).U64(0);
  g.Str("b").U32(1).U64(16).U32(0).U64(32);
  g.b.append(32 - g.b.size() % 32, '\0');
  g.b.append(128, '\0');
  RawGgufCase(g.b, "overlap");
}
TEST_F(MalformedInputTest, GgufBadAlignment) {
  RawGgufCase(RawGguf::Header(3, 0, 1).Str("general.alignment").U32(4).U32(24).b, "alignment");
}
TEST_F(MalformedInputTest, GgufTruncatedInTensorData) {
  const std::string good = Read(gguf_);
  RawGgufCase(good.substr(0, good.size() - 100), "");
}
TEST_F(MalformedInputTest, GgufTruncatedInHeader) { RawGgufCase(Read(gguf_).substr(0, 300), ""); }

// ================================ GGUF: the model in it ================================

TEST_F(MalformedInputTest, GgufUnknownArchitecture) {
  GgufCase([](GgufParts* p) { p->meta["general.architecture"] = GgufValue::Str("gpt-neox"); },
           {"gpt-neox"});
}
TEST_F(MalformedInputTest, GgufArchitectureWrongType) {
  GgufCase([](GgufParts* p) { p->meta["general.architecture"] = GgufValue::U32(7); },
           {"general.architecture"});
}
TEST_F(MalformedInputTest, GgufBlockCountLies) {
  GgufCase([](GgufParts* p) { p->meta["llama.block_count"] = GgufValue::U32(6); }, {"blk.5"});
}
TEST_F(MalformedInputTest, GgufHeadCountDoesNotDivide) {
  GgufCase([](GgufParts* p) { p->meta["llama.attention.head_count_kv"] = GgufValue::U32(5); },
           {"multiple"});
}
TEST_F(MalformedInputTest, GgufContextLengthZero) {
  GgufCase([](GgufParts* p) { p->meta["llama.context_length"] = GgufValue::U32(0); },
           {"max_position_embeddings"});
}
TEST_F(MalformedInputTest, GgufTensorOfUnknownType) {
  GgufCase([](GgufParts* p) { FindT(p, "output_norm.weight")->type = 77; },
           {"output_norm.weight", "77"});
}
TEST_F(MalformedInputTest, GgufTensorShapeDisagreesWithConfig) {
  GgufCase(
      [](GgufParts* p) {
        auto* t = FindT(p, "output_norm.weight");
        t->dims = {32};
        t->data.resize(32 * 4);
      },
      {"output_norm.weight"});
}
TEST_F(MalformedInputTest, GgufNanNormWeight) {
  GgufCase(
      [](GgufParts* p) {
        const float nan = NAN;
        std::memcpy(FindT(p, "output_norm.weight")->data.data(), &nan, 4);
      },
      {"output_norm.weight", "non-finite"}, /*quantize_too=*/false);
}
TEST_F(MalformedInputTest, GgufHugeNormWeightOverflowsTheForwardPass) {
  // 3e38 is finite, so the file loads; the forward pass must stop, not print garbage.
  GgufCase(
      [](GgufParts* p) {
        for (auto& t : p->tensors) {
          if (t.name.find("norm") == std::string::npos) continue;
          std::vector<float> v(t.data.size() / 4, 3e38f);
          std::memcpy(t.data.data(), v.data(), t.data.size());
        }
      },
      {"non-finite"}, /*quantize_too=*/false);
}
TEST_F(MalformedInputTest, GgufCorruptQuantizedRow) {
  GgufCase(
      [](GgufParts* p) {
        auto* t = FindT(p, "blk.0.attn_q.weight");
        t->data[0] = static_cast<char>(0xff);  // the fp16 step becomes NaN
        t->data[1] = static_cast<char>(0x7f);
      },
      {"blk.0.attn_q.weight"});
}
TEST_F(MalformedInputTest, GgufQuantizedTensorSizeLies) {
  GgufCase([](GgufParts* p) { FindT(p, "blk.0.attn_q.weight")->data.resize(100); },
           {"blk.0.attn_q.weight", "overlaps"});
}
TEST_F(MalformedInputTest, GgufBosIdOutOfRange) {
  GgufCase([](GgufParts* p) { p->meta["tokenizer.ggml.bos_token_id"] = GgufValue::U32(9999); },
           {"bos_token_id", "9999"});
}
TEST_F(MalformedInputTest, GgufBosIdBeyond32Bits) {
  GgufCase(
      [](GgufParts* p) {
        p->meta["tokenizer.ggml.bos_token_id"] = GgufValue::U64(uint64_t{1} << 40);
      },
      {"tokenizer.ggml.bos_token_id"});
}
TEST_F(MalformedInputTest, GgufEosIdWrongType) {
  GgufCase([](GgufParts* p) { p->meta["tokenizer.ggml.eos_token_id"] = GgufValue::Str("2"); },
           {"tokenizer.ggml.eos_token_id"});
}
TEST_F(MalformedInputTest, GgufTokenTypeOutOfRange) {
  GgufCase(
      [](GgufParts* p) {
        auto types = *p->meta["tokenizer.ggml.token_type"].AsInt32Array();
        types[7] = 99;
        p->meta["tokenizer.ggml.token_type"] = GgufValue::I32Array(types);
        p->meta.erase("tritium.tokenizer.source_kind");
        p->meta.erase("tritium.tokenizer.source");
      },
      {"tokenizer.ggml.token_type[7]", "99"});
}
TEST_F(MalformedInputTest, GgufScoresCountLies) {
  GgufCase(
      [](GgufParts* p) {
        p->meta["tokenizer.ggml.scores"] = GgufValue::F32Array(std::vector<float>(10, 0.0f));
      },
      {"tokenizer.ggml.scores", "10"});
}
TEST_F(MalformedInputTest, GgufTokenizerModelWrongType) {
  GgufCase([](GgufParts* p) { p->meta["tokenizer.ggml.model"] = GgufValue::U32(1); },
           {"tokenizer.ggml.model"});
}
TEST_F(MalformedInputTest, GgufAddBosWrongType) {
  GgufCase([](GgufParts* p) { p->meta["tokenizer.ggml.add_bos_token"] = GgufValue::U32(1); },
           {"tokenizer.ggml.add_bos_token"});
}
TEST_F(MalformedInputTest, GgufEmbeddedTokenizerCorrupt) {
  GgufCase(
      [](GgufParts* p) {
        std::string b = *p->meta["tritium.tokenizer.source"].AsBytes();
        p->meta["tritium.tokenizer.source"] = GgufValue::U8Array(b.substr(0, 10));
      },
      {"tokenizer"});
}
TEST_F(MalformedInputTest, GgufTritiumFormatParamsLie) {
  GgufCase(
      [](GgufParts* p) {
        // [planes, group, bits]: a group of 48 is none the format has.
        p->meta["tritium.tensor.blk.0.attn_q.weight.params"] = GgufValue::I32Array({0, 48, 4});
      },
      {"blk.0.attn_q.weight"});
}

// ================================ safetensors ================================

TEST_F(MalformedInputTest, SafetensorsShorterThanItsLength) { SafetensorsCase("abc", "truncated"); }
TEST_F(MalformedInputTest, SafetensorsHeaderLengthLies) {
  std::string s = Safetensors("{}", "");
  s[7] = 0x40;
  SafetensorsCase(s, "header length");
}
TEST_F(MalformedInputTest, SafetensorsHeaderNotJson) {
  SafetensorsCase(Safetensors("{\"a\": [1, 2", ""), "JSON");
}
TEST_F(MalformedInputTest, SafetensorsHeaderNotAnObject) {
  SafetensorsCase(Safetensors("[1, 2, 3]", ""), "object");
}
TEST_F(MalformedInputTest, SafetensorsHeaderBadUtf8) {
  SafetensorsCase(Safetensors("{\"\xff\xfe\": {}}", ""), "JSON");
}
TEST_F(MalformedInputTest, SafetensorsDuplicateKey) {
  const std::string t = R"({"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})";
  SafetensorsCase(Safetensors("{\"a\": " + t + ", \"a\": " + t + "}", std::string(4, '\0')),
                  "appears twice");
}
TEST_F(MalformedInputTest, SafetensorsUnknownDtype) {
  SafetensorsCase(Safetensors(R"({"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})",
                              std::string(8, '\0')),
                  "I64");
}
TEST_F(MalformedInputTest, SafetensorsNegativeShape) {
  SafetensorsCase(Safetensors(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                              std::string(4, '\0')),
                  "'a'");
}
TEST_F(MalformedInputTest, SafetensorsShapeOverflows) {
  SafetensorsCase(
      Safetensors(
          R"({"a": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 0]}})",
          ""),
      "'a'");
}
TEST_F(MalformedInputTest, SafetensorsOffsetsDisagreeWithShape) {
  SafetensorsCase(Safetensors(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}})",
                              std::string(8, '\0')),
                  "'a'");
}
TEST_F(MalformedInputTest, SafetensorsOffsetsPastTheEnd) {
  SafetensorsCase(Safetensors(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                              std::string(8, '\0')),
                  "'a'");
}
TEST_F(MalformedInputTest, SafetensorsOffsetsOverlap) {
  SafetensorsCase(Safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                              std::string(12, '\0')),
                  "overlap");
}
TEST_F(MalformedInputTest, SafetensorsMissingTensor) {
  SafetensorsCase(Safetensors(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                              std::string(4, '\0')),
                  "'a'");
}
TEST_F(MalformedInputTest, SafetensorsIndexNotJson) {
  const std::string d = HfCopy();
  Replace(d + "/model.safetensors.index.json", "{\"weight_map\": ");
  ExpectModelRefused(Quote(d), {d + "/model.safetensors.index.json"});
}
TEST_F(MalformedInputTest, SafetensorsIndexShardEscapes) {
  const std::string d = HfCopy();
  auto j = nlohmann::json::parse(Read(hf_ + "/model.safetensors.index.json"));
  j["weight_map"]["model.norm.weight"] = "../../etc/passwd";
  Replace(d + "/model.safetensors.index.json", j.dump());
  ExpectModelRefused(Quote(d), {d + "/model.safetensors.index.json", "path"});
}
TEST_F(MalformedInputTest, SafetensorsIndexNamesAMissingShard) {
  const std::string d = HfCopy();
  auto j = nlohmann::json::parse(Read(hf_ + "/model.safetensors.index.json"));
  j["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors";
  Replace(d + "/model.safetensors.index.json", j.dump());
  ExpectModelRefused(Quote(d), {"model-00009-of-00009.safetensors"});
}
TEST_F(MalformedInputTest, SafetensorsShardTruncated) {
  const std::string d = HfCopy();
  const std::string shard = d + "/model-00004-of-00004.safetensors";
  const std::string good = Read(hf_ + "/model-00004-of-00004.safetensors");
  Replace(shard, good.substr(0, good.size() / 2));
  ExpectModelRefused(Quote(d), {shard});
}
TEST_F(MalformedInputTest, SafetensorsNanInANorm) {
  const std::string d = HfCopy();
  const std::string shard = d + "/model-00004-of-00004.safetensors";
  std::string bytes = Read(hf_ + "/model-00004-of-00004.safetensors");
  uint64_t hl;
  std::memcpy(&hl, bytes.data(), 8);
  auto h = nlohmann::json::parse(bytes.substr(8, hl));
  std::string norm;
  for (auto& [k, v] : h.items()) {
    if (k.find("norm") != std::string::npos) norm = k;
  }
  ASSERT_FALSE(norm.empty()) << "no norm weight in the last shard";
  const uint64_t at = 8 + hl + h[norm]["data_offsets"][0].get<uint64_t>();
  bytes[at] = bytes[at + 1] = static_cast<char>(0xff);  // bf16/f16/f32 NaN pattern at the top
  if (h[norm]["dtype"] == "F32") bytes[at + 2] = bytes[at + 3] = static_cast<char>(0xff);
  Replace(shard, bytes);
  ExpectRefused("run", Quote(d), {shard, norm});
}

// ================================ config.json ================================

TEST_F(MalformedInputTest, ConfigNotJson) { ConfigCase("{\"hidden_size\": ", {"JSON"}); }
TEST_F(MalformedInputTest, ConfigNotAnObject) { ConfigCase("[1, 2]", {"object"}); }
TEST_F(MalformedInputTest, ConfigBadUtf8) { ConfigCase("{\"model_type\": \"\xc3\x28\"}", {}); }
TEST_F(MalformedInputTest, ConfigDuplicateKey) {
  std::string t = HfConfig().dump();
  t.insert(1, "\"hidden_size\": 7, ");
  ConfigCase(t, {"hidden_size", "twice"});
}
TEST_F(MalformedInputTest, ConfigHiddenSizeString) {
  ConfigEdit([](nlohmann::json* j) { (*j)["hidden_size"] = "512"; }, {"hidden_size"});
}
TEST_F(MalformedInputTest, ConfigNegativeLayers) {
  ConfigEdit([](nlohmann::json* j) { (*j)["num_hidden_layers"] = -1; }, {"layers -1"});
}
TEST_F(MalformedInputTest, ConfigHugeLayers) {
  ConfigEdit([](nlohmann::json* j) { (*j)["num_hidden_layers"] = 1ULL << 40; },
             {"layers 1099511627776"});
}
TEST_F(MalformedInputTest, ConfigHeadsDoNotDivide) {
  ConfigEdit([](nlohmann::json* j) { (*j)["num_key_value_heads"] = 4; }, {"multiple"});
}
TEST_F(MalformedInputTest, ConfigUnknownArchitecture) {
  ConfigEdit([](nlohmann::json* j) { (*j)["architectures"] = {"GPTNeoXForCausalLM"}; },
             {"GPTNeoXForCausalLM"});
}
TEST_F(MalformedInputTest, ConfigBosBeyond32Bits) {
  ConfigEdit([](nlohmann::json* j) { (*j)["bos_token_id"] = 1ULL << 40; }, {"bos_token_id"});
}
TEST_F(MalformedInputTest, ConfigBosOutsideTheVocabulary) {
  ConfigEdit([](nlohmann::json* j) { (*j)["bos_token_id"] = 1 << 30; },
             {"bos_token_id", "outside the vocabulary"});
}
TEST_F(MalformedInputTest, ConfigEosWrongType) {
  ConfigEdit([](nlohmann::json* j) { (*j)["eos_token_id"] = "2"; }, {"eos_token_id"});
}
TEST_F(MalformedInputTest, ConfigRopeThetaZero) {
  ConfigEdit(
      [](nlohmann::json* j) {
        if (j->contains("rope_parameters")) {
          (*j)["rope_parameters"]["rope_theta"] = 0;
        } else {
          (*j)["rope_theta"] = 0;
        }
      },
      {"rope_theta"});
}
TEST_F(MalformedInputTest, ConfigTieEmbeddingsString) {
  ConfigEdit([](nlohmann::json* j) { (*j)["tie_word_embeddings"] = "yes"; },
             {"tie_word_embeddings"});
}
TEST_F(MalformedInputTest, ConfigVocabDisagreesWithTheWeights) {
  const std::string d = HfCopy();
  nlohmann::json j = HfConfig();
  j["vocab_size"] = 1000;
  Replace(d + "/config.json", j.dump());
  ExpectModelRefused(Quote(d), {d, "1000"});
}
TEST_F(MalformedInputTest, GenerationConfigNotJson) {
  const std::string d = HfCopy();
  Replace(d + "/generation_config.json", "{{");
  ExpectModelRefused(Quote(d), {d + "/generation_config.json"});
}
TEST_F(MalformedInputTest, GenerationConfigEosOutsideTheVocabulary) {
  const std::string d = HfCopy();
  Replace(d + "/generation_config.json", R"({"eos_token_id": 123456789})");
  ExpectModelRefused(Quote(d), {d + "/generation_config.json", "eos_token_id"});
}

// ================================ llama2.c ================================

std::string Stories(const std::string& bin) { return Read(bin); }

TEST_F(MalformedInputTest, Llama2cShorterThanItsHeader) {
  Llama2cCase(Stories(bin_).substr(0, 20), {"header"});
}
TEST_F(MalformedInputTest, Llama2cTruncated) {
  const std::string s = Stories(bin_);
  Llama2cCase(s.substr(0, s.size() - 4), {"header implies"});
}
TEST_F(MalformedInputTest, Llama2cLongerThanItsHeader) {
  Llama2cCase(Stories(bin_) + std::string(4, '\0'), {"header implies"});
}
TEST_F(MalformedInputTest, Llama2cNegativeDim) {
  std::string s = Stories(bin_);
  const int32_t v = -64;
  std::memcpy(s.data(), &v, 4);
  Llama2cCase(s, {"dim"});
}
TEST_F(MalformedInputTest, Llama2cHugeLayers) {
  std::string s = Stories(bin_);
  const int32_t v = 1 << 30;
  std::memcpy(s.data() + 8, &v, 4);
  Llama2cCase(s, {});
}
TEST_F(MalformedInputTest, Llama2cHeadsDoNotDivide) {
  std::string s = Stories(bin_);
  const int32_t v = 3;  // n_kv_heads
  std::memcpy(s.data() + 16, &v, 4);
  Llama2cCase(s, {});
}
TEST_F(MalformedInputTest, Llama2cNanWeight) {
  std::string s = Stories(bin_);
  const float nan = NAN;
  std::memcpy(s.data() + 28 + 4 * 100, &nan, 4);  // inside the embedding table
  const std::string p = case_dir_ + "/bad.bin";
  Write(p, s);
  ExpectRefused("run", Quote(p) + " --tokenizer " + Quote(tok_), {p, "non-finite"});
}

// ================================ tokenizers ================================

TEST_F(MalformedInputTest, Llama2cTokenizerTruncated) {
  TokenizerCase("tokenizer.bin", Read(tok_).substr(0, 1000), {});
}
TEST_F(MalformedInputTest, Llama2cTokenizerLengthLies) {
  std::string t = Read(tok_);
  const int32_t len = 1 << 30;
  std::memcpy(t.data() + 8, &len, 4);  // the first token's byte count
  TokenizerCase("tokenizer.bin", t, {});
}
TEST_F(MalformedInputTest, Llama2cTokenizerNegativeLength) {
  std::string t = Read(tok_);
  const int32_t len = -5;
  std::memcpy(t.data() + 8, &len, 4);
  TokenizerCase("tokenizer.bin", t, {});
}
TEST_F(MalformedInputTest, Llama2cTokenizerTooFewTokens) {
  std::string t = Read(tok_);
  TokenizerCase("tokenizer.bin", t.substr(0, t.size() / 2), {});
}
TEST_F(MalformedInputTest, SentencePieceGarbage) {
  TokenizerCase("tokenizer.model", std::string(300, '\x07'), {});
}
TEST_F(MalformedInputTest, SentencePieceEmpty) { TokenizerCase("tokenizer.model", "", {}); }
TEST_F(MalformedInputTest, SentencePieceTruncated) {
  TokenizerCase("tokenizer.model", Read(hf_ + "/tokenizer.model").substr(0, 5000), {});
}
TEST_F(MalformedInputTest, SentencePieceNulPiece) {
  // Found by fuzz/tokenizer_sentencepiece_fuzz.cc: the library's trie builder takes pieces as C
  // strings and threw (aborting the process) on one that starts with a NUL byte. Pieces: "<unk>"
  // (type UNKNOWN), "\0s>" (NORMAL).
  auto piece = [](const std::string& text, int type) {
    std::string m = "\x0a" + std::string(1, static_cast<char>(text.size())) + text;
    m += std::string("\x15\0\0\0\0", 5);  // score 0
    if (type != 0) m += "\x18" + std::string(1, static_cast<char>(type));
    return "\x0a" + std::string(1, static_cast<char>(m.size())) + m;
  };
  TokenizerCase("tokenizer.model", piece("<unk>", 2) + piece(std::string("\0s>", 3), 1), {});
}
TEST_F(MalformedInputTest, HfJsonIdBeyondInt) {
  // Found by fuzz/tokenizer_hf_json_fuzz.cc: 3.3e54 as an id was converted to int (undefined).
  TokenizerCase("tokenizer.json",
                R"({"model": {"type": "BPE", "vocab": {"a": 3.33e54}, "merges": []},
                    "pre_tokenizer": {"type": "ByteLevel"}})",
                {"token id"});
}
TEST_F(MalformedInputTest, HfJsonHugeAddedTokenId) {
  TokenizerCase("tokenizer.json",
                R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                    "added_tokens": [{"id": 2147483647, "content": "<x>"}],
                    "pre_tokenizer": {"type": "ByteLevel"}})",
                {"added_tokens", "2147483647"});
}
TEST_F(MalformedInputTest, HfJsonNotJson) { TokenizerCase("tokenizer.json", "{\"model\": ", {}); }
TEST_F(MalformedInputTest, HfJsonDuplicateKey) {
  TokenizerCase("tokenizer.json", R"({"model": {}, "model": {}})", {"twice"});
}
TEST_F(MalformedInputTest, HfJsonWrongModelType) {
  TokenizerCase("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})", {"Unigram"});
}
TEST_F(MalformedInputTest, HfJsonMergesWrongType) {
  TokenizerCase("tokenizer.json",
                R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]},
                    "pre_tokenizer": {"type": "ByteLevel"}})",
                {});
}
TEST_F(MalformedInputTest, HfJsonBadUtf8) {
  TokenizerCase("tokenizer.json",
                "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\xff\": 0}, \"merges\": []}}",
                {"JSON"});
}

// ================================ other inputs ================================

TEST_F(MalformedInputTest, KldBaseNotABase) {
  const std::string p = case_dir_ + "/base.logits";
  Write(p, std::string(104, 'x'));
  ExpectRefused("ppl",
                Quote(bin_) + " --tokenizer " + Quote(tok_) + " " +
                    Quote(::tritium::testing::Shared("data/tinystories/val100.txt")) +
                    " --ctx 64 --kld " + Quote(p),
                {p});
}
TEST_F(MalformedInputTest, ImatrixIsAModel) {
  ExpectRefused("quantize",
                Quote(bin_) + " --tokenizer " + Quote(tok_) + " --imatrix " + Quote(gguf_),
                {gguf_, "importance matrix"});
}
TEST_F(MalformedInputTest, CalibrationTextMissing) {
  const std::string p = case_dir_ + "/nothing.txt";
  ExpectRefused("imatrix",
                Quote(bin_) + " " + Quote(p) + " --tokenizer " + Quote(tok_) + " -o " +
                    Quote(case_dir_ + "/out.gguf"),
                {p});
}
TEST_F(MalformedInputTest, TensorTypeZeroIsNotTheDefault) {
  auto r = RunTritium("quantize " + Quote(bin_) + " --tokenizer " + Quote(tok_) + " " +
                      Quote(case_dir_ + "/out.gguf") + " --tensor-type '*=TRIT_PLANES:0'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("TRIT_PLANES:0"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(case_dir_ + "/out.gguf"));
}
TEST_F(MalformedInputTest, RequantizingWarns) {
  const std::string out = case_dir_ + "/re.gguf";
  auto r = RunTritium("quantize " + Quote(gguf_) + " " + Quote(out) + " --method rtn --bits 4 " +
                      "--group 32");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("already quantized"), std::string::npos) << r.err;
  auto f = RunTritium("quantize " + Quote(bin_) + " --tokenizer " + Quote(tok_) + " " +
                      Quote(case_dir_ + "/fresh.gguf") + " --method rtn --bits 4 --group 32");
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.err.find("already quantized"), std::string::npos) << f.err;
}

// The corpus must stay a corpus: at least 60 malformed inputs.
TEST(MalformedInputCorpus, HasAtLeastSixtyCases) {
  int n = 0;
  const auto* suite = ::testing::UnitTest::GetInstance();
  for (int i = 0; i < suite->total_test_suite_count(); ++i) {
    const auto* s = suite->GetTestSuite(i);
    if (std::string(s->name()) == "MalformedInputTest") n = s->total_test_count();
  }
  EXPECT_GE(n, 60);
}

}  // namespace
}  // namespace tritium
