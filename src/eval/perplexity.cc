#include "src/eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "src/model/forward.h"

namespace tritium {

double LogProb(const float* logits, int64_t vocab, int32_t target) {
  double mx = logits[0];
  for (int64_t i = 1; i < vocab; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  // expf is accurate to ~1 ulp here and several times faster than exp; the sum stays in double.
  const float mxf = static_cast<float>(mx);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[i] - mxf);
  return static_cast<double>(logits[target]) - mx - std::log(sum);
}

StatusOr<PerplexityResult> ComputePerplexity(const Model& model, const std::vector<int32_t>& ids,
                                             const PerplexityOptions& opts, ThreadPool* pool) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opts.ctx < 2) return InvalidArgumentError("--ctx must be at least 2");
  if (opts.ctx > model.config().max_positions) {
    return InvalidArgumentError("--ctx " + std::to_string(opts.ctx) +
                                " exceeds the model's context of " +
                                std::to_string(model.config().max_positions));
  }
  PerplexityResult r;
  r.total_tokens = static_cast<int64_t>(ids.size());
  int64_t windows = r.total_tokens / opts.ctx;
  if (opts.max_chunks > 0) windows = std::min(windows, opts.max_chunks);
  if (windows == 0) {
    return InvalidArgumentError("text has " + std::to_string(r.total_tokens) +
                                " tokens, fewer than one window of " + std::to_string(opts.ctx));
  }
  const int64_t vocab = model.config().vocab_size;
  Session session(model, pool, opts.ctx);
  std::vector<float> logits;
  double sum = 0, sum_sq = 0;
  const int64_t first_scored = opts.score_second_half ? opts.ctx / 2 : 0;
  std::vector<int32_t> window(static_cast<size_t>(opts.ctx));
  for (int64_t w = 0; w < windows; ++w) {
    std::copy(ids.begin() + w * opts.ctx, ids.begin() + (w + 1) * opts.ctx, window.begin());
    // llama-perplexity's protocol starts every window with BOS in place of its first token.
    if (opts.score_second_half && model.config().bos_id >= 0) window[0] = model.config().bos_id;
    const int32_t* win = window.data();
    session.Reset();
    TRITIUM_RETURN_IF_ERROR(session.Forward(win, opts.ctx, /*all_logits=*/true, &logits));
    double wsum = 0;
    for (int64_t i = first_scored; i + 1 < opts.ctx; ++i) {
      double nll = -LogProb(&logits[i * vocab], vocab, win[i + 1]);
      wsum += nll;
      sum_sq += nll * nll;
      ++r.tokens_scored;
    }
    sum += wsum;
    r.window_nll_sums.push_back(wsum);
    if (opts.on_window) opts.on_window(w, logits.data(), win);
    if (opts.progress) opts.progress(w + 1, windows);
  }
  r.windows = windows;
  const double n = static_cast<double>(r.tokens_scored);
  r.nll = sum / n;
  const double var = std::max(0.0, sum_sq / n - r.nll * r.nll);
  r.nll_se = n > 1 ? std::sqrt(var / (n - 1)) : 0;
  r.ppl = std::exp(r.nll);
  r.ppl_se = r.ppl * r.nll_se;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace tritium
