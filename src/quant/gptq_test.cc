// GPTQ into INT_G: it lowers the output error against RTN on correlated inputs (measured from the
// inputs themselves, not through H), reduces to RTN byte for byte when H = I, survives singular
// Hessians, and gives the same bytes for any thread count.
#include "src/quant/gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "src/base/cpu_features.h"
#include "src/base/threads.h"
#include "src/quant/quant_test_util.h"
#include "src/quant/rtn.h"

namespace tritium {
namespace {

using quant_test::CorrelatedInputs;
using quant_test::Decode;
using quant_test::Gaussian;
using quant_test::HessianOf;
using quant_test::OutputError;
using quant_test::Quant;

TEST(Gptq, BeatsRtnOnOutputError) {
  const int64_t rows = 48, cols = 128, n = 1024;
  const auto x = CorrelatedInputs(n, cols, 1);
  const auto h = HessianOf(x, n, cols);
  const auto w = Gaussian(rows * cols, 2);
  for (int bits : {2, 3, 4}) {
    QuantOptions o;
    o.bits = bits;
    o.group = 32;
    o.hessian = h.data();
    const QuantResult rtn = Quant(kRtnMethod, w, rows, cols, o);
    const QuantResult gq = Quant(kGptqMethod, w, rows, cols, o);
    o.act_order = true;
    const QuantResult ga = Quant(kGptqMethod, w, rows, cols, o);
    const double e_rtn = OutputError(w, Decode(rtn, rows, cols), x, rows, cols, n);
    const double e_gq = OutputError(w, Decode(gq, rows, cols), x, rows, cols, n);
    const double e_ga = OutputError(w, Decode(ga, rows, cols), x, rows, cols, n);
    EXPECT_LT(e_gq, 0.8 * e_rtn) << "bits " << bits;
    EXPECT_LT(e_ga, 0.8 * e_rtn) << "bits " << bits << " act-order";
    // The weight error itself grows: GPTQ trades it for output error.
    EXPECT_GT(gq.sq_err, rtn.sq_err) << "bits " << bits;
  }
}

TEST(Gptq, IdentityHessianIsRtnByteForByte) {
  // H = I: U is diagonal, no error moves to other columns, every group is fitted on the original
  // weights: exactly INT_G's own encoder. cols = 80 exercises the short last group.
  for (int64_t cols : {int64_t{64}, int64_t{80}}) {
    const int64_t rows = 9;
    std::vector<double> eye(static_cast<size_t>(cols * cols), 0.0);
    for (int64_t i = 0; i < cols; ++i) eye[i * cols + i] = 1.0;
    const auto w = Gaussian(rows * cols, 3);
    for (int bits : {2, 3, 4, 8}) {
      QuantOptions o;
      o.bits = bits;
      o.group = 32;
      o.hessian = eye.data();
      EXPECT_EQ(Quant(kGptqMethod, w, rows, cols, o).data, Quant(kRtnMethod, w, rows, cols, o).data)
          << "bits " << bits << " cols " << cols;
    }
  }
}

TEST(Gptq, SingularHessianIsDampedAndDeadColumnsAreDecoupled) {
  const int64_t rows = 16, cols = 64, n = 20;  // rank <= 20 < 64
  auto x = CorrelatedInputs(n, cols, 4);
  for (int64_t t = 0; t < n; ++t) x[t * cols + 5] = 0.0f;  // a dead input channel
  const auto h = HessianOf(x, n, cols);
  auto f = gptq::Factorize(h.data(), cols, 0.01, false);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_TRUE(f->dead[5]);
  EXPECT_GT(f->damp_abs, 0.0);
  for (double v : f->u) ASSERT_TRUE(std::isfinite(v));
  // U^T U inverts the damped H.
  for (int64_t i = 0; i < cols; i += 7) {
    for (int64_t j = 0; j < cols; j += 5) {
      double s = 0.0;  // (H U^T U)_ij
      for (int64_t k = 0; k < cols; ++k) {
        double hu = 0.0;
        for (int64_t m = 0; m < cols; ++m) hu += f->h[i * cols + m] * f->u[k * cols + m];
        s += hu * f->u[k * cols + j];
      }
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-6) << i << "," << j;
    }
  }
  // U is upper triangular with a positive diagonal, and the same for any thread count.
  for (int64_t i = 0; i < cols; ++i) {
    EXPECT_GT(f->u[i * cols + i], 0.0);
    for (int64_t j = 0; j < i; ++j) ASSERT_EQ(f->u[i * cols + j], 0.0) << i << "," << j;
  }
  ThreadPool three(3);
  const std::vector<double> big_h = HessianOf(CorrelatedInputs(400, 300, 9), 400, 300);
  auto f1 = gptq::Factorize(big_h.data(), 300, 0.01, false);
  auto f3 = gptq::Factorize(big_h.data(), 300, 0.01, false, &three);
  ASSERT_TRUE(f1.ok() && f3.ok());
  EXPECT_EQ(f1->u, f3->u);
  // Several Cholesky tiles (300 > 256) and inverse panels: U^T U still inverts the damped H.
  for (int64_t i = 0; i < 300; i += 37) {
    for (int64_t j = 0; j < 300; j += 41) {
      double s = 0.0;
      for (int64_t k = 0; k < 300; ++k) {
        double hu = 0.0;
        for (int64_t m = 0; m < 300; ++m) hu += f1->h[i * 300 + m] * f1->u[k * 300 + m];
        s += hu * f1->u[k * 300 + j];
      }
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-6) << i << "," << j;
    }
  }
  // Zero damping on a singular H: retried with damping instead of failing.
  auto f0 = gptq::Factorize(h.data(), cols, 0.0, false);
  ASSERT_TRUE(f0.ok()) << f0.status().message();
  EXPECT_GT(f0->damp_abs, 0.0);
  // An all-zero H (no input ever): every column dead, still quantizes.
  std::vector<double> zero(static_cast<size_t>(cols * cols), 0.0);
  const auto w = Gaussian(rows * cols, 5);
  QuantOptions o;
  o.bits = 3;
  o.group = 32;
  o.hessian = zero.data();
  EXPECT_EQ(Quant(kGptqMethod, w, rows, cols, o).data.size(), Quant(kRtnMethod, w, rows, cols, o).data.size());
  o.hessian = h.data();
  const QuantResult g = Quant(kGptqMethod, w, rows, cols, o);
  const QuantResult r = Quant(kRtnMethod, w, rows, cols, o);
  EXPECT_LT(OutputError(w, Decode(g, rows, cols), x, rows, cols, n),
            OutputError(w, Decode(r, rows, cols), x, rows, cols, n));
  std::vector<double> bad = h;
  bad[3] = NAN;
  EXPECT_FALSE(gptq::Factorize(bad.data(), cols, 0.01, false).ok());
}

TEST(Gptq, RefusesWithoutHessian) {
  const auto w = Gaussian(4 * 32, 6);
  QuantOptions o;
  o.group = 32;
  auto r = kGptqMethod.quantize(w.data(), 4, 32, o, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Hessian"), std::string::npos);
}

TEST(Gptq, SameBytesForAnyThreadCount) {
  const int64_t rows = 70, cols = 96, n = 300;
  const auto x = CorrelatedInputs(n, cols, 7);
  const auto h = HessianOf(x, n, cols);
  const auto w = Gaussian(rows * cols, 8);
  QuantOptions o;
  o.bits = 3;
  o.group = 32;
  o.hessian = h.data();
  ThreadPool one(1), two(2), three(3);
  const auto a = Quant(kGptqMethod, w, rows, cols, o, &one).data;
  EXPECT_EQ(a, Quant(kGptqMethod, w, rows, cols, o, &two).data);
  EXPECT_EQ(a, Quant(kGptqMethod, w, rows, cols, o, &three).data);
  EXPECT_EQ(a, Quant(kGptqMethod, w, rows, cols, o, nullptr).data);
}

// The lazy block update: the plain triple loop (p outer, j inner) as the truth, the chunked scalar
// loop and the AVX2 twin bit-identical to it, at widths that are not multiples of the chunk or of
// 4, with zero errors skipped.
TEST(Gptq, BlockUpdateKernelsMatchThePlainLoop) {
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{256}, int64_t{1001}}) {
    for (const int64_t np : {int64_t{1}, int64_t{5}, int64_t{128}}) {
      const auto u = Gaussian(np * (n + 3), 11);  // ldu = n + 3: rows are not packed
      auto e = Gaussian(np, 12);
      for (int64_t p = 0; p < np; p += 3) e[p] = 0.0f;
      const auto w0 = Gaussian(n, 13);
      std::vector<double> ud(u.begin(), u.end()), ed(e.begin(), e.end());
      std::vector<double> want(w0.begin(), w0.end());
      for (int64_t p = 0; p < np; ++p) {
        if (ed[p] == 0.0) continue;
        for (int64_t j = 0; j < n; ++j) want[j] -= ed[p] * ud[p * (n + 3) + j];
      }
      std::vector<double> got(w0.begin(), w0.end());
      gptq::BlockUpdateScalar(got.data(), ed.data(), np, ud.data(), n + 3, n);
      EXPECT_EQ(got, want) << "scalar n=" << n << " np=" << np;
      if (GetCpuFeatures().avx2_fma) {
        std::vector<double> got2(w0.begin(), w0.end());
        gptq::BlockUpdateAvx2(got2.data(), ed.data(), np, ud.data(), n + 3, n);
        EXPECT_EQ(got2, want) << "avx2 n=" << n << " np=" << np;
      }
    }
  }
  if (!GetCpuFeatures().avx2_fma) GTEST_SKIP() << "SKIPPED: AVX2 twin (this CPU has no AVX2/FMA)";
}

}  // namespace
}  // namespace tritium
