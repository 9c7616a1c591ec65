// PTQTP against independent truth: hand-derived segments, the documented tie order, exhaustive
// enumeration, monotonicity of the alternation, thread-count determinism and error levels derived
// from the Gaussian's optimal quantizers.
#include "src/quant/ptqtp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "src/base/cpu_features.h"
#include "src/base/fp16.h"
#include "src/base/threads.h"
#include "src/formats/format.h"
#include "src/formats/trit_planes.h"
#include "src/quant/rtn.h"

namespace tritium {
namespace {

using ptqtp::ComboLevel;
using ptqtp::ComboTrit;
using ptqtp::NumCombos;

std::vector<float> Gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

QuantResult RunPtqtp(const std::vector<float>& w, int64_t rows, int64_t cols, QuantOptions o,
                     ThreadPool* pool = nullptr) {
  auto r = kPtqtpMethod.quantize(w.data(), rows, cols, o, pool);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

// Decodes trits and scales of group g of row r from the packed data.
void DecodeGroup(const QuantResult& q, int64_t cols, int64_t r, int64_t g, std::vector<float>* a,
                 std::vector<std::vector<int8_t>>* t) {
  const Format& f = *FindFormat(FormatId::kTritPlanes);
  const int K = q.params.planes, G = q.params.group;
  const uint8_t* row = q.data.data() + r * f.row_bytes(cols, q.params);
  const uint8_t* grp = row + g * TritGroupBytes(G, K);
  const int n = static_cast<int>(std::min<int64_t>(G, cols - g * G));
  a->assign(K, 0.0f);
  t->assign(K, std::vector<int8_t>(n));
  for (int k = 0; k < K; ++k) {
    (*a)[k] = F16ToF32(static_cast<uint16_t>(grp[2 * k] | grp[2 * k + 1] << 8));
    UnpackTritGroup(grp + TritPlaneOffset(n, K, k), n, (*t)[k].data());
  }
}

TEST(PtqtpTieOrder, K2IsTheDocumentedList) {
  const int expected[9][2] = {{0, 0}, {0, 1},  {0, -1}, {1, 0},  {-1, 0},
                              {1, 1}, {1, -1}, {-1, 1}, {-1, -1}};
  const std::vector<int>& order = ptqtp::TieOrder(2);
  ASSERT_EQ(order.size(), 9u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(ComboTrit(order[i], 0), expected[i][0]) << i;
    EXPECT_EQ(ComboTrit(order[i], 1), expected[i][1]) << i;
    EXPECT_EQ(ptqtp::TieRank(2, order[i]), i);
  }
}

TEST(PtqtpTieOrder, GeneralKProperties) {
  for (int K = 1; K <= 4; ++K) {
    const std::vector<int>& order = ptqtp::TieOrder(K);
    ASSERT_EQ(static_cast<int>(order.size()), NumCombos(K));
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (int c = 0; c < NumCombos(K); ++c) EXPECT_EQ(sorted[c], c);  // a permutation
    EXPECT_EQ(order[0], ptqtp::ZeroCombo(K));
    int prev_nnz = 0;
    for (int c : order) {
      int nnz = 0;
      for (int k = 0; k < K; ++k) nnz += ComboTrit(c, k) != 0;
      EXPECT_GE(nnz, prev_nnz);
      prev_nnz = nnz;
    }
    // Singles: last plane first, +1 before -1.
    for (int k = 0; k < K; ++k) {
      const int plus = order[1 + 2 * k], minus = order[2 + 2 * k];
      EXPECT_EQ(ComboTrit(plus, K - 1 - k), 1);
      EXPECT_EQ(ComboTrit(minus, K - 1 - k), -1);
    }
  }
  // K = 1: 0, +1, -1. K = 3, pairs: support {1,2} before {0,2} before {0,1}.
  EXPECT_EQ(ComboTrit(ptqtp::TieOrder(1)[1], 0), 1);
  const std::vector<int>& o3 = ptqtp::TieOrder(3);
  EXPECT_EQ(ComboTrit(o3[7], 0), 0);
  EXPECT_EQ(ComboTrit(o3[7], 1), 1);
  EXPECT_EQ(ComboTrit(o3[7], 2), 1);
  EXPECT_EQ(ComboTrit(o3[11], 1), 0);
  EXPECT_EQ(ComboTrit(o3[15], 2), 0);
}

TEST(PtqtpTritSearch, SortedSearchEqualsBruteForce) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  int ties = 0;
  for (int K = 1; K <= 4; ++K) {
    for (int trial = 0; trial < (K <= 2 ? 300 : 40); ++trial) {
      double a[4];
      for (double& x : a) x = u(rng);
      if (trial % 5 == 1) a[K - 1] = a[0];      // equal scales: duplicate levels
      if (trial % 5 == 2) a[0] = 2 * a[K - 1];  // a1 - a2 = a2: coincident levels
      if (trial % 5 == 3) a[0] = 0.0;           // a dead plane
      if (trial % 5 == 4)
        for (double& x : a) x = std::round(x * 4) / 4;  // exact midpoints
      const ptqtp::TritSearch search(a, K);
      std::vector<double> probes;
      for (int c = 0; c < NumCombos(K); ++c) {
        const double l = ComboLevel(K, c, a);
        probes.push_back(l);
        for (int d = 0; d < NumCombos(K); ++d) {
          probes.push_back(0.5 * (l + ComboLevel(K, d, a)));  // every midpoint: a tie
        }
      }
      for (int i = 0; i < 50; ++i) probes.push_back(3 * u(rng));
      for (double w : probes) {
        const int fast = search.Find(w), ref = ptqtp::BruteForceTritSearch(w, a, K);
        ASSERT_EQ(fast, ref) << "K=" << K << " w=" << w;
        ties += fast != ptqtp::TieOrder(K)[0];
      }
    }
  }
  EXPECT_GT(ties, 0);
}

// The AVX2 trit step (K <= 2) against its scalar twin: the same codes and the same "changed" flag,
// including exact ties (weights on midpoints, duplicate and coincident levels, a dead plane) and
// non-finite weights, at lengths that leave a scalar tail.
TEST(PtqtpTritSearch, Avx2TritStepEqualsScalarTwin) {
#if defined(__x86_64__)
  if (!GetCpuFeatures().avx2_fma) GTEST_SKIP() << "this CPU has no AVX2: twin not run";
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  int compared = 0;
  for (int K = 1; K <= 2; ++K) {
    for (int trial = 0; trial < 400; ++trial) {
      double a[2];
      for (double& x : a) x = std::round(u(rng) * 64) / 64;  // levels and midpoints exact floats
      if (trial % 5 == 1) a[K - 1] = a[0];
      if (trial % 5 == 2) a[0] = 2 * a[K - 1];
      if (trial % 5 == 3) a[0] = 0.0;
      if (trial % 5 == 4) a[1] = u(rng);
      std::vector<float> w;
      for (int c = 0; c < NumCombos(K); ++c) {
        const double l = ComboLevel(K, c, a);
        w.push_back(static_cast<float>(l));
        for (int d = 0; d < NumCombos(K); ++d) {
          w.push_back(static_cast<float>(0.5 * (l + ComboLevel(K, d, a))));
        }
      }
      for (int i = 0; i < 40; ++i) w.push_back(static_cast<float>(2 * u(rng)));
      w.push_back(NAN);
      w.push_back(INFINITY);
      w.push_back(-INFINITY);
      std::shuffle(w.begin(), w.end(), rng);
      w.resize(w.size() - trial % 4);  // every tail length
      const int n = static_cast<int>(w.size());
      std::vector<uint8_t> start(n);
      for (auto& c : start) c = static_cast<uint8_t>(rng() % NumCombos(K));
      if (trial % 7 == 0) ptqtp::TritStepScalar(w.data(), n, K, a, start.data());  // a fixed point
      std::vector<uint8_t> c1 = start, c2 = start;
      const bool ch1 = ptqtp::TritStepScalar(w.data(), n, K, a, c1.data());
      const bool ch2 = ptqtp::TritStepAvx2(w.data(), n, K, a, c2.data());
      ASSERT_EQ(c1, c2) << "K=" << K << " trial " << trial;
      ASSERT_EQ(ch1, ch2) << "K=" << K << " trial " << trial;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 800);
#else
  GTEST_SKIP() << "not an x86-64 build: no AVX2 twin";
#endif
}

// For K = 2 and fixed scales, the trit step must be the optimum over all 9^n joint assignments.
TEST(PtqtpTritSearch, TritStepIsOptimalOverAllAssignments) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  const int n = 5;  // 9^5 = 59049 assignments
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<float> w(n);
    for (auto& x : w) x = u(rng);
    const double a[2] = {std::fabs(u(rng)) + 0.1, std::fabs(u(rng)) * 0.5};
    std::vector<uint8_t> codes(n, 0);
    ptqtp::TritStep(w.data(), n, 2, a, codes.data());
    const double got = ptqtp::SegmentObjective(w.data(), nullptr, codes.data(), n, 2, a);
    double best = INFINITY;
    std::vector<uint8_t> c(n);
    for (int m = 0; m < 59049; ++m) {
      int v = m;
      for (int j = 0; j < n; ++j, v /= 9) c[j] = static_cast<uint8_t>(v % 9);
      best = std::min(best, ptqtp::SegmentObjective(w.data(), nullptr, c.data(), n, 2, a));
    }
    EXPECT_LE(got, best * (1 + 1e-12)) << trial;
  }
}

TEST(PtqtpSteps, AlternationNeverIncreasesTheObjective) {
  for (int K = 1; K <= 4; ++K) {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      std::vector<float> w = Gaussian(128, seed * 10 + K);
      std::vector<float> h = Gaussian(128, seed * 7 + K);
      for (auto& x : h) x = x * x;
      const float* imp = seed % 2 ? h.data() : nullptr;
      std::vector<uint8_t> codes(128);
      for (int j = 0; j < 128; ++j) {
        int c = 0;
        for (int k = K - 1; k >= 0; --k) c = c * 3 + (w[j] > 0 ? 2 : 0);
        codes[j] = static_cast<uint8_t>(c);
      }
      double a[4] = {0, 0, 0, 0};
      double prev = ptqtp::SegmentObjective(w.data(), imp, codes.data(), 128, K, a);
      for (int it = 0; it < 30; ++it) {
        ptqtp::ScaleStep(w.data(), imp, codes.data(), 128, K, a);
        // The ridge term may cost up to ~lambda relative; lambda stays tiny once planes differ.
        double after_scale = ptqtp::SegmentObjective(w.data(), imp, codes.data(), 128, K, a);
        EXPECT_LE(after_scale, prev * (1 + 1e-6) + 1e-12) << "K=" << K << " it=" << it;
        ptqtp::TritStep(w.data(), 128, K, a, codes.data());
        double after_trit = ptqtp::SegmentObjective(w.data(), imp, codes.data(), 128, K, a);
        EXPECT_LE(after_trit, after_scale * (1 + 1e-12) + 1e-15);
        prev = after_trit;
      }
    }
  }
}

TEST(PtqtpSteps, RidgeConditionRuleAndWeightedFit) {
  // Identical planes: A = [[n+l, n], [n, n+l]], kappa = ||A||_F^2 / det ~ 2n / l, so n = 32 needs
  // l >= 6.4e-5: the rule stops at 1e-4, and both scales are equal (sum |w| / (2n + l)).
  const double gram[4] = {32, 32, 32, 32}, rhs[2] = {64, 64};
  double a[2];
  EXPECT_DOUBLE_EQ(ptqtp::RidgeSolve(gram, rhs, 2, a), 1e-4);
  EXPECT_EQ(a[0], a[1]);
  EXPECT_NEAR(a[0], 64.0 / (64.0 + 1e-4), 1e-9);  // kappa ~ 1e6 amplifies rounding
  // A well-conditioned system keeps the initial lambda.
  const double g2[4] = {16, 16, 16, 32}, r2[2] = {48, 64};
  EXPECT_DOUBLE_EQ(ptqtp::RidgeSolve(g2, r2, 2, a), 1e-8);
  EXPECT_NEAR(a[0], 2.0, 1e-7);
  EXPECT_NEAR(a[1], 1.0, 1e-7);
  // All-zero system: lambda I, kappa = K.
  const double z[16] = {}, zr[4] = {};
  double a4[4];
  EXPECT_DOUBLE_EQ(ptqtp::RidgeSolve(z, zr, 4, a4), 1e-8);
  for (double x : a4) EXPECT_EQ(x, 0.0);
  // Weighted fit, K = 1, both trits +1: argmin h1 (1 - a)^2 + h2 (3 - a)^2 = (h1 + 3 h2) / (h1 +
  // h2).
  const float w[2] = {1.0f, 3.0f}, h[2] = {1.0f, 3.0f};
  const uint8_t codes[2] = {2, 2};
  double s;
  ptqtp::ScaleStep(w, h, codes, 2, 1, &s);
  EXPECT_NEAR(s, 2.5, 1e-7);
  ptqtp::ScaleStep(w, nullptr, codes, 2, 1, &s);
  EXPECT_NEAR(s, 2.0, 1e-7);
}

// w = (3, 1, -1, -3) repeated, K = 2: levels +-a1 +-a2 with (a1, a2) = (2, 1) fit it exactly.
// Derivation: sweep 1 fits equal scales ~1 to the identical sign planes; w = +-1 ties between
// (0,+-1) and (+-1,0) and the tie order gives the later plane; sweep 2 solves [[16,16],[16,32]] a =
// [48,64], a = (2, 1); no trit changes, so sweep 3 moves nothing and stops. The final search
// against the fp16 scales (2, 1) sees w = 1 tie between (0,+1) and (+1,-1) and keeps (0,+1).
TEST(PtqtpMethod, HandDerivedExactSegment) {
  std::vector<float> w(32);
  for (int j = 0; j < 32; ++j) w[j] = static_cast<float>(3 - 2 * (j % 4));
  QuantOptions o;
  o.planes = 2;
  o.group = 32;
  QuantResult q = RunPtqtp(w, 1, 32, o);
  EXPECT_EQ(q.format, FormatId::kTritPlanes);
  EXPECT_EQ(q.iterations, 3);
  EXPECT_EQ(q.sq_err, 0.0);
  EXPECT_EQ(q.sq_norm, 8 * (9 + 1 + 1 + 9));
  std::vector<float> a;
  std::vector<std::vector<int8_t>> t;
  DecodeGroup(q, 32, 0, 0, &a, &t);
  EXPECT_EQ(a[0], 2.0f);
  EXPECT_EQ(a[1], 1.0f);
  const int8_t t0[4] = {1, 0, 0, -1}, t1[4] = {1, 1, -1, -1};
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(t[0][j], t0[j % 4]) << j;
    EXPECT_EQ(t[1][j], t1[j % 4]) << j;
  }
}

TEST(PtqtpMethod, AllZeroSegmentAndNonFiniteWeights) {
  const int64_t cols = 64;
  std::vector<float> w = Gaussian(2 * cols, 3);
  for (int j = 0; j < 32; ++j) w[j] = 0.0f;  // row 0, group 0: all zeros
  std::vector<float> clean = w;
  w[cols + 5] = NAN;
  w[cols + 40] = INFINITY;
  w[cols + 41] = -INFINITY;
  clean[cols + 5] = clean[cols + 40] = clean[cols + 41] = 0.0f;
  QuantOptions o;
  o.group = 32;
  QuantResult q = RunPtqtp(w, 2, cols, o);
  EXPECT_EQ(q.nonfinite, 3);
  std::vector<float> a;
  std::vector<std::vector<int8_t>> t;
  DecodeGroup(q, cols, 0, 0, &a, &t);
  EXPECT_EQ(a[0], 0.0f);
  EXPECT_EQ(a[1], 0.0f);
  for (auto& plane : t)
    for (int8_t x : plane) EXPECT_EQ(x, 0);
  DecodeGroup(q, cols, 1, 0, &a, &t);
  for (auto& plane : t) EXPECT_EQ(plane[5], 0);
  DecodeGroup(q, cols, 1, 1, &a, &t);
  for (auto& plane : t) {
    EXPECT_EQ(plane[8], 0);
    EXPECT_EQ(plane[9], 0);
  }
  // Excluded from every sum: zero weights never take a non-zero trit (0 is always a level, first in
  // the tie order), so replacing the non-finite weights by 0 must give the same bytes.
  QuantResult ref = RunPtqtp(clean, 2, cols, o);
  EXPECT_EQ(q.data, ref.data);
  EXPECT_EQ(q.iterations, ref.iterations);
  EXPECT_DOUBLE_EQ(q.sq_norm, ref.sq_norm);
  EXPECT_DOUBLE_EQ(q.sq_err, ref.sq_err);
  const Format& f = *FindFormat(FormatId::kTritPlanes);
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(
        f.validate_row(q.data.data() + r * f.row_bytes(cols, q.params), cols, q.params).ok());
  }
}

TEST(PtqtpMethod, ThreadCountDoesNotChangeTheBytes) {
  const int64_t rows = 48, cols = 300;  // ragged: 300 = 2 * 128 + 44
  std::vector<float> w = Gaussian(rows * cols, 11, 0.02f);
  for (int64_t i = 0; i < rows * cols; i += 37) w[i] *= 8.0f;  // outliers
  for (int K : {1, 2, 3}) {
    QuantOptions o;
    o.planes = K;
    o.importance = Gaussian(cols, 12);
    for (auto& h : o.importance) h = h * h;
    QuantResult base = RunPtqtp(w, rows, cols, o);
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      QuantResult q = RunPtqtp(w, rows, cols, o, &pool);
      EXPECT_EQ(q.data, base.data) << "K=" << K << " threads=" << threads;
      EXPECT_EQ(q.iterations, base.iterations);
      EXPECT_EQ(q.sq_err, base.sq_err);
    }
  }
}

// With eps = 0 the sweeps run until every segment is at a fixed point, so each segment's result is
// its own: the short last group (172 = 2 * 64 + 44) must equal that segment quantized alone.
TEST(PtqtpMethod, RaggedLastGroupEqualsItsSegmentAlone) {
  const int64_t rows = 6, cols = 172;
  std::vector<float> w = Gaussian(rows * cols, 21);
  QuantOptions o;
  o.group = 64;
  o.eps = 0.0;
  o.max_iters = 200;
  QuantResult q = RunPtqtp(w, rows, cols, o);
  ASSERT_LT(q.iterations, 200);
  const Format& f = *FindFormat(FormatId::kTritPlanes);
  const size_t rb = f.row_bytes(cols, q.params);
  ASSERT_EQ(rb, 2 * TritGroupBytes(64, 2) + TritGroupBytes(44, 2));
  ASSERT_EQ(q.data.size(), rows * rb);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> tail(w.begin() + r * cols + 128, w.begin() + (r + 1) * cols);
    QuantResult alone = RunPtqtp(tail, 1, 44, o);
    ASSERT_EQ(alone.data.size(), TritGroupBytes(44, 2));
    EXPECT_TRUE(std::equal(alone.data.begin(), alone.data.end(),
                           q.data.begin() + r * rb + 2 * TritGroupBytes(64, 2)));
    EXPECT_TRUE(f.validate_row(q.data.data() + r * rb, cols, q.params).ok());
  }
  // sq_err is measured against the reference decoder's output.
  std::vector<float> deq(cols);
  double err = 0;
  for (int64_t r = 0; r < rows; ++r) {
    f.dequantize_row(q.data.data() + r * rb, deq.data(), cols, q.params);
    for (int64_t j = 0; j < cols; ++j) err += std::pow(double{w[r * cols + j]} - deq[j], 2);
  }
  EXPECT_NEAR(q.sq_err, err, 1e-9 * err);
}

TEST(PtqtpMethod, ConstantImportanceChangesNothingAndSkewedImportanceHelps) {
  const int64_t rows = 32, cols = 256;
  std::vector<float> w = Gaussian(rows * cols, 31);
  QuantOptions o;
  QuantResult plain = RunPtqtp(w, rows, cols, o);
  o.importance.assign(cols, 4.0f);  // normalized to exactly 1
  QuantResult flat = RunPtqtp(w, rows, cols, o);
  EXPECT_EQ(flat.data, plain.data);
  // Every 16th column 100x as important: the weighted fit must trade plain error for error there.
  for (int64_t j = 0; j < cols; ++j) o.importance[j] = j % 16 == 0 ? 100.0f : 1.0f;
  QuantResult weighted = RunPtqtp(w, rows, cols, o);
  const Format& f = *FindFormat(FormatId::kTritPlanes);
  auto weighted_err = [&](const QuantResult& q) {
    std::vector<float> deq(cols);
    double e = 0;
    for (int64_t r = 0; r < rows; ++r) {
      f.dequantize_row(q.data.data() + r * f.row_bytes(cols, q.params), deq.data(), cols, q.params);
      for (int64_t j = 0; j < cols; ++j) {
        e += o.importance[j] * std::pow(double{w[r * cols + j]} - deq[j], 2);
      }
    }
    return e;
  };
  const double e_plain = weighted_err(plain), e_weighted = weighted_err(weighted);
  std::printf("importance-weighted error: unweighted fit %.4g, weighted fit %.4g (ratio %.3f)\n",
              e_plain, e_weighted, e_weighted / e_plain);
  EXPECT_LT(e_weighted, 0.97 * e_plain);
  EXPECT_GT(weighted.sq_err, plain.sq_err);  // the plain error is what it gave up
}

// Relative errors on N(0, 1) weights. Bounds from the Gaussian's optimal scalar quantizers
// (variance 1): the best 3-level quantizer has MSE 0.1902 (Lloyd-Max), which K = 1 approaches; K =
// 2 has 9 levels, so it cannot beat the best 9-level quantizer (MSE ~0.03 by Lloyd-Max tables,
// minus the small gain of fitting each group of 128 by itself), and uniform 4-level RTN with
// min/max scaling has a step of ~5/3 sigma, MSE ~ step^2 / 12 ~ 0.2.
TEST(PtqtpMethod, GaussianRelativeErrors) {
  const int64_t rows = 256, cols = 1024;
  std::vector<float> w = Gaussian(rows * cols, 41);
  ThreadPool pool(2);
  double rel[5] = {};
  for (int K = 1; K <= 4; ++K) {
    QuantOptions o;
    o.planes = K;
    QuantResult q = RunPtqtp(w, rows, cols, o, &pool);
    rel[K] = q.sq_err / q.sq_norm;
    std::printf("ptqtp K=%d G=128: relative squared error %.5f (rel. RMS %.4f), %d iterations\n", K,
                rel[K], std::sqrt(rel[K]), q.iterations);
  }
  double rtn[9] = {};
  for (int b : {2, 3, 4}) {
    QuantOptions o;
    o.method = "rtn";
    o.bits = b;
    auto q = kRtnMethod.quantize(w.data(), rows, cols, o, &pool);
    ASSERT_TRUE(q.ok());
    rtn[b] = q->sq_err / q->sq_norm;
    std::printf("rtn %d-bit G=128: relative squared error %.5f\n", b, rtn[b]);
  }
  EXPECT_GT(rel[1], 0.17);
  EXPECT_LT(rel[1], 0.25);
  EXPECT_GT(rel[2], 0.02);
  EXPECT_LT(rel[2], 0.06);
  EXPECT_LT(rel[2], 0.5 * rel[1]);
  EXPECT_LT(rel[2], 0.5 * rtn[2]);
  EXPECT_LT(rel[3], rel[2]);
  EXPECT_LT(rel[4], rel[3]);
  EXPECT_GT(rtn[2], 0.1);
}

TEST(PtqtpMethod, SpeedOn1024x384) {
  const int64_t rows = 1024, cols = 384;
  std::vector<float> w = Gaussian(rows * cols, 51, 0.02f);
  ThreadPool pool(2);
  QuantOptions o;
  auto t0 = std::chrono::steady_clock::now();
  QuantResult q = RunPtqtp(w, rows, cols, o, &pool);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("ptqtp K=2 G=128 on 1024x384, 2 threads: %.3f s, %d iterations, rel err %.5f\n", s,
              q.iterations, q.sq_err / q.sq_norm);
  EXPECT_LT(s, 5.0);
}

TEST(PtqtpMethod, RejectsBadOptions) {
  std::vector<float> w(128, 1.0f);
  QuantOptions o;
  o.planes = 5;
  EXPECT_FALSE(kPtqtpMethod.quantize(w.data(), 1, 128, o, nullptr).ok());
  o.planes = 2;
  o.group = 100;
  EXPECT_FALSE(kPtqtpMethod.quantize(w.data(), 1, 128, o, nullptr).ok());
  o.group = 128;
  o.importance.assign(64, 1.0f);
  EXPECT_FALSE(kPtqtpMethod.quantize(w.data(), 1, 128, o, nullptr).ok());
  o.importance.assign(128, -1.0f);
  EXPECT_FALSE(kPtqtpMethod.quantize(w.data(), 1, 128, o, nullptr).ok());
  o.importance.clear();
  o.max_iters = 0;
  EXPECT_FALSE(kPtqtpMethod.quantize(w.data(), 1, 128, o, nullptr).ok());
  EXPECT_EQ(FindMethod("ptqtp"), &kPtqtpMethod);
  EXPECT_EQ(FindMethod("rtn"), &kRtnMethod);
  EXPECT_EQ(FindMethod("no-such-method"), nullptr);
}

}  // namespace
}  // namespace tritium
