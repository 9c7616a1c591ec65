// tritium ppl: perplexity of a model over a text file.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/progress.h"
#include "src/base/threads.h"
#include "src/eval/perplexity.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct PplArgs {
  std::string model, text, tokenizer;
  int64_t ctx = 512;
  int64_t chunks = 0;
  int threads = 0;
  bool json = false;
  bool second_half = false;
};

int Ppl(const PplArgs& a) {
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& model = **model_or;
  auto text = ReadFileToString(a.text);
  if (!text.ok()) return Fail(text.status());
  std::vector<int32_t> ids = model.tokenizer()->Encode(*text, /*add_bos=*/false);
  if (model.config().bos_id >= 0) ids.insert(ids.begin(), model.config().bos_id);
  ThreadPool pool(a.threads);
  PerplexityOptions opts;
  opts.ctx = a.ctx;
  opts.max_chunks = a.chunks;
  opts.score_second_half = a.second_half;
  int64_t total_windows = static_cast<int64_t>(ids.size()) / std::max<int64_t>(a.ctx, 1);
  if (a.chunks > 0) total_windows = std::min(total_windows, a.chunks);
  ProgressBar bar("ppl", total_windows, !a.json);
  opts.progress = [&](int64_t done, int64_t) { bar.Update(done); };
  auto r = ComputePerplexity(model, ids, opts, &pool);
  bar.Finish();
  if (!r.ok()) return Fail(r.status().WithPrefix(a.text + ": "));
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["text"] = a.text;
    j["ppl"] = r->ppl;
    j["ppl_se"] = r->ppl_se;
    j["nll"] = r->nll;
    j["nll_se"] = r->nll_se;
    j["tokens_scored"] = r->tokens_scored;
    j["tokens_total"] = r->total_tokens;
    j["windows"] = r->windows;
    j["ctx"] = a.ctx;
    j["protocol"] = a.second_half ? "second-half" : "all-but-first";
    j["seconds"] = r->seconds;
    j["threads"] = a.threads;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s: %lld tokens, %lld windows of %lld, %lld scored\n", a.text.c_str(),
                static_cast<long long>(r->total_tokens), static_cast<long long>(r->windows),
                static_cast<long long>(a.ctx), static_cast<long long>(r->tokens_scored));
    std::printf("PPL = %.4f +/- %.4f  (mean NLL %.6f nats/token)  %.1f s, %.0f tokens/s\n", r->ppl,
                r->ppl_se, r->nll, r->seconds,
                r->seconds > 0 ? r->windows * a.ctx / r->seconds : 0.0);
  }
  return 0;
}

}  // namespace

void AddPplVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<PplArgs>();
  CLI::App* cmd = app.add_subcommand("ppl", "perplexity over a text file");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  cmd->add_option("text", a->text, "UTF-8 text file")->required();
  cmd->add_option("-c,--ctx", a->ctx, "window length in tokens (default 512)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  cmd->add_option("--chunks", a->chunks, "evaluate only the first N windows (default: all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_flag("--score-second-half", a->second_half,
                "llama-perplexity protocol: BOS starts each window, score its second half only");
  cmd->add_flag("--json", a->json, "print one JSON object");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Ppl(*a); }; });
}

}  // namespace tritium::cli
