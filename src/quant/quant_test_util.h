// Helpers shared by the calibration-aware method tests: correlated inputs, their Hessian, running a
// method, and the output error ||(W - W_hat) X||^2 computed directly from the decoded matrix.
#ifndef TRITIUM_QUANT_QUANT_TEST_UTIL_H_
#define TRITIUM_QUANT_QUANT_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "src/base/threads.h"
#include "src/formats/format.h"
#include "src/quant/method.h"

namespace tritium::quant_test {

inline std::vector<float> Gaussian(int64_t n, uint32_t seed, float sigma = 0.05f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

// X [n x cols]: a few shared latent factors plus noise, and per-column scales spread over two
// orders of magnitude, like real activations (correlated, with outlier channels).
inline std::vector<float> CorrelatedInputs(int64_t n, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int factors = 8;
  std::vector<float> mix(static_cast<size_t>(factors * cols)), scale(static_cast<size_t>(cols));
  for (auto& m : mix) m = g(rng);
  for (int64_t j = 0; j < cols; ++j) scale[j] = std::exp(1.5f * g(rng));
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (int64_t i = 0; i < n; ++i) {
    float z[factors];
    for (float& v : z) v = g(rng);
    for (int64_t j = 0; j < cols; ++j) {
      float v = 0.3f * g(rng);
      for (int f = 0; f < factors; ++f) v += z[f] * mix[f * cols + j];
      x[i * cols + j] = v * scale[j];
    }
  }
  return x;
}

// H = X^T X / n in double.
inline std::vector<double> HessianOf(const std::vector<float>& x, int64_t n, int64_t cols) {
  std::vector<double> h(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = &x[t * cols];
    for (int64_t i = 0; i < cols; ++i) {
      for (int64_t j = 0; j < cols; ++j) h[i * cols + j] += static_cast<double>(xt[i]) * xt[j];
    }
  }
  for (double& v : h) v /= static_cast<double>(n);
  return h;
}

// Runs method m; a failure is a test failure (and an empty result).
inline QuantResult Quant(const Method& m, const std::vector<float>& w, int64_t rows, int64_t cols,
                         QuantOptions o, ThreadPool* pool = nullptr) {
  auto r = m.quantize(w.data(), rows, cols, o, pool);
  EXPECT_TRUE(r.ok()) << m.name << ": " << r.status().message();
  return r.ok() ? std::move(r).value() : QuantResult();
}

inline std::vector<float> Decode(const QuantResult& r, int64_t rows, int64_t cols) {
  const Format& f = *FindFormat(r.format);
  const size_t rb = f.row_bytes(cols, r.params);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i) {
    f.dequantize_row(r.data.data() + i * rb, &out[i * cols], cols, r.params);
  }
  return out;
}

// sum over tokens and rows of ((W - W_hat) x)^2, straight from the inputs (not through H).
inline double OutputError(const std::vector<float>& w, const std::vector<float>& w_hat,
                          const std::vector<float>& x, int64_t rows, int64_t cols, int64_t n) {
  double total = 0.0;
  std::vector<double> d(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      d[j] = static_cast<double>(w[r * cols + j]) - w_hat[r * cols + j];
    }
    for (int64_t t = 0; t < n; ++t) {
      double y = 0.0;
      for (int64_t j = 0; j < cols; ++j) y += d[j] * x[t * cols + j];
      total += y * y;
    }
  }
  return total;
}

}  // namespace tritium::quant_test

#endif  // TRITIUM_QUANT_QUANT_TEST_UTIL_H_
