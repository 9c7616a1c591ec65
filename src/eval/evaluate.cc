#include "src/eval/evaluate.h"

#include <algorithm>
#include <filesystem>
#include <memory>

namespace tritium {

std::vector<int32_t> TokenizeForEval(const Model& model, const std::string& text) {
  std::vector<int32_t> ids = model.tokenizer()->Encode(text, /*add_bos=*/false);
  if (model.config().bos_id >= 0) ids.insert(ids.begin(), model.config().bos_id);
  return ids;
}

StatusOr<EvaluateResult> EvaluateModel(const Model& model, const std::string& text,
                                       const EvaluateOptions& opts, ThreadPool* pool) {
  if (model.tokenizer() == nullptr) return InvalidArgumentError("the model has no tokenizer");
  if (opts.ctx < 2) return InvalidArgumentError("--ctx must be at least 2");
  const std::vector<int32_t> ids = TokenizeForEval(model, text);
  const int32_t bos = model.config().bos_id;
  EvaluateResult res;

  std::unique_ptr<LogitsBase> base;
  int64_t windows = static_cast<int64_t>(ids.size()) / opts.ctx;
  if (opts.max_chunks > 0) windows = std::min(windows, opts.max_chunks);
  LogitsBaseInfo run;
  run.top_k = opts.top_k;
  run.vocab = model.config().vocab_size;
  run.ctx = opts.ctx;
  run.score_second_half = opts.score_second_half;
  run.vocab_hash = TokenizerVocabHash(*model.tokenizer());
  run.model_name = model.path();
  if (!opts.kld_base.empty()) {
    TRITIUM_ASSIGN_OR_RETURN(base, LogitsBase::Open(opts.kld_base));
    // Without --chunks, compare over every window the base holds.
    if (opts.max_chunks == 0) windows = std::min(windows, base->info().windows);
    run.windows = windows;
    TRITIUM_RETURN_IF_ERROR(base->CheckCompatible(
        run, WindowHashes(ids, opts.ctx, windows, opts.score_second_half, bos)));
    res.kld_base_model = base->info().model_name;
  }
  run.windows = windows;

  std::unique_ptr<LogitsBaseWriter> writer;
  if (!opts.save_logits.empty() && windows > 0) {
    if (opts.save_logits == opts.kld_base) {
      return InvalidArgumentError(opts.save_logits + ": --save-logits and --kld name one file");
    }
    TRITIUM_ASSIGN_OR_RETURN(
        writer, LogitsBaseWriter::Create(
                    opts.save_logits, run,
                    WindowHashes(ids, opts.ctx, windows, opts.score_second_half, bos)));
  }
  std::unique_ptr<KldAccumulator> acc;
  if (base) acc = std::make_unique<KldAccumulator>(base.get());

  PerplexityOptions po;
  po.ctx = opts.ctx;
  po.max_chunks = windows;
  po.score_second_half = opts.score_second_half;
  po.progress = opts.progress;
  Status write_status;
  if (writer || acc) {
    po.on_window = [&](int64_t w, const float* logits, const int32_t* win) {
      if (writer && write_status.ok()) write_status = writer->AddWindow(logits, win);
      if (acc) acc->AddWindow(w, logits, win);
    };
  }
  auto ppl = ComputePerplexity(model, ids, po, pool);
  if (!ppl.ok()) {
    return opts.text_name.empty() ? ppl.status() : ppl.status().WithPrefix(opts.text_name + ": ");
  }
  res.ppl = *ppl;
  TRITIUM_RETURN_IF_ERROR(write_status);
  if (writer) {
    TRITIUM_RETURN_IF_ERROR(writer->Commit());
    std::error_code ec;
    res.saved_bytes = std::filesystem::file_size(opts.save_logits, ec);
  }
  if (acc) {
    TRITIUM_ASSIGN_OR_RETURN(KldResult k, acc->Finish());
    res.kld = k;
  }
  return res;
}

}  // namespace tritium
