// A Recipe says which tensor gets which treatment: quantized by the chosen method, stored in a
// named format, or kept as it came. It is data (glob rules over GGUF tensor names, last match wins),
// not name checks scattered through the code.
#ifndef TRITIUM_QUANT_RECIPE_H_
#define TRITIUM_QUANT_RECIPE_H_

#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/formats/format.h"

namespace tritium {

struct TensorPlan {
  enum class Action { kKeep, kMethod, kFormat };
  Action action = Action::kKeep;
  const Format* format = nullptr;  // kFormat: encode rows with this format's quantize_row
  FormatParams params;             // kFormat
  // kMethod with an override of the method's K (TRIT_PLANES:K) or B (INT_G:B); 0 = default.
  std::string method;              // kMethod: "" = the recipe's default method
  int planes_or_bits = 0;
};

class Recipe {
 public:
  // Default: every linear weight of the decoder layers goes to the method; the rest is kept.
  Recipe();
  // "PATTERN=FORMAT" where FORMAT is a format name (F32, F16, BF16, Q8_0), TRIT_PLANES[:K] (ptqtp)
  // or INT_G[:B] (rtn), or "keep". Case-insensitive.
  Status AddTensorType(const std::string& rule);
  void AddExclude(const std::string& pattern);  // matching tensors are kept
  // The plan for a tensor; vectors (norms, biases) are always kept.
  TensorPlan Plan(const std::string& name, int64_t rows, int64_t cols) const;

 private:
  struct Rule {
    std::string pattern;
    TensorPlan plan;
  };
  std::vector<Rule> rules_;
};

// fnmatch-style glob: '*' any run, '?' one char, no special meaning for '.' or '/'.
bool GlobMatch(const std::string& pattern, const std::string& name);

}  // namespace tritium

#endif  // TRITIUM_QUANT_RECIPE_H_
