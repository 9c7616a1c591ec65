// GPTQ into INT_G, and the error-feedback engine shared with ptqtp-gptq. See gptq.h.
#include "src/quant/gptq.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>

#include "src/base/cpu_features.h"
#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/int_g.h"

namespace tritium {
namespace gptq {

namespace {

constexpr uint16_t kF16MaxBits = 0x7bff;  // 65504
constexpr int kDampRetries = 6;
// Columns of L^-1 per independent work unit of Factorize (fixed, so bits do not depend on threads).
constexpr int64_t kInversePanel = 128;
// Tile edge of BlockedCholesky.
constexpr int64_t kCholeskyBlock = 256;

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

uint16_t F16RoundDown(float x) {
  if (x <= -65504.0f) return 0x8000 | kF16MaxBits;
  uint16_t h = F32ToF16(x);
  if (F16ToF32(h) > x) {
    if (h == 0x0000 || h == 0x8000) return 0x8001;  // the largest half below zero
    h = (h & 0x8000) ? h + 1 : h - 1;
  }
  return h;
}

uint16_t F16RoundUp(float x) {
  if (x >= 65504.0f) return kF16MaxBits;
  uint16_t h = F32ToF16(x);
  if (F16ToF32(h) < x) {
    if (h == 0x8000) return 0x0001;  // -0 -> the smallest positive half
    h = (h & 0x8000) ? h - 1 : h + 1;
  }
  return h;
}

// Right-looking blocked Cholesky, in place (lower triangle; the upper one is left as garbage).
// Fixed tiles of kCholeskyBlock: each tile's arithmetic is the same whichever thread does it, so
// the factor does not depend on the thread count. False if a pivot is not positive and finite.
bool BlockedCholesky(RowMajor* m, ThreadPool* pool) {
  RowMajor& a = *m;
  const int64_t n = a.rows(), bs = kCholeskyBlock;
  const int64_t nb = (n + bs - 1) / bs;
  auto parallel = [&](int64_t count, const std::function<void(int64_t)>& fn) {
    auto work = [&](int64_t i0, int64_t i1, int) {
      for (int64_t i = i0; i < i1; ++i) fn(i);
    };
    if (pool != nullptr && pool->num_threads() > 1) {
      pool->ParallelFor(count, work);
    } else {
      work(0, count, 0);
    }
  };
  for (int64_t k = 0; k < nb; ++k) {
    const int64_t k0 = k * bs, kn = std::min(bs, n - k0);
    auto akk = a.block(k0, k0, kn, kn);
    Eigen::LLT<Eigen::Ref<RowMajor>> llt(akk);
    if (llt.info() != Eigen::Success) return false;
    for (int64_t i = 0; i < kn; ++i) {
      if (!(akk(i, i) > 0.0) || !std::isfinite(akk(i, i))) return false;
    }
    const int64_t below = nb - k - 1;
    // The panel under the diagonal block: A_ik <- A_ik L_kk^-T.
    parallel(below, [&](int64_t t) {
      const int64_t i0 = (k + 1 + t) * bs, in = std::min(bs, n - i0);
      auto aik = a.block(i0, k0, in, kn);
      akk.transpose().triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(aik);
    });
    // The trailing lower triangle: A_ij -= A_ik A_jk^T for k < j <= i, one tile each.
    parallel(below * (below + 1) / 2, [&](int64_t t) {
      int64_t i = 0;
      while ((i + 1) * (i + 2) / 2 <= t) ++i;
      const int64_t j = t - i * (i + 1) / 2;
      const int64_t i0 = (k + 1 + i) * bs, in = std::min(bs, n - i0);
      const int64_t j0 = (k + 1 + j) * bs, jn = std::min(bs, n - j0);
      a.block(i0, j0, in, jn).noalias() -=
          a.block(i0, k0, in, kn) * a.block(j0, k0, jn, kn).transpose();
    });
  }
  return true;
}

StatusOr<Factor> Factorize(const double* hessian, int64_t n, double damp, bool act_order,
                           ThreadPool* pool) {
  if (hessian == nullptr) return InvalidArgumentError("no Hessian");
  if (n < 1) return InvalidArgumentError("Hessian must be at least 1 x 1");
  if (!(damp >= 0.0) || !std::isfinite(damp)) {
    return InvalidArgumentError("damping must be finite and >= 0");
  }
  Factor f;
  f.n = n;
  f.h.assign(hessian, hessian + n * n);
  for (double v : f.h) {
    if (!std::isfinite(v)) return InvalidArgumentError("Hessian has non-finite entries");
  }
  f.dead.assign(static_cast<size_t>(n), 0);
  double diag_sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (!(f.h[i * n + i] > 0.0)) {
      // The input is always zero here: the column's weights never matter. Decouple it.
      f.dead[i] = 1;
      for (int64_t j = 0; j < n; ++j) f.h[i * n + j] = f.h[j * n + i] = 0.0;
      f.h[i * n + i] = 1.0;
    }
    diag_sum += f.h[i * n + i];
  }
  const double mean_diag = diag_sum / static_cast<double>(n);
  f.perm.resize(static_cast<size_t>(n));
  std::iota(f.perm.begin(), f.perm.end(), int64_t{0});
  if (act_order) {
    std::stable_sort(f.perm.begin(), f.perm.end(),
                     [&](int64_t a, int64_t b) { return f.h[a * n + a] > f.h[b * n + b]; });
  }
  // A zero damping that fails still gets retried with a small relative one.
  double lambda = damp > 0.0 ? damp * mean_diag : 1e-6 * mean_diag;
  bool first = true;
  for (int attempt = 0; attempt <= kDampRetries; ++attempt) {
    const double add = first && damp == 0.0 ? 0.0 : lambda;
    // U comes from one Cholesky factorization and one triangular inverse (2n^3/3 flops; inverting
    // H and factoring the inverse again cost 8n^3/3). With J the reversal permutation and
    // J H J = L L^T: H^-1 = J L^-T L^-1 J = U^T U for U = J L^-1 J, upper triangular with a
    // positive diagonal, so U is the unique factor GPTQ needs. Memory matters at real widths (an
    // 11008-column Hessian is 0.97 GB): at most the caller's H, f.h, the work matrix and f.u exist
    // at once.
    RowMajor a(n, n);  // J P^T (H + add I) P J
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pi = f.perm[n - 1 - i];
      for (int64_t j = 0; j < n; ++j) a(i, j) = f.h[pi * n + f.perm[n - 1 - j]];
      a(i, i) += add;
    }
    bool ok = BlockedCholesky(&a, pool);  // L in a's lower triangle
    if (ok) {
      f.u.assign(static_cast<size_t>(n * n), 0.0);
      // L^-1 by fixed panels of kInversePanel columns, each independent of the others (its columns
      // are zero above the panel, so it needs only L's lower-right part): the bits do not depend
      // on the thread count.
      const int64_t panels = (n + kInversePanel - 1) / kInversePanel;
      auto work = [&](int64_t p0, int64_t p1, int) {
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t c0 = p * kInversePanel, c1 = std::min(n, c0 + kInversePanel);
          Eigen::MatrixXd y = Eigen::MatrixXd::Zero(n - c0, c1 - c0);
          for (int64_t c = c0; c < c1; ++c) y(c - c0, c - c0) = 1.0;
          a.bottomRightCorner(n - c0, n - c0).triangularView<Eigen::Lower>().solveInPlace(y);
          for (int64_t c = c0; c < c1; ++c) {  // U(n-1-r, n-1-c) = L^-1(r, c), r >= c
            for (int64_t r = c; r < n; ++r) f.u[(n - 1 - r) * n + (n - 1 - c)] = y(r - c0, c - c0);
          }
        }
      };
      if (pool != nullptr && pool->num_threads() > 1) {
        pool->ParallelFor(panels, work);
      } else {
        work(0, panels, 0);
      }
      for (int64_t i = 0; i < n && ok; ++i) {
        const double d = f.u[i * n + i];
        ok = std::isfinite(d) && d > 0.0;
      }
      for (size_t i = 0; i < f.u.size() && ok; ++i) ok = std::isfinite(f.u[i]);
      if (ok) {
        f.damp_abs = add;
        for (int64_t i = 0; i < n; ++i) f.h[i * n + i] += add;
        return f;
      }
      f.u.clear();
    }
    if (!first || damp == 0.0) lambda *= 10.0;
    first = false;
  }
  return InvalidArgumentError("Cholesky factorization failed even with damping " +
                              std::to_string(lambda));
}

StatusOr<std::shared_ptr<const Factor>> FactorFor(const QuantOptions& o, int64_t n, bool act_order,
                                                  ThreadPool* pool) {
  FactorCache* c = o.factor_cache;
  if (c != nullptr && c->factor != nullptr && c->hessian == o.hessian && c->damp == o.damp &&
      c->act_order == act_order && c->factor->n == n) {
    return c->factor;
  }
  auto f = Factorize(o.hessian, n, o.damp, act_order, pool);
  if (!f.ok()) return f.status();
  auto shared = std::make_shared<const Factor>(std::move(f).value());
  if (c != nullptr) *c = FactorCache{o.hessian, o.damp, act_order, shared};
  return shared;
}

void BlockUpdateScalar(double* w, const double* e, int64_t np, const double* u, int64_t ldu,
                       int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += kUpdateChunk) {
    const int64_t j1 = std::min(n, j0 + kUpdateChunk);
    for (int64_t p = 0; p < np; ++p) {
      if (e[p] == 0.0) continue;
      const double* up = u + p * ldu;
      for (int64_t j = j0; j < j1; ++j) w[j] -= e[p] * up[j];
    }
  }
}

void RunRows(const Factor& f, int group, double* w, int64_t rows, RowQuantizer* const* q) {
  const int64_t n = f.n;
  const int64_t block = std::max<int64_t>(128, group);
  const bool permuted = !std::is_sorted(f.perm.begin(), f.perm.end());
  for (int64_t r = 0; r < rows; ++r) {
    double* wr = w + r * n;
    for (int64_t c = 0; c < n; ++c) {
      if (f.dead[c]) wr[c] = 0.0;
    }
  }
  // Processing-order working rows: with act_order the groups are fitted here, up front, on the
  // original weights (static groups), and then the rows are permuted.
  std::vector<double> permuted_rows;
  double* wp = w;
  if (permuted) {
    permuted_rows.resize(static_cast<size_t>(rows * n));
    for (int64_t r = 0; r < rows; ++r) {
      double* wr = w + r * n;
      for (int64_t c0 = 0; c0 < n; c0 += group) {
        q[r]->FitGroup(c0 / group, wr + c0, static_cast<int>(std::min<int64_t>(group, n - c0)));
      }
      for (int64_t p = 0; p < n; ++p) permuted_rows[r * n + p] = wr[f.perm[p]];
    }
    wp = permuted_rows.data();
  }
  std::vector<double> err(static_cast<size_t>(rows * block));
  const double* u = f.u.data();
  for (int64_t b0 = 0; b0 < n; b0 += block) {
    const int64_t b1 = std::min(b0 + block, n);
    for (int64_t p = b0; p < b1; ++p) {
      const int64_t col = f.perm[p];
      const double* up = u + p * n;
      const double inv_d = 1.0 / up[p];
      for (int64_t r = 0; r < rows; ++r) {
        double* wr = wp + r * n;
        if (!permuted && p % group == 0) {
          q[r]->FitGroup(p / group, wr + p, static_cast<int>(std::min<int64_t>(group, n - p)));
        }
        const double x = wr[p];
        const double e = (x - q[r]->Quantize(col, x)) * inv_d;
        err[r * block + (p - b0)] = e;
        if (e == 0.0) continue;
        for (int64_t j = p + 1; j < b1; ++j) wr[j] -= e * up[j];
      }
    }
    if (b1 == n) break;
      // The block's accumulated error, onto every later column, row by row: a column chunk of the
      // block's U rows stays in cache while all of them are applied to it. For each column the
      // terms still come in p order, so the bits are those of the plain triple loop.
#if defined(__x86_64__)
    static const auto update = GetCpuFeatures().avx2_fma ? BlockUpdateAvx2 : BlockUpdateScalar;
#else
    static const auto update = BlockUpdateScalar;
#endif
    for (int64_t r = 0; r < rows; ++r) {
      update(wp + r * n + b1, &err[r * block], b1 - b0, u + b0 * n + b1, n, n - b1);
    }
  }
}

void ForRowChunks(ThreadPool* pool, int64_t rows, int64_t chunk,
                  const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t chunks = (rows + chunk - 1) / chunk;
  auto work = [&](int64_t c0, int64_t c1, int) {
    for (int64_t c = c0; c < c1; ++c) fn(c * chunk, std::min(rows, (c + 1) * chunk));
  };
  if (pool == nullptr || pool->num_threads() <= 1) {
    work(0, chunks, 0);
  } else {
    pool->ParallelFor(chunks, work);
  }
}

}  // namespace gptq

namespace {

using gptq::F16RoundDown;
using gptq::F16RoundUp;

// INT_G's grid for each group of one row, fitted like the format's encoder.
class IntGRow : public gptq::RowQuantizer {
 public:
  IntGRow(int64_t cols, int group, int bits)
      : group_(group), bits_(bits), levels_((1 << bits) - 1),
        groups_((cols + group - 1) / group), sh_(groups_), mh_(groups_), s_(groups_), m_(groups_),
        codes_(static_cast<size_t>(cols)) {}

  void FitGroup(int64_t g, const double* w, int n) override {
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; ++i) {
      const float x = static_cast<float>(w[i]);
      if (!std::isfinite(x)) continue;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    if (lo > hi) lo = hi = 0.0f;
    mh_[g] = F16RoundDown(lo);
    m_[g] = F16ToF32(mh_[g]);
    const double exact_step = (static_cast<double>(hi) - m_[g]) / levels_;
    float step = static_cast<float>(exact_step);
    if (step < exact_step) step = std::nextafter(step, INFINITY);
    sh_[g] = F16RoundUp(step);
    s_[g] = F16ToF32(sh_[g]);
  }

  double Quantize(int64_t col, double w) override {
    const int64_t g = col / group_;
    const float s = s_[g], m = m_[g];
    long q = s > 0 && std::isfinite(w) ? std::lround((w - m) / s) : 0;
    q = std::clamp<long>(q, 0, levels_);
    codes_[col] = static_cast<uint8_t>(q);
    return static_cast<double>(m + s * static_cast<float>(q));  // what the decoder computes
  }

  void Pack(int64_t cols, uint8_t* dst) const {
    for (int64_t g = 0; g < groups_; ++g) {
      const int64_t c0 = g * group_;
      const int n = static_cast<int>(std::min<int64_t>(group_, cols - c0));
      dst[0] = static_cast<uint8_t>(sh_[g]);
      dst[1] = static_cast<uint8_t>(sh_[g] >> 8);
      dst[2] = static_cast<uint8_t>(mh_[g]);
      dst[3] = static_cast<uint8_t>(mh_[g] >> 8);
      uint8_t* codes = dst + kIntGHeaderBytes;
      std::memset(codes, 0, IntGCodeBytes(n, bits_));
      for (int i = 0; i < n; ++i) {
        const unsigned q = codes_[c0 + i];
        const size_t bit = static_cast<size_t>(i) * bits_;
        codes[bit / 8] |= static_cast<uint8_t>(q << (bit % 8));
        if (bit % 8 + bits_ > 8) codes[bit / 8 + 1] |= static_cast<uint8_t>(q >> (8 - bit % 8));
      }
      dst += IntGGroupBytes(n, bits_);
    }
  }

 private:
  int group_, bits_, levels_;
  int64_t groups_;
  std::vector<uint16_t> sh_, mh_;
  std::vector<float> s_, m_;
  std::vector<uint8_t> codes_;
};

StatusOr<QuantResult> Quantize(const float* w, int64_t rows, int64_t cols, const QuantOptions& o,
                               ThreadPool* pool) {
  const Format& format = *FindFormat(FormatId::kIntG);
  const FormatParams params{0, o.group, o.bits};
  TRITIUM_RETURN_IF_ERROR(format.check_params(cols, params).WithPrefix("gptq: "));
  if (rows < 0) return InvalidArgumentError("gptq: rows must be >= 0");
  if (o.hessian == nullptr) {
    return InvalidArgumentError("gptq: needs a Hessian from calibration text (--calib)");
  }
  auto f = gptq::FactorFor(o, cols, o.act_order, pool);
  if (!f.ok()) return f.status().WithPrefix("gptq: ");
  const size_t row_bytes = format.row_bytes(cols, params);
  QuantResult result;
  result.format = FormatId::kIntG;
  result.params = params;
  result.data.assign(static_cast<size_t>(rows) * row_bytes, 0);
  std::vector<RowError> row_errors(static_cast<size_t>(rows));
  gptq::ForRowChunks(pool, rows, gptq::kRowChunk, [&](int64_t r0, int64_t r1) {
    const int64_t m = r1 - r0;
    std::vector<double> wk(static_cast<size_t>(m * cols));
    for (int64_t i = 0; i < m * cols; ++i) {
      const float v = w[r0 * cols + i];
      wk[i] = std::isfinite(v) ? v : 0.0;
    }
    std::vector<std::unique_ptr<IntGRow>> qs;
    std::vector<gptq::RowQuantizer*> qp;
    for (int64_t r = 0; r < m; ++r) {
      qs.push_back(std::make_unique<IntGRow>(cols, o.group, o.bits));
      qp.push_back(qs.back().get());
    }
    gptq::RunRows(**f, o.group, wk.data(), m, qp.data());
    std::vector<float> deq(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      uint8_t* dst = result.data.data() + r * row_bytes;
      qs[r - r0]->Pack(cols, dst);
      format.dequantize_row(dst, deq.data(), cols, params);
      row_errors[r] = MeasureRowError(w + r * cols, deq.data(), cols);
    }
  });
  AddRowErrors(row_errors, &result);
  return result;
}

}  // namespace

extern const Method kGptqMethod = {"gptq", Quantize, IntGOutput};

}  // namespace tritium
