#include "src/quant/recipe.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

namespace tritium {

bool GlobMatch(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

Recipe::Recipe() {
  static const char* kLinears[] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                   "ffn_gate", "ffn_up", "ffn_down"};
  for (const char* l : kLinears) {
    TensorPlan p;
    p.action = TensorPlan::Action::kMethod;
    rules_.push_back({std::string("blk.*.") + l + ".weight", p});
  }
}

Status Recipe::AddTensorType(const std::string& rule) {
  size_t eq = rule.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == rule.size()) {
    return InvalidArgumentError("--tensor-type '" + rule + "': expected PATTERN=FORMAT");
  }
  std::string pattern = rule.substr(0, eq), spec = rule.substr(eq + 1);
  std::string upper = spec;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  int n = 0;
  const bool has_num = upper.find(':') != std::string::npos;
  if (size_t colon = upper.find(':'); colon != std::string::npos) {
    std::string num = upper.substr(colon + 1);
    if (num.empty() || num.size() > 2 || num.find_first_not_of("0123456789") != std::string::npos) {
      return InvalidArgumentError("--tensor-type '" + rule + "': bad number after ':'");
    }
    n = std::stoi(num);
    upper = upper.substr(0, colon);
    // An explicit parameter must be one the format takes; ':0' is not a spelling of the default.
    const bool ok = upper == "TRIT_PLANES" ? n >= 1 && n <= 4
                    : upper == "INT_G"     ? n == 2 || n == 3 || n == 4 || n == 8
                                           : true;
    if (!ok) {
      return InvalidArgumentError("--tensor-type '" + rule + "': " + upper + " takes " +
                                  (upper == "INT_G" ? "2, 3, 4 or 8 bits" : "1 to 4 planes") +
                                  ", not " + num + " (omit ':N' for the default)");
    }
  }
  TensorPlan p;
  if (upper == "KEEP") {
    p.action = TensorPlan::Action::kKeep;
  } else if (upper == "TRIT_PLANES") {
    p.action = TensorPlan::Action::kMethod;
    p.method = "ptqtp";
    p.planes_or_bits = n;
  } else if (upper == "INT_G") {
    p.action = TensorPlan::Action::kMethod;
    p.method = "rtn";
    p.planes_or_bits = n;
  } else {
    const Format* f = FindFormatByName(upper);
    if (f == nullptr || f->quantize_row == nullptr) {
      return InvalidArgumentError("--tensor-type '" + rule + "': unknown format '" + spec +
                                  "' (F32, F16, BF16, Q8_0, TRIT_PLANES[:K], INT_G[:B], keep)");
    }
    if (has_num)
      return InvalidArgumentError("--tensor-type '" + rule + "': " + f->name +
                                  " takes no parameter");
    p.action = TensorPlan::Action::kFormat;
    p.format = f;
  }
  rules_.push_back({pattern, p});
  return OkStatus();
}

void Recipe::AddExclude(const std::string& pattern) {
  rules_.push_back({pattern, TensorPlan()});
}

TensorPlan Recipe::Plan(const std::string& name, int64_t rows, int64_t cols) const {
  TensorPlan plan;
  if (rows <= 1) return plan;  // vectors stay as they are
  for (const Rule& r : rules_) {
    if (GlobMatch(r.pattern, name)) plan = r.plan;
  }
  (void)cols;
  return plan;
}

}  // namespace tritium
