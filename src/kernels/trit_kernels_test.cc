// The integer-format kernels against their scalar twin, on every target this CPU runs: the twins
// share one order of operations (quant_kernels.h), so results must be equal bit for bit, for GEMV
// and GEMM alike, on odd shapes (ragged last groups, rows not a multiple of 4, columns spanning
// several column blocks). MatMul on prepared weights must stay within the documented bound of
// MatMulReference (docs/kernels.md) and must not depend on the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"
#include "src/base/cpu_features.h"
#include "src/kernels/cpu/dot_half.h"
#include "src/kernels/cpu/quant_kernels.h"
#include "src/kernels/matmul.h"
#include "src/kernels/prepared_weight.h"
#include "src/kernels/test_matrices.h"

namespace tritium {
namespace {

using test::Packed;
using test::RandomActs;
using test::RandomIntG;
using test::RandomTrit;


// The targets this CPU can run, besides the scalar twin.
std::vector<const QKernels*> Targets() {
  std::vector<const QKernels*> t;
  const CpuFeatures& f = GetCpuFeatures();
#if defined(__x86_64__)
  if (f.avx2_fma) t.push_back(&kQKernelsAvx2);
  if (f.avx512_vnni) t.push_back(&kQKernelsAvx512);
#elif defined(__aarch64__)
  if (f.neon_dotprod) t.push_back(&kQKernelsNeon);
#endif
  (void)f;
  return t;
}

using Layout = PreparedWeight::TritLayout;

// Runs every target's GEMV and GEMM against the scalar twin, bit for bit, on the given layout. On
// the base-3 layout the results must also equal the 2-bit layout's.
void CheckTargets(const WeightView& wv, int64_t n_tokens, const std::string& what,
                  Layout layout = Layout::kTwoBit) {
  auto prep = PreparedWeight::Prepare(wv, layout);
  ASSERT_NE(prep, nullptr);
  const QMatrix& m = prep->matrix();
  const auto x = RandomActs(n_tokens * wv.cols, 11);
  QActs acts;
  QActsResize(m, n_tokens, &acts);
  QuantizeActs(m, x.data(), 0, n_tokens, &acts);
  std::vector<float> ys(static_cast<size_t>(n_tokens * wv.rows), -1.0f), yt(ys.size());
  kQKernelsScalar.gemm(m, acts, 0, m.blocks, ys.data(), wv.rows);
  if (layout == Layout::kBase3) {
    ASSERT_EQ(m.kind, QKind::kTritB3) << what;
    auto two = PreparedWeight::Prepare(wv, Layout::kTwoBit);
    std::vector<float> y2(ys.size(), -4.0f);
    kQKernelsScalar.gemm(two->matrix(), acts, 0, two->matrix().blocks, y2.data(), wv.rows);
    ASSERT_EQ(0, std::memcmp(ys.data(), y2.data(), ys.size() * 4))
        << "base-3 and 2-bit layouts differ: " << what;
  }
  for (const QKernels* k : Targets()) {
    std::fill(yt.begin(), yt.end(), -2.0f);
    k->gemm(m, acts, 0, m.blocks, yt.data(), wv.rows);
    ASSERT_EQ(0, std::memcmp(ys.data(), yt.data(), ys.size() * 4))
        << k->name << " gemm " << what << " tokens=" << n_tokens;
    // GEMV of each token equals its GEMM row (same order of operations).
    for (int64_t t = 0; t < n_tokens; ++t) {
      QActs one;
      QActsResize(m, 1, &one);
      QuantizeActs(m, x.data() + t * wv.cols, 0, 1, &one);
      std::vector<float> yv(static_cast<size_t>(wv.rows), -3.0f);
      k->gemv(m, one, 0, m.blocks, yv.data());
      ASSERT_EQ(0, std::memcmp(yv.data(), ys.data() + t * wv.rows, yv.size() * 4))
          << k->name << " gemv " << what << " token " << t;
    }
  }
}

// The repacked layout holds every code and scale of the file (checked through the layout's
// reader, which the scalar twin also uses), and padding rows and columns hold trit 0 / scale 0.
TEST(TritKernelsTest, RepackKeepsEveryCodeAndScale) {
  const auto& table = TritDecodeTable();
  for (Layout layout : {Layout::kTwoBit, Layout::kBase3}) {
  for (int K : {1, 3}) {
    for (int G : {32, 128}) {
      // Two blocks of either layout, the second one ragged.
      const int64_t rows = layout == Layout::kBase3 ? 93 : 13, cols = 2 * G + 21;
      auto p = RandomTrit(rows, cols, K, G, 100 + K + G);
      auto prep = PreparedWeight::Prepare(p.view, layout);
      ASSERT_NE(prep, nullptr);
      const QMatrix& m = prep->matrix();
      ASSERT_EQ(m.blocks, 2);
      ASSERT_EQ(m.kind, layout == Layout::kBase3 ? QKind::kTritB3 : QKind::kTrit);
      for (int64_t r = 0; r < 2 * m.row_block(); ++r) {
        const uint8_t* row = p.data.data() + r * p.view.row_bytes;
        for (int g = 0; g < m.n_groups(); ++g) {
          const int n = m.group_len(g);
          for (int k = 0; k < K; ++k) {
            uint16_t h = 0;
            if (r < rows) std::memcpy(&h, row + TritScaleOffset(k), 2);
            ASSERT_EQ(QGetScale(m, r, g, k), r < rows ? F16ToF32(h) : 0.0f) << r << " " << g;
            for (int j = 0; j < G; ++j) {
              const int want = r < rows && j < n
                                   ? table[row[TritPlaneOffset(n, K, k) + j / 5]][j % 5] + 1
                                   : 1;
              ASSERT_EQ(QGetCode(m, r, k, int64_t{g} * G + j), want)
                  << "K=" << K << " G=" << G << " row " << r << " group " << g << " col " << j;
            }
          }
          if (r < rows) row += TritGroupBytes(n, K);
        }
      }
    }
  }
  }
  for (int bits : {2, 3, 4, 8}) {
    auto p = RandomIntG(9, 200, 64, bits, 7);
    auto prep = PreparedWeight::Prepare(p.view);
    ASSERT_NE(prep, nullptr) << bits;
    const QMatrix& m = prep->matrix();
    for (int64_t r = 0; r < 9; ++r) {
      const uint8_t* row = p.data.data() + r * p.view.row_bytes;
      for (int g = 0; g < m.n_groups(); ++g) {
        const int n = m.group_len(g);
        uint16_t hs, hm;
        std::memcpy(&hs, row, 2);
        std::memcpy(&hm, row + 2, 2);
        ASSERT_EQ(QGetScale(m, r, g, 0), F16ToF32(hs));
        ASSERT_EQ(QGetScale(m, r, g, 1), F16ToF32(hm));
        for (int j = 0; j < n; ++j) {
          // kInt8 holds code - 128 (quant_kernels.h).
          ASSERT_EQ(QGetCode(m, r, 0, int64_t{g} * 64 + j) + m.offset,
                    IntGGetCode(row + kIntGHeaderBytes, j, bits))
              << "bits " << bits << " row " << r << " col " << g * 64 + j;
        }
        row += IntGGroupBytes(n, bits);
      }
    }
  }
  auto p = RandomIntG(11, 96, 32, 0, 9);  // Q8_0
  auto prep = PreparedWeight::Prepare(p.view);
  ASSERT_NE(prep, nullptr);
  const QMatrix& m = prep->matrix();
  for (int64_t r = 0; r < 11; ++r) {
    const uint8_t* row = p.data.data() + r * p.view.row_bytes;
    for (int g = 0; g < 3; ++g, row += 34) {
      uint16_t h;
      std::memcpy(&h, row, 2);
      ASSERT_EQ(QGetScale(m, r, g, 0), F16ToF32(h));
      ASSERT_EQ(QGetScale(m, r, g, 1), 0.0f);
      for (int j = 0; j < 32; ++j) {
        ASSERT_EQ(QGetCode(m, r, 0, g * 32 + j), static_cast<int8_t>(row[2 + j])) << r << " " << j;
      }
    }
  }
}

TEST(TritKernelsTest, TargetsEqualScalarTwin) {
  if (Targets().empty()) GTEST_SKIP() << "SKIPPED: no SIMD target on this CPU";
  for (int K = 1; K <= 4; ++K) {
    for (int G : {32, 64, 128, 256}) {
      for (int64_t cols : {int64_t{5}, int64_t{G + 7}, int64_t{2 * G}, int64_t{2051}}) {
        for (int64_t rows : {1, 6, 13}) {
          auto m = RandomTrit(rows, cols, K, G, static_cast<uint32_t>(K * 1000 + G + cols + rows));
          const std::string what = "K=" + std::to_string(K) + " G=" + std::to_string(G) +
                                   " cols=" + std::to_string(cols) +
                                   " rows=" + std::to_string(rows);
          CheckTargets(m.view, cols > 1000 ? 14 : 29, what);
        }
      }
    }
  }
}

// The base-3 layout (80-row blocks): the scalar twin equals the 2-bit layout's, and every target
// (the VBMI decoder where the CPU has it, the expansion to 2-bit codes elsewhere) equals the scalar
// twin, on ragged rows (a partial last block), ragged groups and several column blocks.
TEST(TritKernelsTest, Base3LayoutEqualsTwoBitOnEveryTarget) {
  for (int K = 1; K <= 4; ++K) {
    for (int G : {32, 64, 128, 256}) {
      for (int64_t cols : {int64_t{5}, int64_t{G + 7}, int64_t{2051}}) {
        for (int64_t rows : {7, 80, 171}) {
          auto m = RandomTrit(rows, cols, K, G, static_cast<uint32_t>(K * 977 + G + cols + rows));
          CheckTargets(m.view, cols > 1000 ? 14 : 29,
                       "base3 K=" + std::to_string(K) + " G=" + std::to_string(G) +
                           " cols=" + std::to_string(cols) + " rows=" + std::to_string(rows),
                       Layout::kBase3);
        }
      }
    }
  }
  // Natively ternary GGUF blocks (TQ1_0, TQ2_0) take the trit kernels, so the base-3 layout too.
  for (const Format* f : {FindFormat(FormatId::kTQ1_0), FindFormat(FormatId::kTQ2_0)}) {
    ASSERT_NE(f, nullptr);
    auto m = test::RandomAffine(f, 83, 512, 3);
    CheckTargets(m.view, 13, std::string(f->name) + " base3", Layout::kBase3);
  }
}

// INT_G of every width (B = 2 and 3 run on the 4-bit layout, B = 8 on the int8 one) and Q8_0.
TEST(TritKernelsTest, IntGAndQ8TargetsEqualScalarTwin) {
  if (Targets().empty()) GTEST_SKIP() << "SKIPPED: no SIMD target on this CPU";
  for (int bits : {2, 3, 4, 8}) {
    for (int G : {32, 64, 128, 256}) {
      for (int64_t cols : {int64_t{3}, int64_t{G + 9}, int64_t{2 * G}, int64_t{2083}}) {
        for (int64_t rows : {2, 9}) {
          auto m = RandomIntG(rows, cols, G, bits, static_cast<uint32_t>(G + cols + rows + bits));
          CheckTargets(m.view, bits == 4 ? 29 : 5,
                       "INT_G" + std::to_string(bits) + " G=" + std::to_string(G) +
                           " cols=" + std::to_string(cols) + " rows=" + std::to_string(rows));
        }
      }
    }
  }
  for (int64_t cols : {32, 96, 2080}) {
    for (int64_t rows : {3, 17}) {
      auto m = RandomIntG(rows, cols, 32, 0, static_cast<uint32_t>(cols + rows));
      for (int64_t n : {2, 13, 29}) {
        CheckTargets(m.view, n, "Q8_0 cols=" + std::to_string(cols) + " rows=" + std::to_string(rows));
      }
    }
  }
}

std::vector<const Format*> AffineFormats() {
  size_t n = 0;
  const Format* const* all = AllFormats(&n);
  std::vector<const Format*> out;
  for (size_t i = 0; i < n; ++i) {
    if (all[i]->affine != nullptr) out.push_back(all[i]);
  }
  return out;
}

// ggml's block types on the kernel kind their codes map to (prepared_weight.h): every target equals
// the scalar twin bit for bit, on rows spanning two column blocks too.
TEST(TritKernelsTest, AffineFormatsTargetsEqualScalarTwin) {
  if (Targets().empty()) GTEST_SKIP() << "SKIPPED: no SIMD target on this CPU";
  ASSERT_GE(AffineFormats().size(), 13u);
  for (const Format* f : AffineFormats()) {
    for (int64_t cols : {256, 2304}) {
      for (int64_t rows : {3, 9}) {
        auto m = test::RandomAffine(f, rows, cols, static_cast<uint32_t>(cols + rows));
        CheckTargets(m.view, cols > 1000 ? 5 : 13,
                     std::string(f->name) + " cols=" + std::to_string(cols) +
                         " rows=" + std::to_string(rows));
      }
    }
  }
}

// The repacked matrix holds what the format's reference decoder gives: codes exactly (shifted to
// 0..15 on the 4-bit kind), s and m rounded once to fp16 (exact where the format stores them as
// fp16). Checked through the layout's reader, which the scalar twin uses.
TEST(TritKernelsTest, AffineRepackWithinFp16RoundingOfReference) {
  for (const Format* f : AffineFormats()) {
    const int64_t rows = 11, cols = 512;
    auto m = test::RandomAffine(f, rows, cols, 5);
    auto prep = PreparedWeight::Prepare(m.view);
    ASSERT_NE(prep, nullptr) << f->name;
    const QMatrix& q = prep->matrix();
    std::vector<float> ref(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      f->dequantize_row(m.data.data() + r * m.view.row_bytes, ref.data(), cols, {});
      for (int64_t c = 0; c < cols; ++c) {
        const int g = static_cast<int>(c / q.group);
        const int code = QGetCode(q, r, 0, c);
        float got;
        if (q.trit()) {
          got = QGetScale(q, r, g, 0) * static_cast<float>(code - 1);
        } else {
          got = QGetScale(q, r, g, 0) * static_cast<float>(code) + QGetScale(q, r, g, 1);
        }
        // One fp16 rounding of s (relative 2^-11) times a code of at most 127 (the 4-bit kind's
        // shifted codes are at most 15 and its m carries the shift), plus one of m.
        const float m_abs = q.trit() ? 0.0f : std::fabs(QGetScale(q, r, g, 1));  // trits: no m
        const double tol = 0x1p-11 * (std::fabs(QGetScale(q, r, g, 0)) * 128 + m_abs) + 0x1p-24;
        ASSERT_NEAR(got, ref[c], tol) << f->name << " row " << r << " col " << c;
        if (f->id == FormatId::kQ4_0 || f->id == FormatId::kQ4_1 || f->id == FormatId::kTQ2_0 ||
            f->id == FormatId::kIQ4_NL) {
          ASSERT_EQ(got, ref[c]) << f->name << ": fp16 scales must repack exactly";
        }
      }
    }
  }
}

TEST(TritKernelsTest, Avx512TargetRunsOrSkipsLoudly) {
  if (!GetCpuFeatures().avx512_vnni) {
    GTEST_SKIP() << "SKIPPED: CPU has no AVX-512 VNNI; the avx512 kernels were compiled but not "
                    "run";
  }
  auto m = RandomTrit(9, 300, 2, 128, 5);
  CheckTargets(m.view, 3, "avx512 smoke");
}

// Integer parts are exact: with unit scales and activations that quantize without error
// (integers with |x| <= 127 and a 127 in every group), every output is an exact integer.
TEST(TritKernelsTest, IntegerPartIsExact) {
  const int64_t rows = 7, cols = 300;
  auto m = RandomTrit(rows, cols, 2, 64, 3);
  // Overwrite every scale with 1.0.
  const uint16_t one = F32ToF16(1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = m.data.data() + r * m.view.row_bytes;
    for (int64_t c0 = 0; c0 < cols; c0 += 64) {
      const int n = static_cast<int>(std::min<int64_t>(64, cols - c0));
      for (int k = 0; k < 2; ++k) std::memcpy(row + 2 * k, &one, 2);
      row += TritGroupBytes(n, 2);
    }
  }
  std::mt19937 rng(4);
  std::vector<float> x(cols);
  for (int64_t c = 0; c < cols; ++c) x[c] = static_cast<float>(static_cast<int>(rng() % 255) - 127);
  for (int64_t c = 0; c < cols; c += 64) x[c] = 127.0f;
  std::vector<float> w(cols);
  auto prep = PreparedWeight::Prepare(m.view);
  WeightView pv = m.view;
  pv.prepared = prep.get();
  std::vector<float> y(rows);
  MatMul(pv, x.data(), 1, y.data(), nullptr);
  for (int64_t r = 0; r < rows; ++r) {
    m.view.format->dequantize_row(m.data.data() + r * m.view.row_bytes, w.data(), cols,
                                  m.view.params);
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(w[c]) * x[c];
    EXPECT_EQ(static_cast<double>(y[r]), s) << "row " << r;
  }
}

// MatMul on prepared weights vs the float reference: the only difference is the int8 rounding of
// activations, |err| <= sum_g d_g / 2 * sum_j |w_j| (+ float rounding).
TEST(TritKernelsTest, PreparedMatMulWithinBoundOfReference) {
  ThreadPool pool(2);
  for (int64_t n : {1, 4, 9}) {
    auto m = RandomTrit(37, 517, 2, 128, 9);
    auto prep = PreparedWeight::Prepare(m.view);
    WeightView pv = m.view;
    pv.prepared = prep.get();
    const auto x = RandomActs(n * 517, 21);
    std::vector<float> y(static_cast<size_t>(n * 37)), yr(y.size()), w(517);
    MatMul(pv, x.data(), n, y.data(), &pool);
    MatMulReference(m.view, x.data(), n, yr.data());
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t r = 0; r < 37; ++r) {
        m.view.format->dequantize_row(m.data.data() + r * m.view.row_bytes, w.data(), 517,
                                      m.view.params);
        double bound = 1e-5;
        for (int64_t c0 = 0; c0 < 517; c0 += 128) {
          float amax = 0;
          double wsum = 0;
          for (int64_t c = c0; c < std::min<int64_t>(517, c0 + 128); ++c) {
            amax = std::max(amax, std::fabs(x[t * 517 + c]));
            wsum += std::fabs(w[c]);
          }
          bound += (amax / 127.0) * 0.5 * wsum * (1 + 1e-5) + 1e-6 * wsum * amax;
        }
        EXPECT_LE(std::fabs(y[t * 37 + r] - yr[t * 37 + r]), bound) << "t=" << t << " r=" << r;
      }
    }
  }
}

TEST(TritKernelsTest, PreparedMatMulThreadCountDoesNotChangeBits) {
  auto m = RandomTrit(203, 999, 3, 64, 13);
  auto prep = PreparedWeight::Prepare(m.view);
  WeightView pv = m.view;
  pv.prepared = prep.get();
  for (int64_t n : {1, 7}) {
    const auto x = RandomActs(n * 999, 5);
    std::vector<float> y1(static_cast<size_t>(n * 203)), y2(y1.size()), y3(y1.size());
    ThreadPool p2(2), p3(3);
    MatMul(pv, x.data(), n, y1.data(), nullptr);
    MatMul(pv, x.data(), n, y2.data(), &p2);
    MatMul(pv, x.data(), n, y3.data(), &p3);
    EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * 4)) << n;
    EXPECT_EQ(0, std::memcmp(y1.data(), y3.data(), y1.size() * 4)) << n;
  }
}

TEST(HalfGemvTest, Avx2EqualsScalarBitForBit) {
  if (!GetCpuFeatures().avx2_fma) GTEST_SKIP() << "SKIPPED: CPU has no AVX2+FMA";
  for (bool bf16 : {false, true}) {
    for (int64_t k : {1, 7, 8, 9, 63, 385, 2051}) {  // 2051: rows of 4 KB and more (no prefetch)
      const int64_t rows = 11;
      const auto wf = RandomActs(rows * k, 31);
      std::vector<uint8_t> w(static_cast<size_t>(rows * k * 2));
      for (int64_t i = 0; i < rows * k; ++i) {
        uint16_t h = bf16 ? F32ToBf16(wf[i]) : F32ToF16(wf[i]);
        std::memcpy(&w[2 * i], &h, 2);
      }
      const auto x = RandomActs(k, 32);
      std::vector<float> ys(rows), yv(rows);
      HalfGemvScalar(w.data(), 2 * k, bf16, 0, rows, x.data(), k, ys.data());
      HalfGemvAvx2(w.data(), 2 * k, bf16, 0, rows, x.data(), k, yv.data());
      ASSERT_EQ(0, std::memcmp(ys.data(), yv.data(), rows * 4)) << "bf16=" << bf16 << " k=" << k;
    }
  }
}

}  // namespace
}  // namespace tritium
