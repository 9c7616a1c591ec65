// tritium run: generate text from a prompt, streaming it as it comes.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/threads.h"
#include "src/model/forward.h"
#include "src/model/generate.h"
#include "src/model/sampling.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct RunArgs {
  std::string model, prompt, prompt_file, tokenizer;
  std::vector<std::string> stop;
  int n_predict = 128;
  int threads = 0;
  int ctx = 0;
  bool json = false;
  bool no_bos = false;
  bool ignore_eos = false;
  SamplingParams sampling;
};

int Run(RunArgs a) {
  TRITIUM_CHECK(a.threads > 0);
  if (Status s = a.sampling.Validate(); !s.ok()) return Fail(s);
  if (a.n_predict < 0) return Fail("-n must be >= 0");
  if (!a.prompt_file.empty()) {
    auto text = ReadFileToString(a.prompt_file);
    if (!text.ok()) return Fail(text.status());
    a.prompt = std::move(text).value();
  }
  for (const std::string& s : a.stop) {
    if (s.empty()) return Fail("--stop needs a non-empty string");
  }
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  const auto t_load0 = std::chrono::steady_clock::now();
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& model = **model_or;
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load0).count();
  const Tokenizer& tok = *model.tokenizer();
  std::vector<int32_t> ids = tok.Encode(a.prompt, /*add_bos=*/false);
  if (!a.no_bos && model.config().bos_id >= 0) ids.insert(ids.begin(), model.config().bos_id);
  if (ids.empty()) return Fail("the prompt is empty and the model has no BOS token");
  const int64_t ctx = a.ctx > 0 ? a.ctx : std::min<int64_t>(model.config().max_positions, 4096);
  if (static_cast<int64_t>(ids.size()) + a.n_predict > ctx) {
    return Fail("prompt (" + std::to_string(ids.size()) + " tokens) + -n " +
                std::to_string(a.n_predict) + " exceeds the context of " + std::to_string(ctx));
  }
  ThreadPool pool(a.threads);
  Session session(model, &pool, ctx);
  Sampler sampler(a.sampling);
  GenerateOptions go;
  go.max_tokens = a.n_predict;
  go.ignore_eos = a.ignore_eos;
  go.eos_ids = EndOfGenerationIds(model);
  go.stop = a.stop;
  const std::string prompt_text = tok.Decode(ids);
  if (!a.json) {
    std::fputs(prompt_text.c_str(), stdout);
    std::fflush(stdout);
  }
  std::vector<int32_t> cached;
  auto r = Generate(&session, tok, &cached, ids, &sampler, go, [&](std::string_view piece) {
    if (!a.json) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  if (!r.ok()) return Fail(r.status());
  // Decode steps: the first generated token comes from the prompt pass.
  const int64_t steps = std::max<int64_t>(0, static_cast<int64_t>(r->tokens.size()) - 1);
  const double tps = steps > 0 && r->generate_seconds > 0 ? steps / r->generate_seconds : 0;
  const double pps = r->prompt_seconds > 0 ? ids.size() / r->prompt_seconds : 0;
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["prompt"] = a.prompt;
    j["prompt_tokens"] = ids;
    j["tokens"] = r->tokens;
    j["text"] = r->text;
    j["finish_reason"] = r->finish_reason;
    j["tokens_per_second"] = tps;
    j["prompt_tokens_per_second"] = pps;
    j["load_seconds"] = load_s;
    j["threads"] = a.threads;
    PrintJson(j);
  } else {
    std::printf("\n");
    std::fprintf(stderr,
                 "\n%s: load %.2f s | prompt %zu tokens, %.1f tokens/s | generated %zu tokens, "
                 "%.1f tokens/s, stopped by %s | %d threads\n",
                 a.model.c_str(), load_s, ids.size(), pps, r->tokens.size(), tps,
                 r->finish_reason == "stop" ? "end of text or --stop" : "-n", a.threads);
  }
  return 0;
}

}  // namespace

void AddRunVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "generate text from a prompt");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  auto* p =
      cmd->add_option("-p,--prompt", a->prompt, "prompt text (default: empty, i.e. BOS only)");
  cmd->add_option("-f,--file", a->prompt_file, "read the prompt from this file")->excludes(p);
  cmd->add_option("-n,--n-predict", a->n_predict, "most tokens to generate (default 128)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--stop", a->stop, "stop before this text (repeatable)");
  cmd->add_flag("--ignore-eos", a->ignore_eos,
                "keep generating past end-of-text tokens (for benchmarks)");
  AddSamplingFlags(cmd, &a->sampling);
  cmd->add_option("-c,--ctx", a->ctx, "context length (default: the model's, at most 4096)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_flag("--no-bos", a->no_bos, "do not prepend BOS to the prompt");
  cmd->add_flag("--json", a->json, "print one JSON object instead of streaming text");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Run(*a); }; });
}

}  // namespace tritium::cli
