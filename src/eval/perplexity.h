// Perplexity over a text, the protocol of the reference numbers (and llama.cpp's variant):
// BOS + the whole file tokenized once; non-overlapping windows of ctx tokens, the tail that does
// not fill a window dropped; each window a fresh forward pass from position 0; every token scored
// except the window's first (or, with score_second_half, only the second half of each window).
#ifndef TRITIUM_EVAL_PERPLEXITY_H_
#define TRITIUM_EVAL_PERPLEXITY_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/model/model.h"

namespace tritium {

struct PerplexityOptions {
  int64_t ctx = 512;
  int64_t max_chunks = 0;  // 0 = all windows
  bool score_second_half = false;
  // Called after each window with (windows done, windows total).
  std::function<void(int64_t, int64_t)> progress;
  // Called after each window with its logits [ctx x vocab] and the window's token ids, for
  // KL-divergence bookkeeping.
  std::function<void(int64_t window, const float* logits, const int32_t* ids)> on_window;
};

struct PerplexityResult {
  double ppl = 0;
  double nll = 0;      // mean negative log-likelihood per scored token (nats)
  double nll_se = 0;   // standard error of the mean NLL
  double ppl_se = 0;   // ppl * nll_se (delta method)
  int64_t tokens_scored = 0;
  int64_t windows = 0;
  int64_t total_tokens = 0;  // BOS + text tokens
  std::vector<double> window_nll_sums;
  double seconds = 0;
};

// `ids` must already hold BOS + the tokenized text.
StatusOr<PerplexityResult> ComputePerplexity(const Model& model, const std::vector<int32_t>& ids,
                                             const PerplexityOptions& opts, ThreadPool* pool);

// Natural log-softmax of one row, in double: log p(target).
double LogProb(const float* logits, int64_t vocab, int32_t target);

}  // namespace tritium

#endif  // TRITIUM_EVAL_PERPLEXITY_H_
