// RTN into INT_G: the per-element bound s/2 against the stored scale, hand-derived codes, ragged
// rows, non-finite weights and thread-count determinism.
#include "src/quant/rtn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "src/base/fp16.h"
#include "src/base/threads.h"
#include "src/formats/format.h"
#include "src/formats/int_g.h"

namespace tritium {
namespace {

std::vector<float> Gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

QuantResult RunRtn(const std::vector<float>& w, int64_t rows, int64_t cols, int bits, int group,
                   ThreadPool* pool = nullptr) {
  QuantOptions o;
  o.method = "rtn";
  o.bits = bits;
  o.group = group;
  auto r = kRtnMethod.quantize(w.data(), rows, cols, o, pool);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

TEST(Rtn, EveryElementWithinHalfAStepOfItsGroup) {
  const Format& f = *FindFormat(FormatId::kIntG);
  for (int bits : {2, 3, 4, 8}) {
    for (int group : {32, 64, 128, 256}) {
      for (int64_t cols : {int64_t{1}, int64_t{100}, int64_t{172}, int64_t{576}}) {
        const int64_t rows = 5;
        std::vector<float> w = Gaussian(rows * cols, bits * 1000 + group + cols);
        QuantResult q = RunRtn(w, rows, cols, bits, group);
        ASSERT_EQ(q.format, FormatId::kIntG);
        ASSERT_EQ(q.params, (FormatParams{0, group, bits}));
        const size_t rb = f.row_bytes(cols, q.params);
        ASSERT_EQ(q.data.size(), rows * rb);
        std::vector<float> deq(cols);
        double err = 0, norm = 0;
        for (int64_t r = 0; r < rows; ++r) {
          const uint8_t* row = q.data.data() + r * rb;
          ASSERT_TRUE(f.validate_row(row, cols, q.params).ok());
          f.dequantize_row(row, deq.data(), cols, q.params);
          for (int64_t c0 = 0; c0 < cols; c0 += group) {
            const int n = static_cast<int>(std::min<int64_t>(group, cols - c0));
            const uint8_t* grp = row + (c0 / group) * IntGGroupBytes(group, bits);
            const float s = F16ToF32(static_cast<uint16_t>(grp[0] | grp[1] << 8));
            for (int i = 0; i < n; ++i) {
              const float x = w[r * cols + c0 + i];
              ASSERT_LE(std::fabs(x - deq[c0 + i]), 0.5f * s * (1 + 1e-5f) + 1e-7f);
            }
          }
          for (int64_t j = 0; j < cols; ++j) {
            err += std::pow(double{w[r * cols + j]} - deq[j], 2);
            norm += std::pow(double{w[r * cols + j]}, 2);
          }
        }
        EXPECT_NEAR(q.sq_err, err, 1e-9 * err + 1e-30);
        EXPECT_NEAR(q.sq_norm, norm, 1e-9 * norm);
      }
    }
  }
}

TEST(Rtn, HandDerivedTwoBitGroup) {
  // min -1.5, max 1.5, 2 bits: s = 3 / 3 = 1, m = -1.5 (both exact in fp16). Codes round((x
  // + 1.5)): -1.5 -> 0, -0.4 -> 1, 0.6 -> 2 (2.1), 1.5 -> 3; 0.0 -> 2 (1.5 rounds half away from
  // zero).
  std::vector<float> w(32, 0.0f);
  w[0] = -1.5f;
  w[1] = -0.4f;
  w[2] = 0.6f;
  w[3] = 1.5f;
  QuantResult q = RunRtn(w, 1, 32, 2, 32);
  ASSERT_EQ(q.data.size(), 4u + 8u);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(q.data[0] | q.data[1] << 8)), 1.0f);
  EXPECT_EQ(F16ToF32(static_cast<uint16_t>(q.data[2] | q.data[3] << 8)), -1.5f);
  EXPECT_EQ(q.data[4], 0 | 1 << 2 | 2 << 4 | 3 << 6);
  EXPECT_EQ(q.data[5], 0xAA);                                   // four zeros -> code 2 each
  EXPECT_NEAR(q.sq_err, 2 * 0.1 * 0.1 + 28 * 0.5 * 0.5, 1e-6);  // -0.4 -> -0.5, 0.6 -> 0.5
}

TEST(Rtn, ErrorShrinksWithBitsAndNonFiniteIsCounted) {
  const int64_t rows = 64, cols = 512;
  std::vector<float> w = Gaussian(rows * cols, 3);
  double prev = INFINITY;
  for (int bits : {2, 3, 4, 8}) {
    QuantResult q = RunRtn(w, rows, cols, bits, 128);
    const double rel = q.sq_err / q.sq_norm;
    EXPECT_LT(rel, prev);
    // Uniform step ~ range / (2^B - 1) with range ~ 5.5 sigma for 128 Gaussian samples: MSE ~
    // step^2 / 12, i.e. ~2.5 / (2^B - 1)^2 of the variance.
    const double levels = (1 << bits) - 1;
    EXPECT_LT(rel, 3.5 / (levels * levels));
    EXPECT_GT(rel, 1.5 / (levels * levels));
    prev = rel;
  }
  w[7] = NAN;
  w[cols + 3] = -INFINITY;
  QuantResult q = RunRtn(w, rows, cols, 4, 128);
  EXPECT_EQ(q.nonfinite, 2);
  EXPECT_TRUE(std::isfinite(q.sq_err));
  const Format& f = *FindFormat(FormatId::kIntG);
  EXPECT_TRUE(f.validate_row(q.data.data(), cols, q.params).ok());
}

TEST(Rtn, ThreadCountDoesNotChangeTheBytes) {
  const int64_t rows = 37, cols = 300;
  std::vector<float> w = Gaussian(rows * cols, 4);
  QuantResult base = RunRtn(w, rows, cols, 3, 64);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    QuantResult q = RunRtn(w, rows, cols, 3, 64, &pool);
    EXPECT_EQ(q.data, base.data);
    EXPECT_EQ(q.sq_err, base.sq_err);
  }
}

TEST(Rtn, RejectsBadOptions) {
  std::vector<float> w(128, 0.0f);
  QuantOptions o;
  o.method = "rtn";
  o.bits = 5;
  EXPECT_FALSE(kRtnMethod.quantize(w.data(), 1, 128, o, nullptr).ok());
  o.bits = 4;
  o.group = 48;
  EXPECT_FALSE(kRtnMethod.quantize(w.data(), 1, 128, o, nullptr).ok());
  EXPECT_EQ(FindMethod("rtn"), &kRtnMethod);
}

}  // namespace
}  // namespace tritium
