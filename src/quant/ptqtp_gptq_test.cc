// Calibration-aware trit-planes: on correlated inputs the error-feedback and least-squares
// variants lower the output error ||(W - W_hat) X||^2 (measured from X itself) against data-free
// ptqtp; bytes do not depend on the thread count; missing calibration is refused.
#include "src/quant/ptqtp_gptq.h"

#include <gtest/gtest.h>

#include <vector>

#include "src/base/threads.h"
#include "src/quant/ptqtp.h"
#include "src/quant/quant_test_util.h"

namespace tritium {
namespace {

using quant_test::CorrelatedInputs;
using quant_test::Decode;
using quant_test::Gaussian;
using quant_test::HessianOf;
using quant_test::OutputError;
using quant_test::Quant;

TEST(PtqtpGptq, CalibratedVariantsLowerOutputError) {
  const int64_t rows = 48, cols = 128, n = 1024;
  const auto x = CorrelatedInputs(n, cols, 11);
  const auto h = HessianOf(x, n, cols);
  const auto w = Gaussian(rows * cols, 12);
  for (int planes : {1, 2}) {
    QuantOptions o;
    o.planes = planes;
    o.group = 32;
    o.hessian = h.data();
    auto err = [&](const Method& m) {
      return OutputError(w, Decode(Quant(m, w, rows, cols, o), rows, cols), x, rows, cols, n);
    };
    const double base = err(kPtqtpMethod);
    const double g = err(kPtqtpGptqMethod);
    const double gw = err(kPtqtpGptqWMethod);
    const double ls = err(kPtqtpLsMethod);
    const double gls = err(kPtqtpGptqLsMethod);
    const double wt = err(kPtqtpWMethod);
    EXPECT_LT(g, 0.8 * base) << "K=" << planes;
    EXPECT_LT(gw, 0.8 * base) << "K=" << planes;
    EXPECT_LT(ls, base) << "K=" << planes;
    EXPECT_LT(gls, gw) << "K=" << planes;  // the refit can only lower the H-objective
    EXPECT_LT(wt, base) << "K=" << planes;
  }
}

TEST(PtqtpGptq, RefitOnIdentityHessianDoesNotIncreaseWeightError) {
  const int64_t rows = 8, cols = 64;
  std::vector<double> eye(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t i = 0; i < cols; ++i) eye[i * cols + i] = 1.0;
  const auto w = Gaussian(rows * cols, 13);
  QuantOptions o;
  o.group = 32;
  o.hessian = eye.data();
  const QuantResult base = Quant(kPtqtpMethod, w, rows, cols, o);
  const QuantResult ls = Quant(kPtqtpLsMethod, w, rows, cols, o);
  // ptqtp already solves this least-squares problem per segment (up to its tiny ridge and fp16).
  EXPECT_LE(ls.sq_err, base.sq_err * 1.001);
}

TEST(PtqtpGptq, SameBytesForAnyThreadCount) {
  const int64_t rows = 40, cols = 96, n = 300;
  const auto x = CorrelatedInputs(n, cols, 14);
  const auto h = HessianOf(x, n, cols);
  const auto w = Gaussian(rows * cols, 15);
  QuantOptions o;
  o.group = 32;
  o.hessian = h.data();
  ThreadPool one(1), two(2);
  for (const Method* m : {&kPtqtpGptqMethod, &kPtqtpGptqLsMethod, &kPtqtpLsMethod,
                          &kPtqtpWMethod}) {
    EXPECT_EQ(Quant(*m, w, rows, cols, o, &one).data, Quant(*m, w, rows, cols, o, &two).data)
        << m->name;
  }
}

TEST(PtqtpGptq, RefusesWithoutCalibration) {
  const auto w = Gaussian(4 * 32, 16);
  QuantOptions o;
  o.group = 32;
  for (const Method* m : {&kPtqtpGptqMethod, &kPtqtpLsMethod, &kPtqtpWMethod}) {
    EXPECT_FALSE(m->quantize(w.data(), 4, 32, o, nullptr).ok()) << m->name;
  }
}

}  // namespace
}  // namespace tritium
