#include "src/kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "src/base/cpu_features.h"
#include "src/kernels/cpu/dot_f32.h"
#include "src/kernels/cpu/dot_half.h"
#include "src/kernels/cpu/quant_kernels.h"
#include "src/kernels/prepared_weight.h"

namespace tritium {

namespace {

// Rows are handed out in units of this many (a multiple of the 3- and 4-row tiles) so the thread
// split never changes how a row is computed.
constexpr int64_t kRowUnit = 12;
// Tokens per pass over a row block: keeps the activations of one pass cache-resident.
constexpr int64_t kTokenBlock = 64;

// The integer kernels on a prepared matrix: quantize the activations (in parallel over tokens for
// a batch), then split row blocks over the threads; each row block is computed whole by one thread
// with a fixed order of operations, so the split does not change any bit.
void MatMulPrepared(const QKernels& kern, const QMatrix& m, const float* x, int64_t n_tokens,
                    float* y, ThreadPool* pool) {
  // Reused across calls by the calling thread; lambdas below use the reference, never the
  // thread_local name (which would name the worker's own copy).
  thread_local QActs acts_storage;
  QActs& acts = acts_storage;
  const bool gemv = n_tokens == 1;
  QActsResize(m, n_tokens, &acts);
  if (gemv || pool == nullptr) {
    QuantizeActs(m, x, 0, n_tokens, &acts);
  } else {
    pool->ParallelFor(n_tokens, [&](int64_t t0, int64_t t1, int) {
      QuantizeActs(m, x, t0, t1, &acts);
    });
  }
  const QActs& a = acts;
  auto work = [&](int64_t b0, int64_t b1, int /*thread*/) {
    if (gemv) {
      kern.gemv(m, a, b0, b1, y);
    } else {
      kern.gemm(m, a, b0, b1, y, m.rows);
    }
  };
  if (pool == nullptr) {
    work(0, m.blocks, 0);
  } else {
    pool->ParallelFor(m.blocks, work, 1);
  }
}

}  // namespace

void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool* pool) {
  TRITIUM_CHECK(w.format != nullptr);
  if (w.prepared != nullptr && n_tokens > 0) {
    const QKernels& kern = BestQKernels();
    if (&kern != &kQKernelsScalar) {
      MatMulPrepared(kern, w.prepared->matrix(), x, n_tokens, y, pool);
      return;
    }
  }
  const bool half = w.format->id == FormatId::kF16 || w.format->id == FormatId::kBF16;
  if (half && n_tokens == 1) {
    if (HalfGemvFn gemv = BestHalfGemv(); gemv != nullptr) {
      const bool bf16 = w.format->id == FormatId::kBF16;
      auto rows = [&](int64_t r0, int64_t r1, int) {
        gemv(w.data, w.row_bytes, bf16, r0, r1, x, w.cols, y);
      };
      if (pool == nullptr) {
        rows(0, w.rows, 0);
      } else {
        pool->ParallelFor(w.rows, rows, kRowUnit);
      }
      return;
    }
  }
  const DotTileFn tile = BestDotTile();
  const bool is_f32 = w.format->id == FormatId::kF32;
  const int64_t k = w.cols;
  auto work = [&](int64_t r0, int64_t r1, int /*thread*/) {
    std::vector<float> scratch;
    if (!is_f32) scratch.resize(static_cast<size_t>(kRowUnit * k));
    const float* rows[kRowUnit];
    for (int64_t r = r0; r < r1; r += kRowUnit) {
      int nr = static_cast<int>(std::min(kRowUnit, r1 - r));
      for (int i = 0; i < nr; ++i) {
        const uint8_t* src = w.data + static_cast<size_t>(r + i) * w.row_bytes;
        if (is_f32) {
          rows[i] = reinterpret_cast<const float*>(src);
        } else {
          w.format->dequantize_row(src, scratch.data() + i * k, k, w.params);
          rows[i] = scratch.data() + i * k;
        }
      }
      for (int64_t t = 0; t < n_tokens; t += kTokenBlock) {
        int nt = static_cast<int>(std::min(kTokenBlock, n_tokens - t));
        tile(rows, nr, x + t * k, k, nt, k, y + t * w.rows + r, w.rows);
      }
    }
  };
  if (pool == nullptr) {
    work(0, w.rows, 0);
  } else {
    pool->ParallelFor(w.rows, work, kRowUnit);
  }
}

void MatMulReference(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    w.format->dequantize_row(w.data + static_cast<size_t>(r) * w.row_bytes, row.data(), w.cols,
                             w.params);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double s = 0;
      for (int64_t c = 0; c < w.cols; ++c) s += static_cast<double>(row[c]) * x[t * w.cols + c];
      y[t * w.rows + r] = static_cast<float>(s);
    }
  }
}

}  // namespace tritium
