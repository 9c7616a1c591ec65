// PTQTP (docs/ptqtp.md): alternating ridge scale fits and exhaustive trit searches per segment of G
// weights, synchronized over the whole matrix so the global stopping rule sees every segment after
// the same number of sweeps. Each segment is computed by one thread from its own data only and the
// stopping sum is reduced in segment order, so the bytes do not depend on the thread count.
#include "src/quant/ptqtp.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>

#include "src/base/cpu_features.h"
#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/trit_planes.h"

namespace tritium {
namespace ptqtp {
namespace {

constexpr double kLambdaStart = 1e-8;
constexpr double kLambdaMax = 1.0;
constexpr double kKappaMax = 1e6;
constexpr double kF16Max = 65504.0;

struct Tables {
  // trit[K][code][k], tie order and ranks for K = 1..4.
  int8_t trit[kMaxPlanes + 1][kMaxCombos][kMaxPlanes] = {};
  std::vector<int> order[kMaxPlanes + 1];
  int rank[kMaxPlanes + 1][kMaxCombos] = {};

  Tables() {
    for (int K = 1; K <= kMaxPlanes; ++K) {
      const int n = NumCombos(K);
      for (int c = 0; c < n; ++c) {
        int v = c;
        for (int k = 0; k < K; ++k, v /= 3) trit[K][c][k] = static_cast<int8_t>(v % 3 - 1);
      }
      order[K].resize(n);
      for (int c = 0; c < n; ++c) order[K][c] = c;
      std::sort(order[K].begin(), order[K].end(), [&](int a, int b) {
        const int8_t* ta = trit[K][a];
        const int8_t* tb = trit[K][b];
        int nnz_a = 0, nnz_b = 0;
        for (int k = 0; k < K; ++k) {
          nnz_a += ta[k] != 0;
          nnz_b += tb[k] != 0;
        }
        if (nnz_a != nnz_b) return nnz_a < nnz_b;
        for (int k = K - 1; k >= 0; --k) {  // later planes' non-zeros first
          if ((ta[k] != 0) != (tb[k] != 0)) return ta[k] != 0;
        }
        for (int k = 0; k < K; ++k) {  // same support: +1 before -1, plane 0 first
          if (ta[k] != tb[k]) return ta[k] > tb[k];
        }
        return false;
      });
      for (int r = 0; r < n; ++r) rank[K][order[K][r]] = r;
    }
  }
};

const Tables& T() {
  static const Tables tables;
  return tables;
}

// Inverts a K x K matrix by Gauss-Jordan elimination with partial pivoting; false if singular.
bool Invert(const double* m, int K, double* inv) {
  double a[kMaxPlanes][2 * kMaxPlanes];
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) {
      a[i][j] = m[i * K + j];
      a[i][K + j] = i == j ? 1.0 : 0.0;
    }
  }
  for (int c = 0; c < K; ++c) {
    int p = c;
    for (int i = c + 1; i < K; ++i) {
      if (std::fabs(a[i][c]) > std::fabs(a[p][c])) p = i;
    }
    if (a[p][c] == 0.0 || !std::isfinite(a[p][c])) return false;
    if (p != c) {
      for (int j = 0; j < 2 * K; ++j) std::swap(a[p][j], a[c][j]);
    }
    const double d = a[c][c];
    for (int j = 0; j < 2 * K; ++j) a[c][j] /= d;
    for (int i = 0; i < K; ++i) {
      if (i == c || a[i][c] == 0.0) continue;
      const double f = a[i][c];
      for (int j = 0; j < 2 * K; ++j) a[i][j] -= f * a[c][j];
    }
  }
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) inv[i * K + j] = a[i][K + j];
  }
  return true;
}

double FrobeniusNorm(const double* m, int K) {
  double s = 0.0;
  for (int i = 0; i < K * K; ++i) s += m[i] * m[i];
  return std::sqrt(s);
}

}  // namespace

int NumCombos(int planes) {
  int n = 1;
  for (int k = 0; k < planes; ++k) n *= 3;
  return n;
}

int ComboTrit(int code, int plane) { return T().trit[kMaxPlanes][code][plane]; }

int ZeroCombo(int planes) { return (NumCombos(planes) - 1) / 2; }

const std::vector<int>& TieOrder(int planes) { return T().order[planes]; }

int TieRank(int planes, int code) { return T().rank[planes][code]; }

double ComboLevel(int planes, int code, const double* scales) {
  const int8_t* t = T().trit[planes][code];
  double level = 0.0;
  for (int k = 0; k < planes; ++k) level += scales[k] * t[k];
  return level;
}

int BruteForceTritSearch(double w, const double* scales, int planes) {
  int best = -1;
  double best_d = 0.0;
  for (int code : TieOrder(planes)) {
    const double diff = w - ComboLevel(planes, code, scales);
    const double d = diff * diff;
    if (best < 0 || d < best_d) {
      best = code;
      best_d = d;
    }
  }
  return best;
}

TritSearch::TritSearch(const double* scales, int planes) {
  struct Level {
    double value;
    int rank;
    int code;
  };
  std::array<Level, kMaxCombos> all;
  const int n = NumCombos(planes);
  for (int c = 0; c < n; ++c) all[c] = {ComboLevel(planes, c, scales), TieRank(planes, c), c};
  std::sort(all.begin(), all.begin() + n, [](const Level& a, const Level& b) {
    return a.value != b.value ? a.value < b.value : a.rank < b.rank;
  });
  for (int i = 0; i < kSlots; ++i) {
    v_[i] = i < kFront ? -INFINITY : INFINITY;
    codes_[i] = ranks_[i] = 0;
  }
  // Equal levels are the same candidate to the search; keep the most preferred combination.
  for (int i = 0; i < n; ++i) {
    if (num_levels_ > 0 && all[i].value == v_[kFront + num_levels_ - 1]) continue;
    v_[kFront + num_levels_] = all[i].value;
    codes_[kFront + num_levels_] = all[i].code;
    ranks_[kFront + num_levels_] = all[i].rank;
    ++num_levels_;
  }
  while (size_ <= num_levels_) size_ *= 2;
}

int TritSearch::Find(double w) const {
  // cnt = number of levels <= w, by a branchless binary search over the +inf-padded levels.
  const double* p = v_ + kFront;
  int cnt = 0;
  for (int step = size_ / 2; step >= 1; step /= 2) cnt += p[cnt + step - 1] <= w ? step : 0;
  const int lo = kFront + cnt - 1, hi = kFront + cnt;
  // Rounding of (w - level) is monotone in the level, so computed distances never decrease moving
  // away from w on either side: the reference's minimum is at lo or hi. Only an exact tie in
  // computed distance, at lo/hi or spreading past them, needs the tie order.
  const double dlo = Dist(w, lo), dhi = Dist(w, hi);
  const double best = std::min(dlo, dhi);
  if (dlo != dhi && Dist(w, lo - 1) != best && Dist(w, hi + 1) != best) {
    return dlo < dhi ? codes_[lo] : codes_[hi];
  }
  return Slow(w, lo, hi);
}

int TritSearch::Slow(double w, int lo, int hi) const {
  const double best_d = std::min(Dist(w, lo), Dist(w, hi));
  int best = -1;
  for (int i = lo; i >= kFront && Dist(w, i) == best_d; --i) {
    if (best < 0 || ranks_[i] < ranks_[best]) best = i;
  }
  for (int i = hi; i < kFront + num_levels_ && Dist(w, i) == best_d; ++i) {
    if (best < 0 || ranks_[i] < ranks_[best]) best = i;
  }
  return codes_[best];
}

double RidgeSolve(const double* gram, const double* rhs, int planes, double* scales) {
  const int K = planes;
  double a[kMaxPlanes * kMaxPlanes], inv[kMaxPlanes * kMaxPlanes];
  double lambda = kLambdaStart;
  for (;;) {
    std::memcpy(a, gram, sizeof(double) * K * K);
    for (int k = 0; k < K; ++k) a[k * K + k] += lambda;
    const bool ok = Invert(a, K, inv);
    const double kappa = ok ? FrobeniusNorm(a, K) * FrobeniusNorm(inv, K) : INFINITY;
    if ((ok && kappa <= kKappaMax) || lambda >= kLambdaMax) {
      if (!ok) {  // only if gram is not finite: leave the scales at zero
        for (int k = 0; k < K; ++k) scales[k] = 0.0;
        return lambda;
      }
      break;
    }
    lambda = std::min(lambda * 10.0, kLambdaMax);
  }
  for (int k = 0; k < K; ++k) {
    double s = 0.0;
    for (int l = 0; l < K; ++l) s += inv[k * K + l] * rhs[l];
    scales[k] = s;
  }
  // Planes with identical normal equations have equal exact scales: undo the solver's rounding
  // asymmetry so the trit tie order, not rounding noise, decides how they diverge.
  for (int l = 1; l < K; ++l) {
    for (int k = 0; k < l; ++k) {
      bool same = rhs[k] == rhs[l] && gram[k * K + k] == gram[l * K + l] &&
                  gram[k * K + l] == gram[k * K + k];
      for (int m = 0; m < K && same; ++m) {
        if (m != k && m != l) same = gram[k * K + m] == gram[l * K + m];
      }
      if (same) {
        scales[l] = scales[k];
        break;
      }
    }
  }
  return lambda;
}

void ScaleStep(const float* w, const float* importance, const uint8_t* codes, int n, int planes,
               double* scales) {
  const int K = planes;
  const int nc = NumCombos(K);
  // The normal equations depend on the trits only through which combination each weight took:
  // accumulate per-combination sums, then expand (two adds per weight instead of K(K+3)/2).
  double hsum[kMaxCombos] = {}, hwsum[kMaxCombos] = {};
  double hmean = 1.0;
  if (importance != nullptr) {
    double s = 0.0;
    int cnt = 0;
    for (int j = 0; j < n; ++j) {
      if (std::isfinite(w[j])) {
        s += importance[j];
        ++cnt;
      }
    }
    hmean = cnt > 0 ? s / cnt : 0.0;
    if (!(hmean > 0.0)) importance = nullptr;
  }
  if (importance == nullptr) {
    for (int j = 0; j < n; ++j) {
      if (!std::isfinite(w[j])) continue;
      hsum[codes[j]] += 1.0;
      hwsum[codes[j]] += w[j];
    }
  } else {
    const double inv_mean = 1.0 / hmean;
    for (int j = 0; j < n; ++j) {
      if (!std::isfinite(w[j])) continue;
      const double h = importance[j] * inv_mean;
      hsum[codes[j]] += h;
      hwsum[codes[j]] += h * w[j];
    }
  }
  double gram[kMaxPlanes * kMaxPlanes] = {}, rhs[kMaxPlanes] = {};
  const Tables& t = T();
  for (int c = 0; c < nc; ++c) {
    if (hsum[c] == 0.0 && hwsum[c] == 0.0) continue;
    const int8_t* tc = t.trit[K][c];
    for (int k = 0; k < K; ++k) {
      if (tc[k] == 0) continue;
      rhs[k] += tc[k] * hwsum[c];
      for (int l = 0; l < K; ++l) gram[k * K + l] += tc[k] * tc[l] * hsum[c];
    }
  }
  RidgeSolve(gram, rhs, K, scales);
}

bool TritStep(const float* w, int n, int planes, const double* scales, uint8_t* codes) {
#if defined(__x86_64__)
  static const bool avx2 = GetCpuFeatures().avx2_fma;
  if (avx2 && planes <= 2) return TritStepAvx2(w, n, planes, scales, codes);
#endif
  return TritStepScalar(w, n, planes, scales, codes);
}

bool TritStepScalar(const float* w, int n, int planes, const double* scales, uint8_t* codes) {
  const TritSearch search(scales, planes);
  const uint8_t zero = static_cast<uint8_t>(ZeroCombo(planes));
  bool changed = false;
  for (int j = 0; j < n; ++j) {
    const uint8_t c = std::isfinite(w[j]) ? static_cast<uint8_t>(search.Find(w[j])) : zero;
    changed |= c != codes[j];
    codes[j] = c;
  }
  return changed;
}

double SegmentObjective(const float* w, const float* importance, const uint8_t* codes, int n,
                        int planes, const double* scales) {
  double s = 0.0;
  for (int j = 0; j < n; ++j) {
    if (!std::isfinite(w[j])) continue;
    const double d = w[j] - ComboLevel(planes, codes[j], scales);
    s += (importance != nullptr ? importance[j] : 1.0) * d * d;
  }
  return s;
}

}  // namespace ptqtp

namespace {

using namespace ptqtp;  // NOLINT: this file is the method built from those steps

template <typename Fn>
void ForRows(ThreadPool* pool, int64_t rows, const Fn& fn) {
  if (pool == nullptr || pool->num_threads() <= 1) {
    fn(int64_t{0}, rows);
    return;
  }
  pool->ParallelFor(rows, [&](int64_t r0, int64_t r1, int) { fn(r0, r1); });
}

StatusOr<QuantResult> Quantize(const float* w, int64_t rows, int64_t cols, const QuantOptions& o,
                               ThreadPool* pool) {
  const Format& format = *FindFormat(FormatId::kTritPlanes);
  const FormatParams params{o.planes, o.group, 0};
  TRITIUM_RETURN_IF_ERROR(format.check_params(cols, params).WithPrefix("ptqtp: "));
  if (rows < 0) return InvalidArgumentError("ptqtp: rows must be >= 0");
  if (o.max_iters < 1) return InvalidArgumentError("ptqtp: max_iters must be >= 1");
  if (!(o.eps >= 0.0) || !std::isfinite(o.eps)) {
    return InvalidArgumentError("ptqtp: eps must be finite and >= 0");
  }
  const float* importance = nullptr;
  if (!o.importance.empty()) {
    if (static_cast<int64_t>(o.importance.size()) != cols) {
      return InvalidArgumentError("ptqtp: importance has " + std::to_string(o.importance.size()) +
                                  " entries, expected cols = " + std::to_string(cols));
    }
    for (float h : o.importance) {
      if (!std::isfinite(h) || h < 0.0f) {
        return InvalidArgumentError("ptqtp: importance must be finite and >= 0");
      }
    }
    importance = o.importance.data();
  }

  const int K = o.planes, G = o.group;
  const int64_t groups = (cols + G - 1) / G;
  const int64_t segments = rows * groups;
  auto seg_len = [&](int64_t g) { return static_cast<int>(std::min<int64_t>(G, cols - g * G)); };

  std::vector<uint8_t> codes(static_cast<size_t>(rows * cols));
  std::vector<double> scales(static_cast<size_t>(segments * K), 0.0);
  std::vector<double> delta_sq(static_cast<size_t>(segments), 0.0);
  // A segment whose trit step changed nothing will compute the same scales and trits forever: it is
  // at a fixed point, so later sweeps skip it (an exact shortcut, the same for every thread count).
  std::vector<uint8_t> fixed(static_cast<size_t>(segments), 0);

  // Init: every plane = sign(w); non-finite weights take the zero combination.
  int sign_code[3];  // for sign -1, 0, +1
  for (int s = -1; s <= 1; ++s) {
    int c = 0;
    for (int k = K - 1; k >= 0; --k) c = c * 3 + (s + 1);
    sign_code[s + 1] = c;
  }
  ForRows(pool, rows, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0 * cols; i < r1 * cols; ++i) {
      const float v = w[i];
      const int s = !std::isfinite(v) ? 0 : (v > 0.0f) - (v < 0.0f);
      codes[i] = static_cast<uint8_t>(sign_code[s + 1]);
    }
  });

  QuantResult result;
  for (int it = 1; it <= o.max_iters; ++it) {
    ForRows(pool, rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t s = r * groups + g;
          if (fixed[s]) {
            delta_sq[s] = 0.0;
            continue;
          }
          const int n = seg_len(g);
          const float* ws = w + r * cols + g * G;
          uint8_t* cs = codes.data() + r * cols + g * G;
          double* as = scales.data() + s * K;
          double a[kMaxPlanes];
          ScaleStep(ws, importance ? importance + g * G : nullptr, cs, n, K, a);
          double d = 0.0;
          for (int k = 0; k < K; ++k) {
            d += (a[k] - as[k]) * (a[k] - as[k]);
            as[k] = a[k];
          }
          delta_sq[s] = d;
          if (!TritStep(ws, n, K, a, cs)) fixed[s] = 1;
        }
      }
    });
    result.iterations = it;
    double total = 0.0;
    for (double d : delta_sq) total += d;
    if (std::sqrt(total) <= o.eps) break;
  }

  // Final: scales to fp16, trits re-searched against them, then packed.
  const size_t row_bytes = format.row_bytes(cols, params);
  result.format = FormatId::kTritPlanes;
  result.params = params;
  result.data.assign(static_cast<size_t>(rows) * row_bytes, 0);
  std::vector<RowError> row_errors(static_cast<size_t>(rows));
  ForRows(pool, rows, [&](int64_t r0, int64_t r1) {
    std::vector<int8_t> trits(G);
    std::vector<float> deq(cols);
    for (int64_t r = r0; r < r1; ++r) {
      uint8_t* dst = result.data.data() + r * row_bytes;
      for (int64_t g = 0; g < groups; ++g) {
        const int n = seg_len(g);
        const int64_t s = r * groups + g;
        double a[kMaxPlanes];
        for (int k = 0; k < K; ++k) {
          const uint16_t h =
              F32ToF16(static_cast<float>(std::min(std::fabs(scales[s * K + k]), kF16Max)));
          a[k] = F16ToF32(h);
          dst[TritScaleOffset(k)] = static_cast<uint8_t>(h);
          dst[TritScaleOffset(k) + 1] = static_cast<uint8_t>(h >> 8);
        }
        uint8_t* cs = codes.data() + r * cols + g * G;
        TritStep(w + r * cols + g * G, n, K, a, cs);
        for (int k = 0; k < K; ++k) {
          for (int j = 0; j < n; ++j) trits[j] = static_cast<int8_t>(ComboTrit(cs[j], k));
          PackTritGroup(trits.data(), n, dst + TritPlaneOffset(n, K, k));
        }
        dst += TritGroupBytes(n, K);
      }
      // Errors against what inference will see: the reference decoder's output.
      format.dequantize_row(result.data.data() + r * row_bytes, deq.data(), cols, params);
      row_errors[r] = MeasureRowError(w + r * cols, deq.data(), cols);
    }
  });
  AddRowErrors(row_errors, &result);
  return result;
}

}  // namespace

extern const Method kPtqtpMethod = {"ptqtp", Quantize, TritPlanesOutput};

}  // namespace tritium
