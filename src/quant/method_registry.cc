// The one table of quantization methods (QuantOptions::method names one).
#include <string>

#include "src/quant/method.h"
#include "src/quant/ptqtp.h"
#include "src/quant/rtn.h"

namespace tritium {
namespace {

constexpr const Method* kMethods[] = {&kPtqtpMethod, &kRtnMethod};

}  // namespace

const Method* FindMethod(const std::string& name) {
  for (const Method* m : kMethods) {
    if (name == m->name) return m;
  }
  return nullptr;
}

}  // namespace tritium
