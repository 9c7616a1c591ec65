// Kernels against their scalar twins and the reference: SIMD float tiles must equal the scalar tile
// bit for bit (they share one order of operations); MatMul for every registered format must match
// MatMulReference (dequantize + double dot) to float rounding; results must not depend on threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "src/base/cpu_features.h"
#include "src/kernels/cpu/dot_f32.h"
#include "src/kernels/matmul.h"

namespace tritium {
namespace {

std::vector<float> RandomVec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(DotTileTest, Avx2EqualsScalarBitForBit) {
  if (!GetCpuFeatures().avx2_fma) GTEST_SKIP() << "SKIPPED: CPU has no AVX2+FMA";
  for (int64_t k : {1, 7, 8, 9, 63, 64, 172, 385, 1031}) {  // 1031: the long-row (no prefetch) path
    for (int nr : {1, 2, 3, 4, 5, 7, 12}) {
      for (int nt : {1, 2, 3, 4, 5, 9}) {
        auto w = RandomVec(static_cast<size_t>(nr * k), 1 + k);
        auto x = RandomVec(static_cast<size_t>(nt * k), 2 + k);
        std::vector<const float*> rows(static_cast<size_t>(nr));
        for (int r = 0; r < nr; ++r) rows[r] = &w[r * k];
        std::vector<float> ys(static_cast<size_t>(nt * nr)), yv(ys.size());
        DotTileScalar(rows.data(), nr, x.data(), k, nt, k, ys.data(), nr);
        DotTileAvx2(rows.data(), nr, x.data(), k, nt, k, yv.data(), nr);
        ASSERT_EQ(0, std::memcmp(ys.data(), yv.data(), ys.size() * 4))
            << "k=" << k << " nr=" << nr << " nt=" << nt;
      }
    }
  }
}

TEST(MatMulTest, EveryFormatMatchesReference) {
  size_t count = 0;
  const Format* const* formats = AllFormats(&count);
  ASSERT_GT(count, 0u);
  ThreadPool pool(2);
  for (size_t fi = 0; fi < count; ++fi) {
    const Format& f = *formats[fi];
    if (f.quantize_row == nullptr) continue;  // formats filled by methods are covered elsewhere
    FormatParams p;
    p.group = 32;
    p.bits = 4;
    p.planes = 2;
    for (int64_t cols : {64, 96, 256}) {
      if (!f.check_params(cols, p).ok()) continue;
      const int64_t rows = 29;
      auto wf = RandomVec(static_cast<size_t>(rows * cols), 7);
      const size_t rb = f.row_bytes(cols, p);
      std::vector<uint8_t> packed(rb * rows);
      for (int64_t r = 0; r < rows; ++r) f.quantize_row(&wf[r * cols], &packed[r * rb], cols, p);
      WeightView w{&f, p, rows, cols, rb, packed.data()};
      for (int64_t n : {1, 5}) {
        auto x = RandomVec(static_cast<size_t>(n * cols), 9);
        std::vector<float> y(static_cast<size_t>(n * rows)), yr(y.size());
        MatMul(w, x.data(), n, y.data(), &pool);
        MatMulReference(w, x.data(), n, yr.data());
        for (size_t i = 0; i < y.size(); ++i) {
          EXPECT_NEAR(y[i], yr[i], 1e-4 * std::sqrt(static_cast<double>(cols)) * 4)
              << f.name << " cols=" << cols << " n=" << n << " i=" << i;
        }
      }
    }
  }
}

TEST(MatMulTest, ThreadCountDoesNotChangeBits) {
  const Format* f32 = FindFormat(FormatId::kF32);
  const int64_t rows = 101, cols = 77, n = 13;
  auto wf = RandomVec(static_cast<size_t>(rows * cols), 3);
  auto x = RandomVec(static_cast<size_t>(n * cols), 4);
  WeightView w{f32, {}, rows, cols, static_cast<size_t>(cols * 4),
               reinterpret_cast<const uint8_t*>(wf.data())};
  std::vector<float> ref(static_cast<size_t>(n * rows));
  MatMul(w, x.data(), n, ref.data(), nullptr);
  for (int threads : {1, 2, 3, 7}) {
    ThreadPool pool(threads);
    std::vector<float> y(ref.size());
    MatMul(w, x.data(), n, y.data(), &pool);
    EXPECT_EQ(0, std::memcmp(y.data(), ref.data(), y.size() * 4)) << threads;
  }
}

}  // namespace
}  // namespace tritium
