// The one table of quantization methods (QuantOptions::method names one).
#include <cmath>
#include <string>

#include "src/quant/gptq.h"
#include "src/quant/method.h"
#include "src/quant/ptqtp.h"
#include "src/quant/ptqtp_gptq.h"
#include "src/quant/rtn.h"

namespace tritium {
namespace {

constexpr const Method* kMethods[] = {&kPtqtpMethod,     &kRtnMethod,        &kGptqMethod,
                                      &kPtqtpWMethod,    &kPtqtpGptqMethod,  &kPtqtpGptqWMethod,
                                      &kPtqtpLsMethod,   &kPtqtpGptqLsMethod};

}  // namespace

const Method* FindMethod(const std::string& name) {
  for (const Method* m : kMethods) {
    if (name == m->name) return m;
  }
  return nullptr;
}

CalibrationNeed MethodCalibrationNeed(const std::string& method) {
  if (method == "ptqtp-w") return CalibrationNeed::kImportance;
  if (method == "gptq" || method == "ptqtp-gptq" || method == "ptqtp-gptq-w" ||
      method == "ptqtp-ls" || method == "ptqtp-gptq-ls") {
    return CalibrationNeed::kHessian;
  }
  return CalibrationNeed::kNone;
}

MethodOutput TritPlanesOutput(const QuantOptions& o) {
  return {FormatId::kTritPlanes, FormatParams{o.planes, o.group, 0}};
}

MethodOutput IntGOutput(const QuantOptions& o) {
  return {FormatId::kIntG, FormatParams{0, o.group, o.bits}};
}

RowError MeasureRowError(const float* w, const float* deq, int64_t cols) {
  RowError e;
  for (int64_t j = 0; j < cols; ++j) {
    if (!std::isfinite(w[j])) {
      ++e.nonfinite;
      continue;
    }
    const double d = static_cast<double>(w[j]) - deq[j];
    e.sq_err += d * d;
    e.sq_norm += static_cast<double>(w[j]) * w[j];
  }
  return e;
}

void AddRowErrors(const std::vector<RowError>& rows, QuantResult* result) {
  for (const RowError& e : rows) {
    result->sq_err += e.sq_err;
    result->sq_norm += e.sq_norm;
    result->nonfinite += e.nonfinite;
  }
}

}  // namespace tritium
