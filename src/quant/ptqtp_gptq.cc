// Calibration-aware trit-planes: ptqtp-w, ptqtp-gptq(-w), ptqtp-ls, ptqtp-gptq-ls. See
// ptqtp_gptq.h.
#include "src/quant/ptqtp_gptq.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/trit_planes.h"
#include "src/quant/gptq.h"
#include "src/quant/ptqtp.h"

namespace tritium {
namespace ptqtp {

void RefitScalesOnHessian(const double* h, const float* w, const uint8_t* codes, int64_t cols,
                          int group, int planes, double* scales) {
  const int K = planes;
  const int64_t groups = (cols + group - 1) / group;
  const int64_t nv = groups * K;
  // u_m = H t_m for every (group, plane) trit vector t_m: t_m is zero outside its group, so only
  // the group's rows of H are summed (H is symmetric: row j = column j).
  std::vector<double> u(static_cast<size_t>(nv * cols), 0.0);
  for (int64_t j = 0; j < cols; ++j) {
    const int64_t g = j / group;
    const double* hj = h + j * cols;
    for (int k = 0; k < K; ++k) {
      const int t = ComboTrit(codes[j], k);
      if (t == 0) continue;
      double* um = u.data() + (g * K + k) * cols;
      if (t > 0) {
        for (int64_t i = 0; i < cols; ++i) um[i] += hj[i];
      } else {
        for (int64_t i = 0; i < cols; ++i) um[i] -= hj[i];
      }
    }
  }
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(nv, nv);
  Eigen::VectorXd b = Eigen::VectorXd::Zero(nv);
  for (int64_t m = 0; m < nv; ++m) {
    const double* um = u.data() + m * cols;
    double s = 0.0;
    for (int64_t i = 0; i < cols; ++i) s += std::isfinite(w[i]) ? um[i] * w[i] : 0.0;
    b(m) = s;
    for (int64_t j = 0; j < cols; ++j) {  // a(m, n) = t_n^T u_m, t_n supported on j's group
      const int64_t g = j / group;
      for (int k = 0; k < K; ++k) {
        const int t = ComboTrit(codes[j], k);
        if (t != 0) a(m, g * K + k) += t * um[j];
      }
    }
  }
  // A plane with no non-zero trit has no say: pin its scale to 0. A tiny ridge keeps the solve
  // defined when two planes of a group coincide.
  double trace = 0.0;
  for (int64_t m = 0; m < nv; ++m) trace += a(m, m);
  const double ridge = 1e-12 * (trace > 0 ? trace / nv : 1.0);
  for (int64_t m = 0; m < nv; ++m) {
    if (a(m, m) == 0.0) {
      a(m, m) = 1.0;
      b(m) = 0.0;
    }
    a(m, m) += ridge;
  }
  Eigen::VectorXd x = a.ldlt().solve(b);
  for (int64_t m = 0; m < nv; ++m) {
    if (!std::isfinite(x(m))) return;  // keep the weight-space scales
  }
  for (int64_t m = 0; m < nv; ++m) scales[m] = x(m);
}

}  // namespace ptqtp

namespace {

using namespace ptqtp;  // NOLINT: this file is built from ptqtp's segment steps

constexpr double kF16Max = 65504.0;

struct Variant {
  const char* name;
  bool gptq;      // error feedback through the inverse Hessian
  bool weighted;  // in-group scale fit weighted by diag(H)
  bool refit;     // least-squares refit of the scales on H at the end
};

// Rounds a scale to fp16 (saturating), keeping its sign.
uint16_t ScaleBits(double a) {
  return F32ToF16(static_cast<float>(std::clamp(a, -kF16Max, kF16Max)));
}

// One row of trit-planes: per-group scales (fp16 values) and per-column trit combinations.
class TritRow : public gptq::RowQuantizer {
 public:
  TritRow(int64_t cols, int group, int planes, int max_iters, const float* importance)
      : group_(group), planes_(planes), max_iters_(max_iters), importance_(importance),
        groups_((cols + group - 1) / group), scales_(static_cast<size_t>(groups_ * planes), 0.0),
        codes_(static_cast<size_t>(cols), static_cast<uint8_t>(ZeroCombo(planes))) {}

  void FitGroup(int64_t g, const double* w, int n) override {
    const int K = planes_;
    std::vector<float> seg(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) seg[i] = static_cast<float>(w[i]);
    uint8_t* codes = codes_.data() + g * group_;
    int sign_code[3];
    for (int s = -1; s <= 1; ++s) {
      int c = 0;
      for (int k = K - 1; k >= 0; --k) c = c * 3 + (s + 1);
      sign_code[s + 1] = c;
    }
    for (int i = 0; i < n; ++i) {
      const float v = seg[i];
      const int s = !std::isfinite(v) ? 0 : (v > 0.0f) - (v < 0.0f);
      codes[i] = static_cast<uint8_t>(sign_code[s + 1]);
    }
    double a[kMaxPlanes] = {};
    const float* imp = importance_ != nullptr ? importance_ + g * group_ : nullptr;
    for (int it = 0; it < max_iters_; ++it) {
      ScaleStep(seg.data(), imp, codes, n, K, a);
      if (!TritStep(seg.data(), n, K, a, codes)) break;
    }
    double* as = scales_.data() + g * K;
    for (int k = 0; k < K; ++k) as[k] = F16ToF32(ScaleBits(std::fabs(a[k])));
    search_ = std::make_unique<TritSearch>(as, K);
    search_group_ = g;
  }

  double Quantize(int64_t col, double w) override {
    const int64_t g = col / group_;
    const uint8_t c = std::isfinite(w) && search_group_ == g
                          ? static_cast<uint8_t>(search_->Find(w))
                          : static_cast<uint8_t>(ZeroCombo(planes_));
    codes_[col] = c;
    return ComboLevel(planes_, c, scales_.data() + g * planes_);
  }

  std::vector<double>& scales() { return scales_; }
  std::vector<uint8_t>& codes() { return codes_; }

  void Pack(int64_t cols, uint8_t* dst) const {
    const int K = planes_;
    std::vector<int8_t> trits(static_cast<size_t>(group_));
    for (int64_t g = 0; g < groups_; ++g) {
      const int n = static_cast<int>(std::min<int64_t>(group_, cols - g * group_));
      for (int k = 0; k < K; ++k) {
        const uint16_t h = ScaleBits(scales_[g * K + k]);
        dst[TritScaleOffset(k)] = static_cast<uint8_t>(h);
        dst[TritScaleOffset(k) + 1] = static_cast<uint8_t>(h >> 8);
      }
      const uint8_t* cs = codes_.data() + g * group_;
      for (int k = 0; k < K; ++k) {
        for (int j = 0; j < n; ++j) trits[j] = static_cast<int8_t>(ComboTrit(cs[j], k));
        PackTritGroup(trits.data(), n, dst + TritPlaneOffset(n, K, k));
      }
      dst += TritGroupBytes(n, K);
    }
  }

  // Reads a packed row back (scales as stored, trits as codes).
  void Unpack(int64_t cols, const uint8_t* src) {
    const int K = planes_;
    std::vector<int8_t> trits(static_cast<size_t>(group_));
    for (int64_t g = 0; g < groups_; ++g) {
      const int n = static_cast<int>(std::min<int64_t>(group_, cols - g * group_));
      for (int k = 0; k < K; ++k) {
        const uint16_t h = static_cast<uint16_t>(src[TritScaleOffset(k)] |
                                                 src[TritScaleOffset(k) + 1] << 8);
        scales_[g * K + k] = F16ToF32(h);
      }
      uint8_t* cs = codes_.data() + g * group_;
      for (int j = 0; j < n; ++j) cs[j] = 0;
      int pow3 = 1;
      for (int k = 0; k < K; ++k, pow3 *= 3) {
        UnpackTritGroup(src + TritPlaneOffset(n, K, k), n, trits.data());
        for (int j = 0; j < n; ++j) cs[j] = static_cast<uint8_t>(cs[j] + (trits[j] + 1) * pow3);
      }
      src += TritGroupBytes(n, K);
    }
  }

  // Refits the scales on H, then rounds them to fp16 (the values inference will use).
  void Refit(const double* h, const float* w, int64_t cols) {
    RefitScalesOnHessian(h, w, codes_.data(), cols, group_, planes_, scales_.data());
    for (double& a : scales_) a = F16ToF32(ScaleBits(a));
  }

 private:
  int group_, planes_, max_iters_;
  const float* importance_;
  int64_t groups_;
  std::vector<double> scales_;  // [groups x K], fp16 values
  std::vector<uint8_t> codes_;  // [cols]
  std::unique_ptr<TritSearch> search_;
  int64_t search_group_ = -1;
};

// Errors against what inference will see (the reference decoder), summed per row.
struct RowStats {
  std::vector<RowError> rows;
  explicit RowStats(int64_t n) : rows(static_cast<size_t>(n)) {}
  void Measure(const Format& format, const FormatParams& params, const float* w, int64_t r,
               int64_t cols, const uint8_t* row, std::vector<float>* deq) {
    format.dequantize_row(row, deq->data(), cols, params);
    rows[static_cast<size_t>(r)] = MeasureRowError(w + r * cols, deq->data(), cols);
  }
  void Sum(QuantResult* res) const {
    res->sq_err = res->sq_norm = 0.0;
    res->nonfinite = 0;
    AddRowErrors(rows, res);
  }
};

Status CheckCommon(const char* name, int64_t rows, int64_t cols, const QuantOptions& o) {
  const std::string n = name;
  TRITIUM_RETURN_IF_ERROR(FindFormat(FormatId::kTritPlanes)
                              ->check_params(cols, FormatParams{o.planes, o.group, 0})
                              .WithPrefix(n + ": "));
  if (rows < 0) return InvalidArgumentError(n + ": rows must be >= 0");
  if (o.max_iters < 1) return InvalidArgumentError(n + ": max_iters must be >= 1");
  return OkStatus();
}

// The importance for a weighted fit: diag(H) when there is a Hessian, else QuantOptions'.
std::vector<float> Importance(const QuantOptions& o, int64_t cols) {
  std::vector<float> imp;
  if (o.hessian != nullptr) {
    imp.resize(static_cast<size_t>(cols));
    for (int64_t j = 0; j < cols; ++j) {
      const double d = o.hessian[j * cols + j];
      imp[j] = std::isfinite(d) && d > 0 ? static_cast<float>(d) : 0.0f;
    }
  } else {
    imp = o.importance;
  }
  return imp;
}

StatusOr<QuantResult> QuantizeW(const float* w, int64_t rows, int64_t cols, const QuantOptions& o,
                                ThreadPool* pool) {
  TRITIUM_RETURN_IF_ERROR(CheckCommon("ptqtp-w", rows, cols, o));
  QuantOptions q = o;
  q.importance = Importance(o, cols);
  if (q.importance.empty()) {
    return InvalidArgumentError(
        "ptqtp-w: needs an importance matrix (--imatrix FILE or calibration text)");
  }
  auto r = kPtqtpMethod.quantize(w, rows, cols, q, pool);
  if (!r.ok()) return r.status().WithPrefix("ptqtp-w: ");
  return r;
}

StatusOr<QuantResult> QuantizeVariant(const Variant& v, const float* w, int64_t rows, int64_t cols,
                                      const QuantOptions& o, ThreadPool* pool) {
  TRITIUM_RETURN_IF_ERROR(CheckCommon(v.name, rows, cols, o));
  if (o.hessian == nullptr) {
    return InvalidArgumentError(std::string(v.name) +
                                ": needs a Hessian from calibration text (--calib)");
  }
  if (o.act_order) {
    return InvalidArgumentError(std::string(v.name) +
                                ": act-order is not supported (a trit group is fitted on its "
                                "columns together)");
  }
  auto f = gptq::FactorFor(o, cols, /*act_order=*/false, pool);
  if (!f.ok()) return f.status().WithPrefix(std::string(v.name) + ": ");
  const std::vector<float> imp = v.weighted ? Importance(o, cols) : std::vector<float>();
  const Format& format = *FindFormat(FormatId::kTritPlanes);
  const FormatParams params{o.planes, o.group, 0};
  const size_t row_bytes = format.row_bytes(cols, params);
  QuantResult result;
  result.format = FormatId::kTritPlanes;
  result.params = params;
  if (!v.gptq) {  // data-free trits, scales refitted below
    auto base = kPtqtpMethod.quantize(w, rows, cols, o, pool);
    if (!base.ok()) return base.status().WithPrefix(std::string(v.name) + ": ");
    result = std::move(*base);
  } else {
    result.data.assign(static_cast<size_t>(rows) * row_bytes, 0);
  }
  RowStats stats(rows);
  gptq::ForRowChunks(pool, rows, gptq::kRowChunk, [&](int64_t r0, int64_t r1) {
    const int64_t m = r1 - r0;
    std::vector<std::unique_ptr<TritRow>> qs;
    std::vector<gptq::RowQuantizer*> qp;
    for (int64_t r = 0; r < m; ++r) {
      qs.push_back(std::make_unique<TritRow>(cols, o.group, o.planes, o.max_iters,
                                             imp.empty() ? nullptr : imp.data()));
      qp.push_back(qs.back().get());
    }
    if (v.gptq) {
      std::vector<double> wk(static_cast<size_t>(m * cols));
      for (int64_t i = 0; i < m * cols; ++i) {
        const float x = w[r0 * cols + i];
        wk[i] = std::isfinite(x) ? x : 0.0;
      }
      gptq::RunRows(**f, o.group, wk.data(), m, qp.data());
    }
    std::vector<float> deq(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      TritRow& t = *qs[r - r0];
      uint8_t* dst = result.data.data() + r * row_bytes;
      if (!v.gptq) t.Unpack(cols, dst);
      if (v.refit) t.Refit((*f)->h.data(), w + r * cols, cols);
      t.Pack(cols, dst);
      stats.Measure(format, params, w, r, cols, dst, &deq);
    }
  });
  stats.Sum(&result);
  return result;
}

constexpr Variant kGptqVariant{"ptqtp-gptq", true, false, false};
constexpr Variant kGptqWVariant{"ptqtp-gptq-w", true, true, false};
constexpr Variant kLsVariant{"ptqtp-ls", false, false, true};
constexpr Variant kGptqLsVariant{"ptqtp-gptq-ls", true, true, true};

template <const Variant& V>
StatusOr<QuantResult> QuantizeT(const float* w, int64_t rows, int64_t cols, const QuantOptions& o,
                                ThreadPool* pool) {
  return QuantizeVariant(V, w, rows, cols, o, pool);
}

}  // namespace

extern const Method kPtqtpWMethod = {"ptqtp-w", QuantizeW, TritPlanesOutput};
extern const Method kPtqtpGptqMethod = {"ptqtp-gptq", QuantizeT<kGptqVariant>, TritPlanesOutput};
extern const Method kPtqtpGptqWMethod = {"ptqtp-gptq-w", QuantizeT<kGptqWVariant>, TritPlanesOutput};
extern const Method kPtqtpLsMethod = {"ptqtp-ls", QuantizeT<kLsVariant>, TritPlanesOutput};
extern const Method kPtqtpGptqLsMethod = {"ptqtp-gptq-ls", QuantizeT<kGptqLsVariant>, TritPlanesOutput};

}  // namespace tritium
