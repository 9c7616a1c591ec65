// One evaluation of a model on a text, the piece `tritium ppl` and `tritium sweep` share:
// tokenize (BOS + the whole file), perplexity over windows, and optionally save the per-token
// distributions as a logits base (src/eval/kld.h) or compare them with one.
#ifndef TRITIUM_EVAL_EVALUATE_H_
#define TRITIUM_EVAL_EVALUATE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/eval/kld.h"
#include "src/eval/perplexity.h"
#include "src/model/model.h"

namespace tritium {

struct EvaluateOptions {
  int64_t ctx = 512;
  int64_t max_chunks = 0;  // 0 = all windows (or, with kld_base, the base's windows)
  bool score_second_half = false;
  std::string save_logits;  // write a logits base here
  int top_k = kDefaultLogitsTopK;
  std::string kld_base;  // compare with this logits base
  std::string text_name;  // prefixes errors about the text (too short for a window, ...)
  // Called with (windows done, windows total).
  std::function<void(int64_t, int64_t)> progress;
};

struct EvaluateResult {
  PerplexityResult ppl;
  std::optional<KldResult> kld;
  std::string kld_base_model;  // the model name recorded in the base
  uint64_t saved_bytes = 0;    // size of the logits base written, if any
};

// BOS (when the model has one) + the whole text, tokenized once.
std::vector<int32_t> TokenizeForEval(const Model& model, const std::string& text);

// `text` is the file's contents; errors about the logits files name them.
StatusOr<EvaluateResult> EvaluateModel(const Model& model, const std::string& text,
                                       const EvaluateOptions& opts, ThreadPool* pool);

}  // namespace tritium

#endif  // TRITIUM_EVAL_EVALUATE_H_
