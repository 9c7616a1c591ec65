// Conformance of every registered format (AllFormats()), for every valid parameter combination and
// several row lengths, odd ones included. Generic checks use only the Format record (including its
// documented error bound), so a format added to the registry is covered without editing this file.
// The format-specific tests at the end check layouts against hand-derived bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"

namespace tritium {
namespace {

const int64_t kCols[] = {1, 64, 100, 172, 512, 576, 4096};

struct Case {
  const Format* f;
  FormatParams p;
  int64_t cols;
  std::string Name() const {
    return std::string(f->name) + " planes=" + std::to_string(p.planes) +
           " group=" + std::to_string(p.group) + " bits=" + std::to_string(p.bits) +
           " cols=" + std::to_string(cols);
  }
};

std::vector<const Format*> Formats() {
  size_t n = 0;
  const Format* const* all = AllFormats(&n);
  return std::vector<const Format*>(all, all + n);
}

// Every (format, params, cols) that check_params accepts, from a candidate grid wide enough to
// include invalid values on both sides of every valid one.
std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const Format* f : Formats()) {
    for (int planes : {0, 1, 2, 3, 4, 5}) {
      for (int group : {0, 16, 32, 64, 128, 256, 512}) {
        for (int bits : {0, 1, 2, 3, 4, 5, 8, 16}) {
          for (int64_t cols : kCols) {
            FormatParams p{planes, group, bits};
            if (f->check_params(cols, p).ok()) cases.push_back({f, p, cols});
          }
        }
      }
    }
  }
  return cases;
}

// Test data with the features that break encoders: a wide dynamic range across groups, outliers,
// exact zeros, constant runs, values tiny enough to be fp16-subnormal.
std::vector<float> TestRow(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(cols);
  for (int64_t i = 0; i < cols; ++i) {
    const int64_t region = i / 32;
    float scale = std::pow(10.0f, static_cast<float>(region % 7) - 4.0f);  // 1e-4 .. 1e2
    x[i] = normal(rng) * scale;
    if (i % 97 == 5) x[i] *= 20.0f;                    // outlier
    if (i % 53 == 7) x[i] = 0.0f;                      // exact zero
    if (region % 11 == 3) x[i] = 0.3f;                 // constant run
    if (region % 13 == 4) x[i] = normal(rng) * 1e-7f;  // fp16 subnormal range
  }
  return x;
}

TEST(FormatRegistry, IdsAndNamesAreUniqueAndFindable) {
  std::set<uint32_t> ids;
  std::set<std::string> names;
  for (const Format* f : Formats()) {
    const uint32_t raw = static_cast<uint32_t>(f->id);
    EXPECT_TRUE(ids.insert(raw).second) << f->name;
    EXPECT_TRUE(names.insert(f->name).second) << f->name;
    EXPECT_EQ(FindFormat(f->id), f);
    EXPECT_EQ(FindFormatByRawId(raw), f);
    EXPECT_EQ(FindFormatByName(f->name), f);
    std::string lower = f->name;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    EXPECT_EQ(FindFormatByName(lower), f);
    // ggml ids below 1000, tritium's own in [1000, 2000) (format.h).
    EXPECT_LT(raw, 2000u);
    ASSERT_NE(f->check_params, nullptr);
    ASSERT_NE(f->row_bytes, nullptr);
    ASSERT_NE(f->dequantize_row, nullptr);
    ASSERT_NE(f->validate_row, nullptr);
    EXPECT_EQ(f->quantize_row == nullptr, f->error_bound_row == nullptr) << f->name;
  }
  EXPECT_EQ(FindFormatByRawId(999), nullptr);
  EXPECT_EQ(FindFormatByName("IQ2_XXS"), nullptr);
}

TEST(FormatConformance, EveryFormatHasValidParamsAndRejectsBadOnes) {
  std::vector<Case> cases = AllCases();
  for (const Format* f : Formats()) {
    bool any = false;
    for (const Case& c : cases) any |= c.f == f;
    EXPECT_TRUE(any) << f->name << " accepts no params in the grid";
    EXPECT_FALSE(f->check_params(0, FormatParams{}).ok()) << f->name;
    EXPECT_FALSE(f->check_params(64, FormatParams{7, 33, 7}).ok()) << f->name;
  }
}

TEST(FormatConformance, RowBytesAgreeWithBitsPerWeight) {
  for (const Case& c : AllCases()) {
    SCOPED_TRACE(c.Name());
    const size_t rb = c.f->row_bytes(c.cols, c.p);
    EXPECT_GT(rb, 0u);
    EXPECT_DOUBLE_EQ(BitsPerWeight(*c.f, c.cols, c.p) * static_cast<double>(c.cols), 8.0 * rb);
    // A longer row never takes fewer bytes (padding is per row, never negative).
    for (int64_t shorter : kCols) {
      if (shorter < c.cols && c.f->check_params(shorter, c.p).ok()) {
        EXPECT_LE(c.f->row_bytes(shorter, c.p), rb);
      }
    }
  }
}

TEST(FormatConformance, QuantizeDequantizeWithinDocumentedBound) {
  int checked = 0;
  for (const Case& c : AllCases()) {
    if (c.f->quantize_row == nullptr) continue;
    SCOPED_TRACE(c.Name());
    for (uint32_t seed : {1u, 2u}) {
      std::vector<float> x = TestRow(c.cols, seed);
      std::vector<uint8_t> packed(c.f->row_bytes(c.cols, c.p) + 16, 0xAB);
      c.f->quantize_row(x.data(), packed.data(), c.cols, c.p);
      for (size_t i = packed.size() - 16; i < packed.size(); ++i) {
        ASSERT_EQ(packed[i], 0xAB) << "quantize_row wrote past row_bytes";
      }
      ASSERT_TRUE(c.f->validate_row(packed.data(), c.cols, c.p).ok());
      std::vector<float> y(c.cols), bound(c.cols);
      c.f->dequantize_row(packed.data(), y.data(), c.cols, c.p);
      c.f->error_bound_row(x.data(), packed.data(), bound.data(), c.cols, c.p);
      for (int64_t i = 0; i < c.cols; ++i) {
        ASSERT_TRUE(std::isfinite(y[i]));
        ASSERT_LE(std::fabs(x[i] - y[i]), bound[i]) << "i=" << i << " x=" << x[i];
      }
      // Deterministic: the same input encodes to the same bytes.
      std::vector<uint8_t> again(packed.size(), 0xAB);
      c.f->quantize_row(x.data(), again.data(), c.cols, c.p);
      ASSERT_EQ(again, packed);
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);
}

TEST(FormatConformance, NonFiniteInputsEncodeToValidRows) {
  for (const Case& c : AllCases()) {
    if (c.f->quantize_row == nullptr) continue;
    SCOPED_TRACE(c.Name());
    std::vector<float> x = TestRow(c.cols, 3);
    x[0] = NAN;
    if (c.cols > 2) x[2] = INFINITY;
    std::vector<uint8_t> packed(c.f->row_bytes(c.cols, c.p));
    c.f->quantize_row(x.data(), packed.data(), c.cols, c.p);
    EXPECT_TRUE(c.f->validate_row(packed.data(), c.cols, c.p).ok());
  }
}

TEST(FormatConformance, ValidateRejectsAllOnesRow) {
  // 0xFF.. is a NaN in every float width and an out-of-range code or scale in every packed layout.
  for (const Case& c : AllCases()) {
    SCOPED_TRACE(c.Name());
    std::vector<uint8_t> row(c.f->row_bytes(c.cols, c.p), 0xFF);
    EXPECT_FALSE(c.f->validate_row(row.data(), c.cols, c.p).ok());
  }
}

// Whatever validate_row accepts must decode to finite values: it is the only screen between an
// untrusted file and the kernels. Rows are valid encodings with single bytes corrupted, plus random
// bytes (which reach formats without an encoder).
TEST(FormatConformance, AcceptedRowsDecodeToFiniteValues) {
  std::mt19937 rng(7);
  int accepted = 0, rejected = 0;
  for (const Case& c : AllCases()) {
    if (c.cols > 576) continue;  // keeps the byte-by-byte sweep fast
    SCOPED_TRACE(c.Name());
    const size_t rb = c.f->row_bytes(c.cols, c.p);
    std::vector<float> y(c.cols);
    auto check = [&](const std::vector<uint8_t>& row) {
      if (!c.f->validate_row(row.data(), c.cols, c.p).ok()) {
        ++rejected;
        return;
      }
      ++accepted;
      c.f->dequantize_row(row.data(), y.data(), c.cols, c.p);
      for (float v : y) ASSERT_TRUE(std::isfinite(v));
    };
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<uint8_t> row(rb);
      for (auto& b : row) b = static_cast<uint8_t>(rng() % (trial < 2 ? 256 : 243));
      check(row);
    }
    if (c.f->quantize_row == nullptr) continue;
    std::vector<float> x = TestRow(c.cols, 4);
    std::vector<uint8_t> good(rb);
    c.f->quantize_row(x.data(), good.data(), c.cols, c.p);
    for (size_t i = 0; i < rb; ++i) {
      for (uint8_t v : {uint8_t{0x7C}, uint8_t{0x7F}, uint8_t{0xFF}, uint8_t{250}}) {
        std::vector<uint8_t> row = good;
        row[i] = v;
        check(row);
      }
    }
  }
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 100);
}

// ---- Format-specific checks against hand-derived bytes and numbers. ----

TEST(FormatLayouts, BitsPerWeightOfFullGroups) {
  const int64_t cols = 4096;
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindFormat(FormatId::kF32), cols, {}), 32.0);
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindFormat(FormatId::kF16), cols, {}), 16.0);
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindFormat(FormatId::kBF16), cols, {}), 16.0);
  EXPECT_DOUBLE_EQ(BitsPerWeight(*FindFormat(FormatId::kQ8_0), cols, {}), 8.5);
  // TRIT_PLANES: K (16 + 8 ceil(G / 5)) / G; 3.5 for the paper's K = 2, G = 128.
  const Format& tp = *FindFormat(FormatId::kTritPlanes);
  const double per_plane[] = {2.25, 1.875, 1.75, 1.6875};  // G = 32, 64, 128, 256
  for (int k = 1; k <= 4; ++k) {
    for (int gi = 0; gi < 4; ++gi) {
      EXPECT_DOUBLE_EQ(BitsPerWeight(tp, cols, {k, 32 << gi, 0}), k * per_plane[gi]);
    }
  }
  EXPECT_DOUBLE_EQ(BitsPerWeight(tp, cols, {2, 128, 0}), 3.5);
  // INT_G: B + 32 / G.
  const Format& ig = *FindFormat(FormatId::kIntG);
  for (int b : {2, 3, 4, 8}) {
    for (int g : {32, 64, 128, 256}) {
      EXPECT_DOUBLE_EQ(BitsPerWeight(ig, cols, {0, g, b}), b + 32.0 / g);
    }
  }
  // Ragged rows count their short last group: 172 = 128 + 44 -> 2 * (2 + 26) + 2 * (2 + 9) bytes.
  EXPECT_EQ(tp.row_bytes(172, {2, 128, 0}), 56u + 22u);
  // INT_G 3-bit, 100 = 64 + 36: (4 + 24) + (4 + ceil(108 / 8) = 14) bytes.
  EXPECT_EQ(ig.row_bytes(100, {0, 64, 3}), 28u + 18u);
}

TEST(TritPlanes, PackUnpackRoundTripsEveryPattern) {
  // Every pattern of 5 trits, at every length 1..5 (the last byte of a plane), and every byte.
  for (int n = 1; n <= 5; ++n) {
    int patterns = 1;
    for (int i = 0; i < n; ++i) patterns *= 3;
    std::set<uint8_t> seen;
    for (int p = 0; p < patterns; ++p) {
      int8_t t[5], back[5];
      int v = p;
      for (int i = 0; i < n; ++i, v /= 3) t[i] = static_cast<int8_t>(v % 3 - 1);
      uint8_t byte = 0;
      PackTritGroup(t, n, &byte);
      EXPECT_TRUE(TritGroupValid(&byte, n));
      EXPECT_TRUE(seen.insert(byte).second);
      UnpackTritGroup(&byte, n, back);
      for (int i = 0; i < n; ++i) ASSERT_EQ(back[i], t[i]);
      // Hand-written digit rule: byte = sum (t_i + 1) 3^i, padding digits 1.
      int expect = 0, pow3 = 1;
      for (int i = 0; i < 5; ++i, pow3 *= 3) expect += (i < n ? t[i] + 1 : 1) * pow3;
      EXPECT_EQ(byte, expect);
    }
  }
  for (int b = 0; b < 243; ++b) {
    int v = b;
    for (int i = 0; i < 5; ++i, v /= 3) EXPECT_EQ(TritDecodeTable()[b][i], v % 3 - 1);
  }
  // Long planes, including a length that leaves 3 trits in the last byte (128 = 25 * 5 + 3).
  std::mt19937 rng(1);
  for (int n : {1, 7, 32, 64, 128, 130, 256}) {
    std::vector<int8_t> t(n), back(n);
    for (auto& x : t) x = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    std::vector<uint8_t> bytes(TritPlaneBytes(n));
    PackTritGroup(t.data(), n, bytes.data());
    EXPECT_TRUE(TritGroupValid(bytes.data(), n));
    UnpackTritGroup(bytes.data(), n, back.data());
    EXPECT_EQ(back, t);
  }
  EXPECT_EQ(TritPlaneBytes(128), 26);
  EXPECT_EQ(TritPlaneBytes(130), 26);
}

TEST(TritPlanes, ValidationRejectsBadBytesPaddingAndScales) {
  const Format& f = *FindFormat(FormatId::kTritPlanes);
  const FormatParams p{2, 32, 0};
  const int64_t cols = 40;  // one group of 32 and one of 8 (two bytes: 5 trits + 3 and padding)
  std::vector<uint8_t> row(f.row_bytes(cols, p));
  ASSERT_EQ(row.size(), 2 * (2 + 7) + 2 * (2 + 2u));
  // Build: group 0 scales 1.0, 0.5; every trit 0 except a few; group 1 scales 2.0, 0.25.
  std::vector<int8_t> zeros(32, 0), t0(32, 0), t1(32, 0);
  t0[0] = 1;
  t1[31] = -1;
  uint8_t* g0 = row.data();
  uint16_t one = F32ToF16(1.0f), half = F32ToF16(0.5f), two = F32ToF16(2.0f), q = F32ToF16(0.25f);
  std::memcpy(g0 + TritScaleOffset(0), &one, 2);
  std::memcpy(g0 + TritScaleOffset(1), &half, 2);
  PackTritGroup(t0.data(), 32, g0 + TritPlaneOffset(32, 2, 0));
  PackTritGroup(t1.data(), 32, g0 + TritPlaneOffset(32, 2, 1));
  uint8_t* g1 = row.data() + TritGroupBytes(32, 2);
  std::memcpy(g1 + TritScaleOffset(0), &two, 2);
  std::memcpy(g1 + TritScaleOffset(1), &q, 2);
  std::vector<int8_t> u0 = {1, 1, 0, 0, 0, 0, 0, -1}, u1 = {1, -1, 0, 0, 0, 0, 0, 1};
  PackTritGroup(u0.data(), 8, g1 + TritPlaneOffset(8, 2, 0));
  PackTritGroup(u1.data(), 8, g1 + TritPlaneOffset(8, 2, 1));
  ASSERT_TRUE(f.validate_row(row.data(), cols, p).ok());
  std::vector<float> y(cols);
  f.dequantize_row(row.data(), y.data(), cols, p);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[31], -0.5f);
  EXPECT_EQ(y[5], 0.0f);
  EXPECT_EQ(y[32], 2.25f);
  EXPECT_EQ(y[33], 1.75f);
  EXPECT_EQ(y[39], -1.75f);

  auto corrupt = [&](size_t offset, uint8_t value) {
    std::vector<uint8_t> bad = row;
    bad[offset] = value;
    return f.validate_row(bad.data(), cols, p).ok();
  };
  EXPECT_FALSE(corrupt(TritPlaneOffset(32, 2, 1) + 3, 250));  // trit byte of 250
  EXPECT_FALSE(corrupt(TritPlaneOffset(32, 2, 0), 243));
  EXPECT_TRUE(corrupt(TritPlaneOffset(32, 2, 0), 242));  // 5 trits of +1
  EXPECT_FALSE(corrupt(TritScaleOffset(1) + 1, 0x7E));   // 0x7E00-ish: NaN scale
  EXPECT_FALSE(corrupt(TritScaleOffset(0) + 1, 0x7C));   // infinite scale (low byte 0)
  // Group 1's second byte of plane 0 holds 3 trits + 2 padding digits, which must be 1 (trit 0):
  // digits (1,1,1,1,1) = 121 is valid, (1,1,1,0,1) = 94 has a padding digit 0.
  const size_t last = TritGroupBytes(32, 2) + TritPlaneOffset(8, 2, 0) + 1;
  EXPECT_TRUE(corrupt(last, 121));
  EXPECT_FALSE(corrupt(last, 94));
  // An inf scale in the second (short) group.
  EXPECT_FALSE(corrupt(TritGroupBytes(32, 2) + 1, 0xFC));
}

TEST(IntG, HandBuiltGroupDecodesAndValidates) {
  const Format& f = *FindFormat(FormatId::kIntG);
  const FormatParams p{0, 32, 3};
  const int64_t cols = 35;  // a group of 32 (12 code bytes) and one of 3 (9 bits: 2 bytes)
  std::vector<uint8_t> row(f.row_bytes(cols, p));
  ASSERT_EQ(row.size(), 16u + 6u);
  std::vector<float> x(cols);
  for (int i = 0; i < 32; ++i) x[i] = -1.0f + 0.5f * (i % 8);  // exactly m = -1, s = 0.5
  x[32] = 0.0f;
  x[33] = 7.0f;
  x[34] = 3.5f;  // m = 0, s = 1: codes 0, 7, 4 (3.5 rounds half away from zero)
  f.quantize_row(x.data(), row.data(), cols, p);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(row[0] | row[1] << 8)), 0.5f);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(row[2] | row[3] << 8)), -1.0f);
  // Codes 0,1,...,7 repeated, 3 bits each LSB first: 0 | 1<<3 | 2<<6 = 0x88, ...
  EXPECT_EQ(row[4], 0x88);
  EXPECT_EQ(IntGGetCode(row.data() + 4, 5, 3), 5);
  const uint8_t* g1 = row.data() + 16;
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(g1[0] | g1[1] << 8)), 1.0f);
  EXPECT_EQ(g1[4], 0 | 7 << 3 | (4 & 3) << 6);
  EXPECT_EQ(g1[5], 4 >> 2);
  std::vector<float> y(cols);
  f.dequantize_row(row.data(), y.data(), cols, p);
  for (int i = 0; i < 34; ++i) EXPECT_EQ(y[i], x[i]) << i;
  EXPECT_EQ(y[34], 4.0f);
  ASSERT_TRUE(f.validate_row(row.data(), cols, p).ok());
  std::vector<uint8_t> bad = row;
  bad[1] = 0x7E;  // NaN scale
  EXPECT_FALSE(f.validate_row(bad.data(), cols, p).ok());
  bad = row;
  bad[16 + 3] = 0xFC;  // -inf minimum in the short group
  EXPECT_FALSE(f.validate_row(bad.data(), cols, p).ok());
  bad = row;
  bad[21] |= 0x80;  // a padding bit past the 9 used bits
  EXPECT_FALSE(f.validate_row(bad.data(), cols, p).ok());
}

TEST(IntG, ScaleIsRangeOverLevelsWithinFp16Rounding) {
  const Format& f = *FindFormat(FormatId::kIntG);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-2.0f, 3.0f);
  for (int bits : {2, 3, 4, 8}) {
    std::vector<float> x(128);
    for (auto& v : x) v = u(rng);
    std::vector<uint8_t> row(f.row_bytes(128, {0, 128, bits}));
    f.quantize_row(x.data(), row.data(), 128, {0, 128, bits});
    const float lo = *std::min_element(x.begin(), x.end());
    const float hi = *std::max_element(x.begin(), x.end());
    const float s = F16ToF32(static_cast<uint16_t>(row[0] | row[1] << 8));
    const float m = F16ToF32(static_cast<uint16_t>(row[2] | row[3] << 8));
    EXPECT_LE(m, lo);
    EXPECT_GT(m, lo - std::fabs(lo) * 0x1p-10f);
    const float step = (hi - lo) / ((1 << bits) - 1);
    EXPECT_GE(s, step);
    EXPECT_LT(s, step * (1 + 0x1p-9f));
  }
}

TEST(Q8_0, MatchesGgmlRuleOnHandDerivedBlock) {
  const Format& f = *FindFormat(FormatId::kQ8_0);
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // amax 127 -> d = 1.0 (fp16 0x3C00)
  x[1] = -63.5f;  // roundf: half away from zero -> -64
  x[2] = 2.5f;    // -> 3
  x[3] = -127.0f;
  x[4] = 0.49f;
  std::vector<uint8_t> row(f.row_bytes(32, {}));
  ASSERT_EQ(row.size(), 34u);
  f.quantize_row(x.data(), row.data(), 32, {});
  EXPECT_EQ(row[0], 0x00);
  EXPECT_EQ(row[1], 0x3C);
  EXPECT_EQ(static_cast<int8_t>(row[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(row[3]), -64);
  EXPECT_EQ(static_cast<int8_t>(row[4]), 3);
  EXPECT_EQ(static_cast<int8_t>(row[5]), -127);
  EXPECT_EQ(static_cast<int8_t>(row[6]), 0);
  EXPECT_FALSE(f.check_params(100, {}).ok());
}

TEST(PlainFloats, ExactWhereRepresentableAndSaturating) {
  const float vals[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 1e-7f, 70000.0f, 3.1415926f};
  const int n = 8;
  std::vector<uint8_t> buf(4 * n);
  std::vector<float> y(n);
  const Format& f32 = *FindFormat(FormatId::kF32);
  f32.quantize_row(vals, buf.data(), n, {});
  f32.dequantize_row(buf.data(), y.data(), n, {});
  for (int i = 0; i < n; ++i) EXPECT_EQ(y[i], vals[i]);
  const Format& f16 = *FindFormat(FormatId::kF16);
  f16.quantize_row(vals, buf.data(), n, {});
  f16.dequantize_row(buf.data(), y.data(), n, {});
  EXPECT_EQ(y[3], -2.5f);
  EXPECT_EQ(y[4], 65504.0f);
  EXPECT_EQ(y[6], 65504.0f);  // saturates instead of becoming inf
  EXPECT_EQ(y[7], RoundToF16(3.1415926f));
  const Format& bf16 = *FindFormat(FormatId::kBF16);
  bf16.quantize_row(vals, buf.data(), n, {});
  bf16.dequantize_row(buf.data(), y.data(), n, {});
  EXPECT_EQ(y[3], -2.5f);
  EXPECT_EQ(y[6], 70144.0f);  // nearest bf16 (8-bit significand) to 70000
  const float big = 3.4e38f;
  bf16.quantize_row(&big, buf.data(), 1, {});
  EXPECT_TRUE(bf16.validate_row(buf.data(), 1, {}).ok());
}

}  // namespace
}  // namespace tritium
