#include "src/io/gguf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "src/base/file.h"
#include "src/base/fp16.h"

namespace tritium {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Builds GGUF bytes by hand, independently of GgufWriter, so that a mistake shared by the writer
// and the reader cannot hide. Integers are spelled out byte by byte in little-endian order.
class Bytes {
 public:
  Bytes& U8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Bytes& U16(uint16_t v) { return Le(v, 2); }
  Bytes& U32(uint32_t v) { return Le(v, 4); }
  Bytes& U64(uint64_t v) { return Le(v, 8); }
  Bytes& F32(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return U32(u);
  }
  Bytes& Raw(const std::string& r) {
    s_ += r;
    return *this;
  }
  Bytes& Str(const std::string& r) { return U64(r.size()).Raw(r); }
  Bytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return Raw("GGUF").U32(version).U64(n_tensors).U64(n_kv);
  }
  Bytes& KeyU32(const std::string& key, uint32_t v) { return Str(key).U32(4).U32(v); }
  Bytes& Tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  Bytes& PadTo(size_t a) {
    while (s_.size() % a != 0) s_.push_back('\0');
    return *this;
  }
  Bytes& Zeros(size_t n) {
    s_.append(n, '\0');
    return *this;
  }
  size_t size() const { return s_.size(); }
  const std::string& str() const { return s_; }

 private:
  Bytes& Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  std::string s_;
};

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = JoinPath(::testing::TempDir(),
                    std::string("gguf_test_") + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return JoinPath(dir_, name); }

  std::string WriteBytes(const std::string& name, const std::string& bytes) const {
    const std::string p = Path(name);
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    EXPECT_TRUE(f.good()) << p;
    return p;
  }

  std::vector<std::string> DirEntries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Opens `bytes` as a file and expects an error that starts with the path and contains `needle`.
  void ExpectOpenError(const std::string& bytes, const std::string& needle,
                       const GgufTensorSizeFn& size_fn = nullptr) {
    const std::string p = WriteBytes("bad.gguf", bytes);
    auto g = GgufFile::Open(p, size_fn);
    ASSERT_FALSE(g.ok()) << "expected an error containing: " << needle;
    EXPECT_THAT(g.status().message(), StartsWith(p + ": "));
    EXPECT_THAT(g.status().message(), HasSubstr(needle));
  }

  std::string dir_;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string TensorBytes(const GgufTensorInfo& t) {
  return std::string(reinterpret_cast<const char*>(t.data), t.nbytes);
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_F(GgufTest, RoundTripEveryValueType) {
  const std::string unicode =
      "h\xC3\xA9llo \xE2\x9C\x93 \xE6\x97\xA5\xE6\x9C\xAC";  // "héllo ✓ 日本"
  const std::string bytes = std::string("\x00\x01\x7f\x80\xff", 5);
  GgufWriter w;
  w.Set("u8", GgufValue::U8(255));
  w.Set("i8", GgufValue::I8(-128));
  w.Set("u16", GgufValue::U16(65535));
  w.Set("i16", GgufValue::I16(-32768));
  w.Set("u32", GgufValue::U32(0xffffffffu));
  w.Set("i32", GgufValue::I32(std::numeric_limits<int32_t>::min()));
  w.Set("f32", GgufValue::F32(-1.5f));
  w.Set("f32.tiny", GgufValue::F32(1e-45f));  // a subnormal
  w.Set("bool.t", GgufValue::Bool(true));
  w.Set("bool.f", GgufValue::Bool(false));
  w.Set("str", GgufValue::Str("llama"));
  w.Set("str.empty", GgufValue::Str(""));
  w.Set("str.unicode", GgufValue::Str(unicode));
  w.Set("\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87", GgufValue::U32(7));  // key "ключ"
  w.Set("u64", GgufValue::U64(std::numeric_limits<uint64_t>::max()));
  w.Set("i64", GgufValue::I64(std::numeric_limits<int64_t>::min()));
  w.Set("f64", GgufValue::F64(3.141592653589793));
  w.Set("arr.str", GgufValue::StrArray({"a", "", unicode}));
  w.Set("arr.f32", GgufValue::F32Array({0.25f, -2.0f, 1e30f}));
  w.Set("arr.i32", GgufValue::I32Array({-1, 0, 2147483647}));
  w.Set("arr.empty", GgufValue::Array(GgufValueType::kInt32, {}));
  w.Set("arr.u8", GgufValue::U8Array(bytes));
  w.Set("arr.bool",
        GgufValue::Array(GgufValueType::kBool, {GgufValue::Bool(true), GgufValue::Bool(false)}));
  w.Set("arr.i64", GgufValue::Array(GgufValueType::kInt64, {GgufValue::I64(-5)}));
  w.Set("arr.f64", GgufValue::Array(GgufValueType::kFloat64, {GgufValue::F64(0.1)}));
  const std::string p = Path("values.gguf");
  ASSERT_TRUE(w.Write(p).ok());

  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GgufFile& f = **g;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.metadata().size(), 25u);  // no general.alignment at the default alignment
  EXPECT_EQ(f.Find("general.alignment"), nullptr);
  EXPECT_TRUE(f.tensors().empty());

  auto type_of = [&](const char* k) { return f.Find(k)->type; };
  EXPECT_EQ(type_of("u8"), GgufValueType::kUint8);
  EXPECT_EQ(type_of("i8"), GgufValueType::kInt8);
  EXPECT_EQ(type_of("u16"), GgufValueType::kUint16);
  EXPECT_EQ(type_of("i16"), GgufValueType::kInt16);
  EXPECT_EQ(type_of("u32"), GgufValueType::kUint32);
  EXPECT_EQ(type_of("i32"), GgufValueType::kInt32);
  EXPECT_EQ(type_of("f32"), GgufValueType::kFloat32);
  EXPECT_EQ(type_of("bool.t"), GgufValueType::kBool);
  EXPECT_EQ(type_of("str"), GgufValueType::kString);
  EXPECT_EQ(type_of("u64"), GgufValueType::kUint64);
  EXPECT_EQ(type_of("i64"), GgufValueType::kInt64);
  EXPECT_EQ(type_of("f64"), GgufValueType::kFloat64);
  EXPECT_EQ(type_of("arr.str"), GgufValueType::kArray);

  EXPECT_EQ(*f.Find("u8")->AsUint(), 255u);
  EXPECT_EQ(*f.Find("i8")->AsInt(), -128);
  EXPECT_EQ(*f.Find("u16")->AsUint(), 65535u);
  EXPECT_EQ(*f.Find("i16")->AsInt(), -32768);
  EXPECT_EQ(*f.Find("u32")->AsUint(), 0xffffffffu);
  EXPECT_EQ(*f.Find("i32")->AsInt(), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(*f.Find("f32")->AsFloat(), -1.5);
  EXPECT_EQ(static_cast<float>(*f.Find("f32.tiny")->AsFloat()), 1e-45f);
  EXPECT_EQ(*f.Find("bool.t")->AsBool(), true);
  EXPECT_EQ(*f.Find("bool.f")->AsBool(), false);
  EXPECT_EQ(*f.Find("str")->AsString(), "llama");
  EXPECT_EQ(*f.Find("str.empty")->AsString(), "");
  EXPECT_EQ(*f.Find("str.unicode")->AsString(), unicode);
  ASSERT_NE(f.Find("\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87"), nullptr);
  EXPECT_EQ(*f.Find("\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87")->AsUint(), 7u);
  EXPECT_EQ(*f.Find("u64")->AsUint(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*f.Find("i64")->AsInt(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*f.Find("f64")->AsFloat(), 3.141592653589793);
  EXPECT_EQ(*f.Find("arr.str")->AsStringArray(), (std::vector<std::string>{"a", "", unicode}));
  EXPECT_EQ(*f.Find("arr.f32")->AsFloatArray(), (std::vector<float>{0.25f, -2.0f, 1e30f}));
  EXPECT_EQ(*f.Find("arr.i32")->AsInt32Array(), (std::vector<int32_t>{-1, 0, 2147483647}));
  EXPECT_EQ(f.Find("arr.empty")->array_type, GgufValueType::kInt32);
  EXPECT_TRUE(f.Find("arr.empty")->AsInt32Array()->empty());
  EXPECT_EQ(*f.Find("arr.u8")->AsBytes(), bytes);
  ASSERT_EQ(f.Find("arr.bool")->array.size(), 2u);
  EXPECT_EQ(*f.Find("arr.bool")->array[0].AsBool(), true);
  EXPECT_EQ(*f.Find("arr.bool")->array[1].AsBool(), false);
  EXPECT_EQ(*f.Find("arr.i64")->AsInt32Array(), std::vector<int32_t>{-5});
  EXPECT_EQ(*f.Find("arr.f64")->array[0].AsFloat(), 0.1);
}

struct TensorCase {
  std::string name;
  std::vector<uint64_t> dims;
  uint32_t type;
  uint64_t nbytes;  // worked out by hand from the type's layout
};

const std::vector<TensorCase>& TensorCases() {
  static const auto* cases = new std::vector<TensorCase>{
      {"f32.1d", {5}, kGgmlTypeF32, 5 * 4},
      {"f16.2d", {3, 2}, kGgmlTypeF16, 6 * 2},
      {"bf16.3d", {2, 3, 2}, kGgmlTypeBF16, 12 * 2},
      {"q8_0.4d", {64, 2, 1, 3}, kGgmlTypeQ8_0, (64 / 32) * 2 * 3 * 34},
      {"q8_0.1d", {32}, kGgmlTypeQ8_0, 34},
  };
  return *cases;
}

void RoundTripTensors(const std::string& path, uint64_t alignment) {
  std::vector<std::string> data;
  for (size_t i = 0; i < TensorCases().size(); ++i) {
    data.push_back(RandomBytes(TensorCases()[i].nbytes, 100 + static_cast<uint32_t>(i)));
  }
  GgufWriter w;
  w.set_alignment(alignment);
  w.Set("general.architecture", GgufValue::Str("llama"));
  for (size_t i = 0; i < TensorCases().size(); ++i) {
    const TensorCase& c = TensorCases()[i];
    w.AddTensor(c.name, c.dims, c.type, data[i].data(), data[i].size());
  }
  Status st = w.Write(path);
  ASSERT_TRUE(st.ok()) << st.message();

  auto g = GgufFile::Open(path);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GgufFile& f = **g;
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.data_offset() % alignment, 0u);
  if (alignment == 32) {
    EXPECT_EQ(f.Find("general.alignment"), nullptr);
  } else {
    ASSERT_NE(f.Find("general.alignment"), nullptr);
    EXPECT_EQ(f.Find("general.alignment")->type, GgufValueType::kUint32);
    EXPECT_EQ(*f.Find("general.alignment")->AsUint(), alignment);
  }
  auto mapped = MappedFile::Open(path);
  ASSERT_TRUE(mapped.ok());
  ASSERT_EQ(f.tensors().size(), TensorCases().size());
  for (size_t i = 0; i < TensorCases().size(); ++i) {
    const TensorCase& c = TensorCases()[i];
    const GgufTensorInfo& t = f.tensors()[i];  // file order is preserved
    EXPECT_EQ(t.name, c.name);
    EXPECT_EQ(f.FindTensor(c.name), &t);
    EXPECT_EQ(t.dims, c.dims);
    EXPECT_EQ(t.type, c.type);
    EXPECT_EQ(t.nbytes, c.nbytes);
    EXPECT_EQ(t.offset % alignment, 0u) << c.name;
    EXPECT_EQ(TensorBytes(t), data[i]) << c.name;
    // The pointer is where the offset says, which an independent read of the file confirms.
    const std::string raw = *ReadFileToString(path);
    EXPECT_EQ(raw.substr(f.data_offset() + t.offset, t.nbytes), data[i]) << c.name;
  }
  EXPECT_EQ(f.FindTensor("missing"), nullptr);
}

TEST_F(GgufTest, RoundTripTensorsDefaultAlignment) { RoundTripTensors(Path("t32.gguf"), 32); }
TEST_F(GgufTest, RoundTripTensorsAlignment64) { RoundTripTensors(Path("t64.gguf"), 64); }
TEST_F(GgufTest, RoundTripTensorsAlignment1) { RoundTripTensors(Path("t1.gguf"), 1); }

TEST_F(GgufTest, WriterLaysOutOffsetsByHand) {
  // 5 floats (20 bytes) then 3 halves: the second tensor starts at the next multiple of 32.
  std::vector<float> a = {1, 2, 3, 4, 5};
  std::vector<uint16_t> b = {F32ToF16(1.0f), F32ToF16(-2.0f), F32ToF16(0.5f)};
  GgufWriter w;
  w.AddTensor("a", {5}, kGgmlTypeF32, a.data(), 20);
  w.AddTensor("b", {3}, kGgmlTypeF16, b.data(), 6);
  const std::string p = Path("layout.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  // Header 24 + tensor a info (8+1+4+8+4+8 = 33) + tensor b info 33 = 90 -> data at 96.
  const std::string raw = *ReadFileToString(p);
  EXPECT_EQ(raw.size(), 96u + 32u + 6u);  // no padding after the last tensor
  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->data_offset(), 96u);
  EXPECT_EQ((*g)->FindTensor("a")->offset, 0u);
  EXPECT_EQ((*g)->FindTensor("b")->offset, 32u);
  uint16_t h;
  std::memcpy(&h, raw.data() + 96 + 32 + 2, 2);
  EXPECT_EQ(F16ToF32(h), -2.0f);
}

TEST_F(GgufTest, StreamWriterOutOfOrderGivesTheSameBytesAsWrite) {
  const std::string a = RandomBytes(20, 1), b = RandomBytes(6, 2), c = RandomBytes(40, 3);
  GgufWriter w;
  w.Set("x.sum", GgufValue::U64(0));
  w.Set("name", GgufValue::Str("stream"));
  w.AddTensor("a", {5}, kGgmlTypeF32, a.data(), 20);
  w.AddTensor("b", {3}, kGgmlTypeF16, b.data(), 6);
  w.AddTensor("c", {10}, kGgmlTypeF32, c.data(), 40);
  const std::string whole = Path("whole.gguf"), streamed = Path("streamed.gguf");
  w.Set("x.sum", GgufValue::U64(0x1122334455667788ull));
  ASSERT_TRUE(w.Write(whole).ok());
  w.Set("x.sum", GgufValue::U64(0));
  auto sw = w.Begin(streamed);
  ASSERT_TRUE(sw.ok()) << sw.status().message();
  EXPECT_FALSE(FileExists(streamed));  // nothing under the final name before Commit
  ASSERT_TRUE((*sw)->WriteTensor(2, c.data(), 40).ok());
  ASSERT_TRUE((*sw)->WriteTensor(0, a.data(), 20).ok());
  EXPECT_FALSE((*sw)->WriteTensor(1, b.data(), 7).ok());  // not the declared size
  ASSERT_TRUE((*sw)->WriteTensor(1, b.data(), 6).ok());
  ASSERT_TRUE((*sw)->PatchU64("x.sum", 0x1122334455667788ull).ok());
  EXPECT_FALSE((*sw)->PatchU64("name", 1).ok());  // not a u64
  ASSERT_TRUE((*sw)->Commit().ok());
  EXPECT_EQ(*ReadFileToString(streamed), *ReadFileToString(whole));
}

TEST_F(GgufTest, StreamWriterRefusesToCommitAMissingTensor) {
  const std::string a = RandomBytes(20, 1);
  GgufWriter w;
  w.AddTensor("a", {5}, kGgmlTypeF32, nullptr, 20);
  w.AddTensor("b", {5}, kGgmlTypeF32, nullptr, 20);
  const std::string p = Path("partial.gguf");
  {
    auto sw = w.Begin(p);
    ASSERT_TRUE(sw.ok());
    ASSERT_TRUE((*sw)->WriteTensor(0, a.data(), 20).ok());
    Status s = (*sw)->Commit();
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr("'b' was never written"));
  }
  EXPECT_EQ(DirEntries(), std::vector<std::string>{});  // no file, no temporary
}

TEST_F(GgufTest, SetTwiceKeepsLastValueInFirstPosition) {
  GgufWriter w;
  w.Set("first", GgufValue::U32(1));
  w.Set("second", GgufValue::U32(2));
  w.Set("first", GgufValue::Str("replaced"));
  const std::string p = Path("set.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  const std::string raw = *ReadFileToString(p);
  // Exactly two pairs, "first" before "second".
  EXPECT_EQ(raw[16], 2);
  EXPECT_LT(raw.find("first"), raw.find("second"));
  EXPECT_EQ(raw.find("first", raw.find("first") + 1), std::string::npos);
  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->metadata().size(), 2u);
  EXPECT_EQ(*(*g)->Find("first")->AsString(), "replaced");
}

// ---------------------------------------------------------------------------------------------
// A file built by hand

std::string HandBuiltFile() {
  Bytes b;
  b.Header(3, 2, 3);
  b.Str("general.architecture").U32(8).Str("llama");               // 8+20+4+8+5 = 45
  b.KeyU32("llama.block_count", 7);                                // 8+17+4+4 = 33
  b.Str("tok.scores").U32(9).U32(6).U64(2).F32(0.5f).F32(-1.25f);  // 8+10+4+4+8+8 = 42
  b.Tensor("a", {2, 3}, kGgmlTypeF32, 0);                          // 8+1+4+16+4+8 = 41
  b.Tensor("b", {4}, kGgmlTypeF16, 32);                            // 8+1+4+8+4+8 = 33
  b.PadTo(32);
  for (int i = 0; i < 6; ++i) b.F32(static_cast<float>(i) - 2.5f);  // 24 bytes
  b.Zeros(8);
  b.U16(0x3c00).U16(0xc000).U16(0x0000).U16(0x7c00);  // 1, -2, 0, +inf
  return b.str();
}

TEST_F(GgufTest, ReadsHandBuiltFile) {
  const std::string bytes = HandBuiltFile();
  // 24 + 45 + 33 + 42 + 41 + 33 = 218 bytes before padding -> data at 224.
  ASSERT_EQ(bytes.size(), 224u + 32u + 8u);
  const std::string p = WriteBytes("hand.gguf", bytes);
  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GgufFile& f = **g;
  EXPECT_EQ(f.path(), p);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.data_offset(), 224u);
  EXPECT_EQ(f.metadata().size(), 3u);
  EXPECT_EQ(*f.Find("general.architecture")->AsString(), "llama");
  EXPECT_EQ(f.Find("llama.block_count")->type, GgufValueType::kUint32);
  EXPECT_EQ(*f.Find("llama.block_count")->AsUint(), 7u);
  EXPECT_EQ(*f.Find("tok.scores")->AsFloatArray(), (std::vector<float>{0.5f, -1.25f}));
  auto missing = f.Get("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), p + ": metadata key 'nope' not found");
  ASSERT_TRUE(f.Get("llama.block_count").ok());

  ASSERT_EQ(f.tensors().size(), 2u);
  const GgufTensorInfo* a = f.FindTensor("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a->type, kGgmlTypeF32);
  EXPECT_EQ(a->nbytes, 24u);
  float fa[6];
  std::memcpy(fa, a->data, 24);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(fa[i], static_cast<float>(i) - 2.5f);
  const GgufTensorInfo* t = f.FindTensor("b");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->offset, 32u);
  EXPECT_EQ(t->nbytes, 8u);
  EXPECT_EQ(t->data - a->data, 32);
  uint16_t h[4];
  std::memcpy(h, t->data, 8);
  EXPECT_EQ(F16ToF32(h[0]), 1.0f);
  EXPECT_EQ(F16ToF32(h[1]), -2.0f);
  EXPECT_EQ(F16ToF32(h[2]), 0.0f);
  EXPECT_TRUE(std::isinf(F16ToF32(h[3])));
}

TEST_F(GgufTest, WriterMatchesHandBuiltBytes) {
  std::vector<float> a(6);
  for (int i = 0; i < 6; ++i) a[i] = static_cast<float>(i) - 2.5f;
  const uint16_t b[4] = {0x3c00, 0xc000, 0x0000, 0x7c00};
  GgufWriter w;
  w.Set("general.architecture", GgufValue::Str("llama"));
  w.Set("llama.block_count", GgufValue::U32(7));
  w.Set("tok.scores", GgufValue::F32Array({0.5f, -1.25f}));
  w.AddTensor("a", {2, 3}, kGgmlTypeF32, a.data(), 24);
  w.AddTensor("b", {4}, kGgmlTypeF16, b, 8);
  const std::string p = Path("writer.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  EXPECT_EQ(*ReadFileToString(p), HandBuiltFile());
}

TEST_F(GgufTest, AcceptsVersion2) {
  const std::string p = WriteBytes("v2.gguf", Bytes().Header(2, 0, 1).KeyU32("k", 3).str());
  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->version(), 2u);
  EXPECT_EQ(*(*g)->Find("k")->AsUint(), 3u);
}

TEST_F(GgufTest, CustomSizeFunctionAddsTypes) {
  Bytes b;
  b.Header(3, 1, 0).Tensor("custom", {10}, 1000, 0).PadTo(32).Zeros(5);
  GgufTensorSizeFn sizer = [](const std::map<std::string, GgufValue>&, const std::string& name, uint32_t type,
                              const std::vector<uint64_t>& dims) -> StatusOr<uint64_t> {
    if (type == 1000) return dims[0] / 2;  // 4 bits per element
    return GgmlTensorSize(name, type, dims);
  };
  const std::string p = WriteBytes("custom.gguf", b.str());
  auto g = GgufFile::Open(p, sizer);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->FindTensor("custom")->nbytes, 5u);
  // Without it the type is refused by id.
  ExpectOpenError(b.str(), "'custom' has unsupported ggml type id 1000");
}

TEST_F(GgufTest, GgmlTensorSizes) {
  EXPECT_EQ(*GgmlTensorSize("x", kGgmlTypeF32, {3, 2}), 24u);
  EXPECT_EQ(*GgmlTensorSize("x", kGgmlTypeF16, {3}), 6u);
  EXPECT_EQ(*GgmlTensorSize("x", kGgmlTypeBF16, {4, 1, 1, 2}), 16u);
  EXPECT_EQ(*GgmlTensorSize("x", kGgmlTypeQ8_0, {96, 2}), 6u * 34u);
  EXPECT_EQ(*GgmlTensorSize("x", kGgmlTypeF32, {0, 7}), 0u);
  auto bad = GgmlTensorSize("w", 12, {256});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'w'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("12"));
  EXPECT_FALSE(GgmlTensorSize("w", kGgmlTypeQ8_0, {48}).ok());
  EXPECT_FALSE(GgmlTensorSize("w", kGgmlTypeF32, {}).ok());
  EXPECT_FALSE(GgmlTensorSize("w", kGgmlTypeF32, {1, 1, 1, 1, 1}).ok());
  EXPECT_FALSE(GgmlTensorSize("w", kGgmlTypeF32, {1ull << 32, 1ull << 32}).ok());
  EXPECT_FALSE(GgmlTensorSize("w", kGgmlTypeF32, {1ull << 62}).ok());
}

// ---------------------------------------------------------------------------------------------
// Accessors

TEST(GgufValueTest, TypeMismatchesAreErrors) {
  auto msg = [](const Status& s) { return s.message(); };
  EXPECT_THAT(msg(GgufValue::U32(1).AsString().status()), HasSubstr("expected string, found u32"));
  EXPECT_THAT(msg(GgufValue::Str("x").AsUint().status()), HasSubstr("found string"));
  EXPECT_THAT(msg(GgufValue::I32(-3).AsUint().status()), HasSubstr("negative"));
  EXPECT_EQ(*GgufValue::I32(3).AsUint(), 3u);
  EXPECT_EQ(*GgufValue::U8(3).AsInt(), 3);
  EXPECT_FALSE(GgufValue::U64(std::numeric_limits<uint64_t>::max()).AsInt().ok());
  EXPECT_EQ(*GgufValue::U64(std::numeric_limits<uint64_t>::max()).AsUint(),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*GgufValue::I16(-7).AsFloat(), -7.0);
  EXPECT_THAT(msg(GgufValue::Bool(true).AsFloat().status()), HasSubstr("found bool"));
  EXPECT_THAT(msg(GgufValue::U8(1).AsBool().status()), HasSubstr("expected bool, found u8"));
  EXPECT_THAT(msg(GgufValue::StrArray({"a"}).AsString().status()),
              HasSubstr("found array of string"));
  EXPECT_THAT(msg(GgufValue::F32Array({1}).AsStringArray().status()),
              HasSubstr("found array of f32"));
  EXPECT_THAT(msg(GgufValue::Str("a").AsStringArray().status()), HasSubstr("found string"));
  EXPECT_THAT(msg(GgufValue::StrArray({"a"}).AsFloatArray().status()),
              HasSubstr("found array of string"));
  EXPECT_EQ(*GgufValue::I32Array({1, -2}).AsFloatArray(), (std::vector<float>{1, -2}));
  EXPECT_THAT(msg(GgufValue::F32Array({1}).AsInt32Array().status()),
              HasSubstr("found array of f32"));
  EXPECT_THAT(msg(GgufValue::StrArray({}).AsBytes().status()), HasSubstr("array of string"));
  EXPECT_THAT(msg(GgufValue::Str("ab").AsBytes().status()), HasSubstr("found string"));
}

TEST(GgufValueTest, Int32ArrayAcceptsAnyIntegerArrayThatFits) {
  auto u8 = GgufValue::U8Array(std::string("\x01\xff", 2));
  EXPECT_EQ(*u8.AsInt32Array(), (std::vector<int32_t>{1, 255}));
  auto u64 = GgufValue::Array(GgufValueType::kUint64, {GgufValue::U64(5), GgufValue::U64(1)});
  EXPECT_EQ(*u64.AsInt32Array(), (std::vector<int32_t>{5, 1}));
  auto big =
      GgufValue::Array(GgufValueType::kUint64, {GgufValue::U64(1), GgufValue::U64(1ull << 40)});
  auto r = big.AsInt32Array();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("element 1"));
  auto neg = GgufValue::Array(GgufValueType::kInt64, {GgufValue::I64(-(1ll << 31) - 1)});
  EXPECT_FALSE(neg.AsInt32Array().ok());
  auto i8 = GgufValue::Array(GgufValueType::kInt8, {GgufValue::I8(-1), GgufValue::I8(65)});
  EXPECT_EQ(*i8.AsBytes(), std::string("\xff"
                                       "A",
                                       2));
}

// ---------------------------------------------------------------------------------------------
// Corrupt and hostile files

TEST_F(GgufTest, RejectsBadMagic) {
  ExpectOpenError(Bytes().Raw("GGML").U32(3).U64(0).U64(0).str(), "not a GGUF file");
  ExpectOpenError("", "not a GGUF file");
  ExpectOpenError("GG", "not a GGUF file");
}

TEST_F(GgufTest, RejectsUnsupportedVersions) {
  ExpectOpenError(Bytes().Header(1, 0, 0).str(), "version 1 is not supported");
  ExpectOpenError(Bytes().Header(4, 0, 0).str(), "version 4 is not supported");
  ExpectOpenError(Bytes().Header(0, 0, 0).str(), "version 0 is not supported");
  ExpectOpenError(Bytes().Raw("GGUF").U32(0x03000000).U64(0).U64(0).str(), "big-endian");
}

TEST_F(GgufTest, MissingFileIsNotFound) {
  auto g = GgufFile::Open(Path("absent.gguf"));
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(g.status().message(), StartsWith(Path("absent.gguf")));
}

TEST_F(GgufTest, RejectsEveryTruncation) {
  std::vector<float> a = {1, 2, 3};
  std::vector<uint8_t> q(34, 7);
  GgufWriter w;
  w.Set("general.name", GgufValue::Str("tiny"));
  w.Set("scores", GgufValue::F32Array({1, 2}));
  w.Set("tokens", GgufValue::StrArray({"x", "yz"}));
  w.Set("flag", GgufValue::Bool(true));
  w.AddTensor("a", {3}, kGgmlTypeF32, a.data(), 12);
  w.AddTensor("q", {32}, kGgmlTypeQ8_0, q.data(), 34);
  const std::string full_path = Path("full.gguf");
  ASSERT_TRUE(w.Write(full_path).ok());
  const std::string full = *ReadFileToString(full_path);
  ASSERT_TRUE(GgufFile::Open(full_path).ok());
  for (const std::string& bytes : {full, HandBuiltFile()}) {
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string p = WriteBytes("trunc.gguf", bytes.substr(0, n));
      auto g = GgufFile::Open(p);
      ASSERT_FALSE(g.ok()) << "prefix of " << n << " bytes was accepted";
      EXPECT_THAT(g.status().message(), StartsWith(p + ": ")) << n;
    }
  }
}

TEST_F(GgufTest, RejectsHugeStringLengths) {
  // Trailing zeros keep the pair count plausible so that the length itself is what fails.
  ExpectOpenError(Bytes().Header(3, 0, 1).U64(1ull << 63).Raw("key").Zeros(16).str(),
                  "metadata key 0 length 9223372036854775808 at offset 24 exceeds");
  ExpectOpenError(Bytes().Header(3, 0, 1).U64(~0ull).Zeros(16).str(), "exceeds");
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("k").U32(8).U64(100).Raw("short").str(), "exceeds");
  ExpectOpenError(Bytes().Header(3, 1, 0).U64(1ull << 63).Raw("name").Zeros(40).str(),
                  "tensor 0 name length");
  // A string array whose strings claim more than the file holds.
  ExpectOpenError(
      Bytes().Header(3, 0, 1).Str("k").U32(9).U32(8).U64(2).U64(1).Raw("a").U64(1ull << 62).str(),
      "exceeds");
}

TEST_F(GgufTest, RejectsHugeCounts) {
  ExpectOpenError(Bytes().Header(3, 0, 1ull << 60).str(), "metadata count");
  ExpectOpenError(Bytes().Header(3, ~0ull, 0).str(), "tensor count");
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("k").U32(9).U32(4).U64(1ull << 61).U32(1).str(),
                  "cannot fit");
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("k").U32(9).U32(8).U64(~0ull).str(), "cannot fit");
}

TEST_F(GgufTest, RejectsMisalignedTensorOffset) {
  Bytes b;
  b.Header(3, 1, 0).Tensor("w", {4}, kGgmlTypeF32, 4).PadTo(32).Zeros(32);
  ExpectOpenError(b.str(), "tensor 'w' offset 4 is not a multiple of the alignment 32");
  // With general.alignment = 4 the same offset is fine.
  Bytes ok;
  ok.Header(3, 1, 1)
      .KeyU32("general.alignment", 4)
      .Tensor("w", {4}, kGgmlTypeF32, 4)
      .PadTo(4)
      .Zeros(20);
  const std::string p = WriteBytes("align4.gguf", ok.str());
  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ((*g)->alignment(), 4u);
}

TEST_F(GgufTest, RejectsBadAlignment) {
  ExpectOpenError(Bytes().Header(3, 0, 1).KeyU32("general.alignment", 48).str(), "power of two");
  ExpectOpenError(Bytes().Header(3, 0, 1).KeyU32("general.alignment", 0).str(), "power of two");
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("general.alignment").U32(8).Str("32").str(),
                  "general.alignment");
}

TEST_F(GgufTest, RejectsTensorDataPastEof) {
  Bytes b;
  b.Header(3, 1, 0).Tensor("blk.0.attn_q.weight", {8}, kGgmlTypeF32, 0).PadTo(32).Zeros(31);
  // Header 24 + info (8+19+4+8+4+8 = 51) = 75 -> data at 96; 32 bytes needed, 31 present.
  ASSERT_EQ(b.size(), 127u);
  ExpectOpenError(b.str(),
                  "tensor 'blk.0.attn_q.weight' data [96..128) runs past end of file (size 127)");
  // An offset near 2^64 must not wrap around.
  Bytes wrap;
  wrap.Header(3, 1, 0).Tensor("w", {8}, kGgmlTypeF32, ~0ull - 31).PadTo(32).Zeros(32);
  ExpectOpenError(wrap.str(), "overflows");
}

TEST_F(GgufTest, RejectsOverlappingTensors) {
  Bytes b;
  b.Header(3, 2, 0)
      .Tensor("a", {16}, kGgmlTypeF32, 0)  // [0, 64)
      .Tensor("b", {8}, kGgmlTypeF32, 32)  // [32, 64)
      .PadTo(32)
      .Zeros(64);
  ExpectOpenError(b.str(), "overlaps");
  Bytes same;
  same.Header(3, 2, 0)
      .Tensor("a", {8}, kGgmlTypeF32, 0)
      .Tensor("b", {8}, kGgmlTypeF32, 0)
      .PadTo(32)
      .Zeros(32);
  ExpectOpenError(same.str(), "overlaps");
  // Touching is fine, in either file order.
  Bytes touch;
  touch.Header(3, 2, 0)
      .Tensor("b", {8}, kGgmlTypeF32, 32)
      .Tensor("a", {8}, kGgmlTypeF32, 0)
      .PadTo(32)
      .Zeros(64);
  const std::string p = WriteBytes("touch.gguf", touch.str());
  EXPECT_TRUE(GgufFile::Open(p).ok());
}

TEST_F(GgufTest, RejectsDuplicates) {
  ExpectOpenError(Bytes().Header(3, 0, 2).KeyU32("k", 1).KeyU32("k", 2).str(),
                  "duplicate metadata key 'k'");
  ExpectOpenError(Bytes()
                      .Header(3, 2, 0)
                      .Tensor("w", {8}, kGgmlTypeF32, 0)
                      .Tensor("w", {8}, kGgmlTypeF32, 32)
                      .PadTo(32)
                      .Zeros(64)
                      .str(),
                  "duplicate tensor name 'w'");
}

TEST_F(GgufTest, RejectsBadDimensionCounts) {
  ExpectOpenError(
      Bytes().Header(3, 1, 0).Tensor("w", {}, kGgmlTypeF32, 0).PadTo(32).Zeros(32).str(),
      "tensor 'w' has n_dims 0");
  ExpectOpenError(Bytes()
                      .Header(3, 1, 0)
                      .Tensor("w", {1, 1, 1, 1, 1}, kGgmlTypeF32, 0)
                      .PadTo(32)
                      .Zeros(32)
                      .str(),
                  "tensor 'w' has n_dims 5");
  ExpectOpenError(Bytes()
                      .Header(3, 1, 0)
                      .Tensor("w", {1ull << 32, 1ull << 32}, kGgmlTypeF32, 0)
                      .PadTo(32)
                      .str(),
                  "overflows");
}

TEST_F(GgufTest, RejectsBadValues) {
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("flag").U32(7).U8(2).str(),
                  "metadata key 'flag': bool value 2");
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("k").U32(13).U32(0).str(), "unknown value type 13");
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("k").U32(9).U32(13).U64(0).str(),
                  "unknown array element type 13");
  ExpectOpenError(Bytes().Header(3, 0, 1).Str("k").U32(9).U32(7).U64(2).U8(1).U8(5).str(),
                  "bool value 5");
  ExpectOpenError(
      Bytes().Header(3, 0, 1).Str("nested").U32(9).U32(9).U64(1).U32(4).U64(1).U32(0).str(),
      "metadata key 'nested': arrays of arrays are not supported");
}

TEST_F(GgufTest, RejectsUnknownTensorType) {
  ExpectOpenError(
      Bytes().Header(3, 1, 0).Tensor("blk.0.ffn", {256}, 12, 0).PadTo(32).Zeros(144).str(),
      "tensor 'blk.0.ffn' has unsupported ggml type id 12");
  ExpectOpenError(
      Bytes().Header(3, 1, 0).Tensor("q", {48}, kGgmlTypeQ8_0, 0).PadTo(32).Zeros(64).str(),
      "multiple of 32");
  ExpectOpenError(Bytes().Header(3, 1, 0).Tensor("", {1}, kGgmlTypeF32, 0).PadTo(32).Zeros(4).str(),
                  "empty name");
}

// Random corruption of a valid file must give either an error or a file whose tensor data can be
// read in full (ASan catches reads outside the mapping).
TEST_F(GgufTest, SurvivesRandomCorruption) {
  std::vector<float> a = {1, 2, 3, 4};
  GgufWriter w;
  w.Set("tokens", GgufValue::StrArray({"a", "bc"}));
  w.Set("n", GgufValue::U32(2));
  w.AddTensor("a", {2, 2}, kGgmlTypeF32, a.data(), 16);
  w.AddTensor("b", {1}, kGgmlTypeF32, a.data(), 4);
  const std::string p = Path("fuzz.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  const std::string good = *ReadFileToString(p);
  std::mt19937 rng(1234);
  const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x09, 0x0d, 0x20};
  int accepted = 0;
  for (int iter = 0; iter < 1000; ++iter) {
    std::string bad = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bad.size();
      bad[at] = static_cast<char>(rng() % 2 ? rng() & 0xff : interesting[rng() % 8]);
    }
    const std::string q = WriteBytes("fuzzed.gguf", bad);
    auto g = GgufFile::Open(q);
    if (!g.ok()) {
      EXPECT_THAT(g.status().message(), StartsWith(q + ": "));
      continue;
    }
    ++accepted;
    uint64_t sum = 0;
    for (const GgufTensorInfo& t : (*g)->tensors()) {
      for (uint64_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
    }
    for (const auto& [k, v] : (*g)->metadata()) sum += v.array.size() + k.size();
    EXPECT_GE(sum, 0u);
  }
  EXPECT_LT(accepted, 1000);  // most edits hit checked structure
}

// ---------------------------------------------------------------------------------------------
// Writer failures

TEST_F(GgufTest, FailedWriteLeavesOldFileAndNoTemporary) {
  const std::string p = Path("model.gguf");
  std::vector<float> a = {1, 2, 3, 4};
  GgufWriter good;
  good.Set("version", GgufValue::U32(1));
  good.AddTensor("a", {4}, kGgmlTypeF32, a.data(), 16);
  ASSERT_TRUE(good.Write(p).ok());
  const std::string before = *ReadFileToString(p);

  GgufWriter bad;
  bad.Set("version", GgufValue::U32(2));
  bad.AddTensor("a", {4}, kGgmlTypeF32, a.data(), 16);  // written before the failure
  bad.AddTensor("b", {4}, kGgmlTypeF32, nullptr, 16);
  Status st = bad.Write(p);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), StartsWith(p + ": "));
  EXPECT_THAT(st.message(), HasSubstr("'b'"));
  EXPECT_EQ(*ReadFileToString(p), before);
  EXPECT_EQ(DirEntries(), std::vector<std::string>{"model.gguf"});
  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*(*g)->Find("version")->AsUint(), 1u);
}

TEST_F(GgufTest, WriterValidatesInput) {
  float data[64] = {};
  auto expect_fails = [&](const GgufWriter& w, const std::string& needle) {
    const std::string p = Path("out.gguf");
    Status st = w.Write(p);
    ASSERT_FALSE(st.ok()) << needle;
    EXPECT_THAT(st.message(), StartsWith(p + ": "));
    EXPECT_THAT(st.message(), HasSubstr(needle));
    EXPECT_TRUE(DirEntries().empty()) << needle;
  };
  {
    GgufWriter w;
    w.AddTensor("w", {4}, kGgmlTypeF32, data, 16);
    w.AddTensor("w", {4}, kGgmlTypeF32, data, 16);
    expect_fails(w, "duplicate tensor name 'w'");
  }
  {
    GgufWriter w;
    w.AddTensor("w", {}, kGgmlTypeF32, data, 0);
    expect_fails(w, "0 dimensions");
  }
  {
    GgufWriter w;
    w.AddTensor("w", {1, 1, 1, 1, 1}, kGgmlTypeF32, data, 4);
    expect_fails(w, "5 dimensions");
  }
  {
    GgufWriter w;
    w.AddTensor("w", {4}, kGgmlTypeF32, data, 12);
    expect_fails(w, "need 16");
  }
  {
    GgufWriter w;
    w.AddTensor("", {4}, kGgmlTypeF32, data, 16);
    expect_fails(w, "empty name");
  }
  {
    GgufWriter w;
    w.Set("nested", GgufValue::Array(GgufValueType::kArray, {GgufValue::I32Array({1})}));
    expect_fails(w, "metadata key 'nested': arrays of arrays");
  }
  {
    GgufWriter w;
    w.Set("mixed", GgufValue::Array(GgufValueType::kInt32, {GgufValue::Str("x")}));
    expect_fails(w, "element 0 has type string");
  }
  {
    GgufWriter w;
    GgufValue v = GgufValue::U8(1);
    v.scalar = uint64_t{300};
    w.Set("u8", v);
    expect_fails(w, "300 does not fit in type u8");
  }
  {
    GgufWriter w;
    w.set_alignment(48);
    expect_fails(w, "alignment 48");
  }
  {
    GgufWriter w;
    w.Set("general.alignment", GgufValue::U32(64));
    expect_fails(w, "general.alignment");
  }
  {
    // An explicit general.alignment that agrees is written once.
    GgufWriter w;
    w.set_alignment(64);
    w.Set("general.alignment", GgufValue::U32(64));
    w.AddTensor("w", {4}, kGgmlTypeF32, data, 16);
    const std::string p = Path("explicit.gguf");
    ASSERT_TRUE(w.Write(p).ok());
    auto g = GgufFile::Open(p);
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ((*g)->alignment(), 64u);
    EXPECT_EQ((*g)->metadata().size(), 1u);
  }
}

TEST_F(GgufTest, WriterUsesCustomSizeFunction) {
  uint8_t data[5] = {1, 2, 3, 4, 5};
  GgufTensorSizeFn sizer = [](const std::map<std::string, GgufValue>&, const std::string& name, uint32_t type,
                              const std::vector<uint64_t>& dims) -> StatusOr<uint64_t> {
    if (type == 1000) return dims[0] / 2;
    return GgmlTensorSize(name, type, dims);
  };
  GgufWriter w;
  w.set_tensor_size_fn(sizer);
  w.AddTensor("c", {10}, 1000, data, 5);
  const std::string p = Path("c.gguf");
  ASSERT_TRUE(w.Write(p).ok());
  auto g = GgufFile::Open(p, sizer);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(TensorBytes(*(*g)->FindTensor("c")), std::string("\x01\x02\x03\x04\x05"));

  GgufWriter bad;
  bad.set_tensor_size_fn(sizer);
  bad.AddTensor("c", {10}, 1000, data, 4);
  EXPECT_FALSE(bad.Write(Path("bad.gguf")).ok());
}

}  // namespace
}  // namespace tritium

namespace tritium {
namespace {

// A tokenizer embedded as bytes (Qwen's tokenizer.json is 11 MB) in a file that is little else:
// byte arrays are kept packed, so no element budget applies and they read back exactly, also
// through the element-wise accessors.
TEST(GgufBytesTest, LargeByteArraysInASmallFileLoadPacked) {
  std::string bytes(4u << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131) >> 3);
  GgufWriter w;
  w.Set("blob", GgufValue::U8Array(bytes));
  w.Set("small", GgufValue::Array(GgufValueType::kInt8, {GgufValue::I8(-3), GgufValue::I8(7)}));
  const std::string p = ::testing::TempDir() + "/bytes_" + std::to_string(::getpid()) + ".gguf";
  ASSERT_TRUE(w.Write(p).ok());
  auto g = GgufFile::Open(p);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GgufValue* blob = (*g)->Find("blob");
  ASSERT_NE(blob, nullptr);
  EXPECT_TRUE(blob->packed_bytes());
  EXPECT_EQ(blob->AsBytes().value(), bytes);
  EXPECT_EQ(blob->array_size(), bytes.size());
  const GgufValue* small = (*g)->Find("small");
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->AsInt32Array().value(), (std::vector<int32_t>{-3, 7}));
  EXPECT_EQ(small->AsBytes().value(), std::string("\xfd\x07", 2));
  std::remove(p.c_str());
}

}  // namespace
}  // namespace tritium
