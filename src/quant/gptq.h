// GPTQ (research-papers.md section 3.8): quantize the columns of W one at a time and push each
// column's rounding error onto the columns not yet quantized, through the upper Cholesky factor of
// the inverse Hessian, so that the layer's output error ||(W - W_hat) X||^2 is what gets minimised
// rather than the weight error. The method "gptq" writes INT_G (B = QuantOptions::bits, G = group)
// and needs QuantOptions::hessian. The pieces below (factorization, the row engine) are shared with
// the trit-plane variant (ptqtp_gptq.h), which plugs a different group quantizer into the loop.
//
// Choices (implemented from the description, not from any reference code):
//  - Rows are independent given the factor, so the work is split over rows; every row sees one
//    fixed sequence of operations, which makes the bytes independent of the thread count.
//  - Lazy block updates with block = max(128, G) columns; inside a block the error goes to the
//    block's later columns at once, after the block to all later columns.
//  - Dead columns (H_ii = 0: the input is always zero there) get H_ii = 1 and weight 0.
//  - Damping: H += damp * mean(diag H) * I (damp = 0.01). If the Cholesky factorization still
//    fails (numerically indefinite H), the damping is multiplied by 10, up to 6 times.
//  - Group parameters are fitted when the loop reaches a group's first column, on the current
//    (error-updated) weights of the whole group. With act_order the columns go in order of
//    decreasing H_ii and the group parameters are fitted up front on the original weights
//    ("static groups"), because a group's columns are no longer processed together.
//  - The INT_G group grid is the format's own (fp16 minimum rounded down, fp16 step rounded up);
//    columns updated past the group's range are clamped. With H = I the loop therefore reproduces
//    INT_G's canonical encoder (rtn) byte for byte.
#ifndef TRITIUM_QUANT_GPTQ_H_
#define TRITIUM_QUANT_GPTQ_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "src/quant/method.h"

namespace tritium {

extern const Method kGptqMethod;

namespace gptq {

// The damped Hessian in processing order and the upper Cholesky factor U of its inverse
// (H^-1 = U^T U).
struct Factor {
  int64_t n = 0;
  std::vector<int64_t> perm;  // processing position -> original column
  std::vector<uint8_t> dead;  // by original column: H_ii == 0 (or not finite)
  std::vector<double> h;      // damped H, original order, n x n row-major
  std::vector<double> u;      // U in processing order, n x n row-major (lower part zero)
  double damp_abs = 0;        // the damping added to the diagonal
};

// `pool` (optional) shares the triangular inverse; the factor is the same for any thread count.
StatusOr<Factor> Factorize(const double* hessian, int64_t n, double damp, bool act_order,
                           ThreadPool* pool = nullptr);

// See QuantOptions::factor_cache.
struct FactorCache {
  const double* hessian = nullptr;
  double damp = 0;
  bool act_order = false;
  std::shared_ptr<const Factor> factor;
};

// Factorize(o.hessian, n, o.damp, act_order), through o.factor_cache when there is one. The
// factor is the same whichever way it is obtained.
StatusOr<std::shared_ptr<const Factor>> FactorFor(const QuantOptions& o, int64_t n, bool act_order,
                                                  ThreadPool* pool);

// Quantizes one row's values, column by column, for the engine below. One object per row.
class RowQuantizer {
 public:
  virtual ~RowQuantizer() = default;
  // Fits the grid of group `g` to the row's current values w[0..n) of its columns (original
  // order).
  virtual void FitGroup(int64_t g, const double* w, int n) = 0;
  // The decoded value the row will store at original column `col`, whose current value is w.
  virtual double Quantize(int64_t col, double w) = 0;
};

// Runs the error-feedback loop over the row-major [rows x f.n] working matrix w (double, original
// column order; updated in place, so on return w holds error-updated values that callers must not
// use as weights). q[r] quantizes row r. `group` cuts the original columns into groups (the last
// one may be shorter).
void RunRows(const Factor& f, int group, double* w, int64_t rows, RowQuantizer* const* q);

// The lazy block update of RunRows for one row: w[j] -= e[p] * u[p * ldu + j] for every j in
// [0, n) and p in [0, np) with e[p] != 0, p ascending for each j, each product rounded before the
// subtraction. Columns go in chunks of kUpdateChunk so that the chunk of U stays in cache while it
// is applied. The AVX2 twin gives the same bits (no FMA); RunRows picks it once per process.
inline constexpr int64_t kUpdateChunk = 256;
void BlockUpdateScalar(double* w, const double* e, int64_t np, const double* u, int64_t ldu,
                       int64_t n);
void BlockUpdateAvx2(double* w, const double* e, int64_t np, const double* u, int64_t ldu,
                     int64_t n);

// Rows per work unit of the methods built on RunRows.
constexpr int64_t kRowChunk = 16;

// Calls fn(r0, r1) over [0, rows) in fixed chunks of rows, in parallel when pool has threads. The
// chunks depend only on rows, never on the thread count.
void ForRowChunks(ThreadPool* pool, int64_t rows, int64_t chunk,
                  const std::function<void(int64_t, int64_t)>& fn);

// fp16 bits of the largest half <= x / the smallest half >= x (x finite; saturating at 65504).
uint16_t F16RoundDown(float x);
uint16_t F16RoundUp(float x);

}  // namespace gptq
}  // namespace tritium

#endif  // TRITIUM_QUANT_GPTQ_H_
