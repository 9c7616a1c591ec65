// The NEON integer kernels against their scalar twin, bit for bit, run for real on an x86 CI
// machine under qemu-user (scripts/check_neon.sh builds this statically for AArch64 with the
// kernel sources it needs and runs it). A plain main(): GoogleTest is not available for the target.
// The cases mirror src/kernels/trit_kernels_test.cc: every K and G, ragged groups, rows not a
// multiple of 8, columns spanning several column blocks, token counts that exercise every GEMM
// sub-tile; each token's GEMV must also equal its GEMM row.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"
#include "src/base/cpu_features.h"
#include "src/kernels/cpu/quant_kernels.h"
#include "src/kernels/matmul.h"
#include "src/kernels/prepared_weight.h"
#include "src/kernels/test_matrices.h"

using namespace tritium;

using test::Packed;
using test::RandomActs;
using test::RandomIntG;
using test::RandomTrit;


static long g_gemm = 0, g_gemv = 0;

static void Fail(const char* kern, const std::string& what, int64_t n_tokens, size_t idx,
                 int64_t rows, float want, float got) {
  uint32_t a, b;
  std::memcpy(&a, &want, 4);
  std::memcpy(&b, &got, 4);
  std::printf("MISMATCH %s %s tokens=%lld index=%zu (token %lld row %lld): scalar=%.9g (0x%08x) "
              "neon=%.9g (0x%08x)\n",
              kern, what.c_str(), (long long)n_tokens, idx, (long long)(idx / rows),
              (long long)(idx % rows), want, a, got, b);
  std::exit(1);
}

static void CheckNeon(const WeightView& wv, int64_t n_tokens, const std::string& what,
                      PreparedWeight::TritLayout layout = PreparedWeight::TritLayout::kAuto) {
  auto prep = PreparedWeight::Prepare(wv, layout);
  if (!prep) {
    std::printf("Prepare returned nullptr for %s\n", what.c_str());
    std::exit(2);
  }
  const QMatrix& m = prep->matrix();
  const auto x = RandomActs(n_tokens * wv.cols, 11);
  QActs acts;
  QActsResize(m, n_tokens, &acts);
  QuantizeActs(m, x.data(), 0, n_tokens, &acts);
  std::vector<float> ys(static_cast<size_t>(n_tokens * wv.rows), -1.0f), yt(ys.size(), -2.0f);
  kQKernelsScalar.gemm(m, acts, 0, m.blocks, ys.data(), wv.rows);
  // QActs::tiled exists only for n_tokens > 1 (quant_kernels.h); MatMul uses gemv for 1 token.
  if (n_tokens > 1) {
    kQKernelsNeon.gemm(m, acts, 0, m.blocks, yt.data(), wv.rows);
    ++g_gemm;
    for (size_t i = 0; i < ys.size(); ++i) {
      if (std::memcmp(&ys[i], &yt[i], 4) != 0) {
        Fail("gemm", what, n_tokens, i, wv.rows, ys[i], yt[i]);
      }
    }
  }
  for (int64_t t = 0; t < n_tokens; ++t) {
    QActs one;
    QActsResize(m, 1, &one);
    QuantizeActs(m, x.data() + t * wv.cols, 0, 1, &one);
    std::vector<float> yv(static_cast<size_t>(wv.rows), -3.0f), ysv(yv.size(), -4.0f);
    kQKernelsNeon.gemv(m, one, 0, m.blocks, yv.data());
    kQKernelsScalar.gemv(m, one, 0, m.blocks, ysv.data());
    ++g_gemv;
    const float* want = ys.data() + t * wv.rows;
    for (int64_t r = 0; r < wv.rows; ++r) {
      if (std::memcmp(&ysv[r], &want[r], 4) != 0)
        Fail("scalar-gemv-vs-scalar-gemm", what, n_tokens, t * wv.rows + r, wv.rows, want[r], ysv[r]);
      if (std::memcmp(&yv[r], &want[r], 4) != 0)
        Fail("gemv", what, n_tokens, t * wv.rows + r, wv.rows, want[r], yv[r]);
    }
  }
}

int main() {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  // Run time detection must see dotprod (qemu -cpu max has it) and pick these kernels.
  if (!GetCpuFeatures().neon_dotprod || &BestQKernels() != &kQKernelsNeon) {
    std::printf("FAIL: CPU feature detection did not select %s\n", kQKernelsNeon.name);
    return 1;
  }
  long cases = 0;
  for (int K = 1; K <= 4; ++K)
    for (int G : {32, 64, 128, 256})
      for (int64_t cols : {int64_t{5}, int64_t{G + 7}, int64_t{2 * G}, int64_t{2051}})
        for (int64_t rows : {1, 6, 13, 17}) {
          auto m = RandomTrit(rows, cols, K, G, static_cast<uint32_t>(K * 1000 + G + cols + rows));
          for (int64_t nt : {1, 5, 13, 29}) {
            const std::string what = "TRIT K=" + std::to_string(K) + " G=" + std::to_string(G) +
                                     " cols=" + std::to_string(cols) + " rows=" + std::to_string(rows);
            CheckNeon(m.view, nt, what);
            ++cases;
          }
        }
  // The base-3 layout (built for AVX-512 VBMI) on NEON: expanded block by block to 2-bit codes.
  for (int K : {1, 2})
    for (int64_t rows : {7, 171}) {
      auto m = RandomTrit(rows, 2051, K, 128, static_cast<uint32_t>(K * 31 + rows));
      for (int64_t nt : {1, 13}) {
        CheckNeon(m.view, nt, "TRIT base-3 K=" + std::to_string(K) + " rows=" + std::to_string(rows),
                  PreparedWeight::TritLayout::kBase3);
        ++cases;
      }
    }
  for (int bits : {2, 3, 4, 8})
    for (int G : {32, 64, 128, 256})
      for (int64_t cols : {int64_t{3}, int64_t{G + 9}, int64_t{2 * G}, int64_t{2083}})
        for (int64_t rows : {2, 9, 17}) {
          auto m = RandomIntG(rows, cols, G, bits, static_cast<uint32_t>(G + cols + rows + bits));
          for (int64_t nt : {1, 5, 13, 29}) {
            const std::string what = "INT_G" + std::to_string(bits) + " G=" + std::to_string(G) +
                                     " cols=" + std::to_string(cols) + " rows=" + std::to_string(rows);
            CheckNeon(m.view, nt, what);
            ++cases;
          }
        }
  for (int64_t cols : {32, 96, 2080})
    for (int64_t rows : {3, 17}) {
      auto m = RandomIntG(rows, cols, 32, 0, static_cast<uint32_t>(cols + rows));
      for (int64_t nt : {1, 13, 29}) {
        CheckNeon(m.view, nt, "Q8_0 cols=" + std::to_string(cols) + " rows=" + std::to_string(rows));
        ++cases;
      }
    }
  // ggml's block types, on the kernel kinds their codes map to (prepared_weight.h).
  size_t n_formats = 0;
  const Format* const* formats = AllFormats(&n_formats);
  for (size_t i = 0; i < n_formats; ++i) {
    if (formats[i]->affine == nullptr) continue;
    for (int64_t cols : {256, 2304})
      for (int64_t rows : {3, 9}) {
        auto m = test::RandomAffine(formats[i], rows, cols, static_cast<uint32_t>(cols + rows));
        for (int64_t nt : {1, 13}) {
          CheckNeon(m.view, nt, std::string(formats[i]->name) + " cols=" + std::to_string(cols) +
                                    " rows=" + std::to_string(rows));
          ++cases;
        }
      }
  }
  std::printf("PASS: %ld cases, %ld gemm calls, %ld gemv calls: %s == %s bit for bit\n", cases,
              g_gemm, g_gemv, kQKernelsNeon.name, kQKernelsScalar.name);
  return 0;
}
