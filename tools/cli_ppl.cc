// tritium ppl: perplexity of a model over a text file; with --save-logits / --kld, KL divergence
// against a stored base (src/eval/kld.h).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/progress.h"
#include "src/base/threads.h"
#include "src/eval/evaluate.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct PplArgs {
  std::string model, text, tokenizer, save_logits, kld;
  int64_t ctx = 512;
  int64_t chunks = 0;
  int top_k = kDefaultLogitsTopK;
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
  ThreadPool pool(a.threads);
  EvaluateOptions opts;
  opts.ctx = a.ctx;
  opts.max_chunks = a.chunks;
  opts.score_second_half = a.second_half;
  opts.save_logits = a.save_logits;
  opts.top_k = a.top_k;
  opts.kld_base = a.kld;
  opts.text_name = a.text;
  std::unique_ptr<ProgressBar> bar;
  opts.progress = [&](int64_t done, int64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>("ppl", total, !a.json);
    bar->Update(done);
  };
  auto r = EvaluateModel(model, *text, opts, &pool);
  if (bar) bar->Finish();
  if (!r.ok()) return Fail(r.status());
  const PerplexityResult& p = r->ppl;
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["text"] = a.text;
    j["ppl"] = p.ppl;
    j["ppl_se"] = p.ppl_se;
    j["nll"] = p.nll;
    j["nll_se"] = p.nll_se;
    j["tokens_scored"] = p.tokens_scored;
    j["tokens_total"] = p.total_tokens;
    j["windows"] = p.windows;
    j["ctx"] = a.ctx;
    j["protocol"] = a.second_half ? "second-half" : "all-but-first";
    j["seconds"] = p.seconds;
    j["threads"] = a.threads;
    if (!a.save_logits.empty()) {
      j["saved_logits"] = a.save_logits;
      j["saved_logits_bytes"] = r->saved_bytes;
      j["logits_top_k"] = a.top_k;
    }
    if (r->kld) {
      const KldResult& k = *r->kld;
      j["kld_base"] = a.kld;
      j["kld_base_model"] = r->kld_base_model;
      j["kld_tokens"] = k.tokens;
      j["kld_mean"] = k.kld_mean;
      j["kld_se"] = k.kld_se;
      j["kld_median"] = k.kld_median;
      j["kld_p90"] = k.kld_p90;
      j["kld_p99"] = k.kld_p99;
      j["kld_max"] = k.kld_max;
      j["top1_agree"] = k.top1_agree;
      j["top1_agree_se"] = k.top1_agree_se;
      j["ppl_base"] = k.ppl_base;
      j["ppl_ratio"] = k.ppl_ratio;
      j["ppl_ratio_se"] = k.ppl_ratio_se;
      j["ppl_diff"] = k.ppl_diff;
      j["ln_ppl_ratio"] = k.nll_diff;
      j["ln_ppl_ratio_se"] = k.nll_diff_se;
      j["base_tail_mass"] = k.base_tail_mass;
      j["kld_is_lower_bound"] = k.lower_bound;
    }
    PrintJson(j);
    return 0;
  }
  std::printf("%s on %s: %lld tokens, %lld windows of %lld, %lld scored\n", a.model.c_str(),
              a.text.c_str(), static_cast<long long>(p.total_tokens),
              static_cast<long long>(p.windows), static_cast<long long>(a.ctx),
              static_cast<long long>(p.tokens_scored));
  std::printf("%s: PPL = %.4f +/- %.4f  (mean NLL %.6f nats/token)  %.1f s, %.0f tokens/s\n",
              a.model.c_str(), p.ppl, p.ppl_se, p.nll, p.seconds,
              p.seconds > 0 ? p.windows * a.ctx / p.seconds : 0.0);
  if (!a.save_logits.empty()) {
    std::printf("saved logits base %s: %llu bytes (%lld per token, %s)\n",
                a.save_logits.c_str(), static_cast<unsigned long long>(r->saved_bytes),
                static_cast<long long>(LogitsBaseBytesPerToken(a.top_k, model.config().vocab_size)),
                a.top_k == 0 ? "whole distributions as fp16"
                             : ("top-" + std::to_string(a.top_k) + " + rest").c_str());
  }
  if (r->kld) {
    const KldResult& k = *r->kld;
    std::printf("against %s (%s), %lld tokens:\n", a.kld.c_str(), r->kld_base_model.c_str(),
                static_cast<long long>(k.tokens));
    std::printf("  PPL base       %.4f   ratio %.5f +/- %.5f   difference %+.4f\n", k.ppl_base,
                k.ppl_ratio, k.ppl_ratio_se, k.ppl_diff);
    std::printf("  KLD mean       %.6f +/- %.6f nats\n", k.kld_mean, k.kld_se);
    std::printf("  KLD median     %.6f   p90 %.6f   p99 %.6f   max %.6f\n", k.kld_median,
                k.kld_p90, k.kld_p99, k.kld_max);
    std::printf("  top-1 agree    %.3f%% +/- %.3f%%\n", 100 * k.top1_agree,
                100 * k.top1_agree_se);
    if (k.lower_bound) {
      std::printf("  (a LOWER BOUND: KLD over the base's top-K + rest; the base left %.2f%% of "
                  "its mass outside its top-K)\n",
                  100 * k.base_tail_mass);
    }
  }
  return 0;
}

}  // namespace

void AddPplVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<PplArgs>();
  CLI::App* cmd = app.add_subcommand("ppl", "perplexity over a text file (and KL divergence)");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  cmd->add_option("text", a->text, "UTF-8 text file")->required();
  cmd->add_option("-c,--ctx", a->ctx, "window length in tokens (default 512)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  cmd->add_option("--chunks", a->chunks,
                  "evaluate only the first N windows (default: all; with --kld, the base's)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_flag("--score-second-half", a->second_half,
                "llama-perplexity protocol: BOS starts each window, score its second half only");
  cmd->add_option("--save-logits", a->save_logits,
                  "write this run's next-token distributions to a logits base for --kld: per "
                  "scored token every token's log-prob as fp16 + top-1 + NLL, 8 + 2V bytes "
                  "(64,008 B at V=32000: 40 windows of 512 are 1.3 GB); bound it with --chunks");
  cmd->add_option("--logits-top-k", a->top_k,
                  "store only the top K log-probs + the rest's mass, 8 + 8K bytes a token (520 B "
                  "at K=64); KLD becomes a lower bound (2/3 of the true value at K=64 on "
                  "llama-docs-28m). Default 0: whole distributions")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--kld", a->kld,
                  "compare with a logits base from --save-logits (same text, tokenizer, ctx): "
                  "KL divergence (mean, SE, median, p99), top-1 agreement, PPL ratio and difference");
  cmd->add_flag("--json", a->json, "print one JSON object");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Ppl(*a); }; });
}

}  // namespace tritium::cli
