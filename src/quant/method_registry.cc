// The one table of quantization methods (QuantOptions::method names one).
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

}  // namespace tritium
