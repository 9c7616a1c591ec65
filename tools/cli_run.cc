// tritium run: generate text, streaming it as it comes.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "src/base/threads.h"
#include "src/model/forward.h"
#include "src/model/sampling.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct RunArgs {
  std::string model, prompt, tokenizer;
  int n_predict = 128;
  int threads = 0;
  int ctx = 0;
  bool json = false;
  bool no_bos = false;
  SamplingParams sampling;
};

// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence.
size_t CompleteUtf8Prefix(const std::string& s) {
  size_t n = s.size();
  size_t i = n;
  int back = 0;
  while (i > 0 && back < 4) {
    unsigned char c = static_cast<unsigned char>(s[i - 1]);
    if ((c & 0xC0) != 0x80) {  // lead byte or ASCII
      int need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      return (n - (i - 1) >= static_cast<size_t>(need)) ? n : i - 1;
    }
    --i;
    ++back;
  }
  return n;
}

int Run(const RunArgs& a) {
  TRITIUM_CHECK(a.threads > 0);
  if (Status s = a.sampling.Validate(); !s.ok()) return Fail(s);
  if (a.n_predict < 0) return Fail("-n must be >= 0");
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
  std::vector<float> logits;
  const auto t0 = std::chrono::steady_clock::now();
  if (Status s = session.Forward(ids.data(), static_cast<int64_t>(ids.size()), false, &logits);
      !s.ok()) {
    return Fail(s);
  }
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<int32_t> all = ids, generated;
  // Text is the decoding of everything after BOS; we print what each new token adds.
  auto text_of = [&](const std::vector<int32_t>& v) { return tok.Decode(v); };
  const std::string prompt_text = text_of(all);
  if (!a.json) {
    std::fputs(prompt_text.c_str(), stdout);
    std::fflush(stdout);
  }
  std::string shown = prompt_text;  // what stdout has received so far
  for (int i = 0; i < a.n_predict; ++i) {
    int32_t next = sampler.Sample(logits.data(), model.config().vocab_size);
    generated.push_back(next);
    all.push_back(next);
    if (!a.json) {
      std::string text = text_of(all);
      size_t upto = CompleteUtf8Prefix(text);
      // Decoding can rewrite the tail (e.g. a byte sequence completing a character): print only
      // when the text still extends what was shown.
      if (upto > shown.size() && text.compare(0, shown.size(), shown) == 0) {
        std::fwrite(text.data() + shown.size(), 1, upto - shown.size(), stdout);
        std::fflush(stdout);
        shown.assign(text, 0, upto);
      }
    }
    if (i + 1 == a.n_predict) break;
    if (Status s = session.Forward(&next, 1, false, &logits); !s.ok()) return Fail(s);
  }
  const auto t2 = std::chrono::steady_clock::now();
  const double prompt_s = std::chrono::duration<double>(t1 - t0).count();
  const double gen_s = std::chrono::duration<double>(t2 - t1).count();
  // Decode steps: the first generated token comes from the prompt pass.
  const int steps = std::max(0, static_cast<int>(generated.size()) - 1);
  const double tps = steps > 0 && gen_s > 0 ? steps / gen_s : 0;
  const std::string full = text_of(all);
  const std::string gen_text = full.size() >= prompt_text.size() &&
                                       full.compare(0, prompt_text.size(), prompt_text) == 0
                                   ? full.substr(prompt_text.size())
                                   : text_of(generated);
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["prompt"] = a.prompt;
    j["prompt_tokens"] = ids;
    j["tokens"] = generated;
    j["text"] = gen_text;
    j["tokens_per_second"] = tps;
    j["prompt_tokens_per_second"] = prompt_s > 0 ? ids.size() / prompt_s : 0;
    j["load_seconds"] = load_s;
    j["threads"] = a.threads;
    PrintJson(j);
  } else {
    if (full.size() > shown.size() && full.compare(0, shown.size(), shown) == 0) {
      std::fwrite(full.data() + shown.size(), 1, full.size() - shown.size(), stdout);
    }
    std::printf("\n");
    std::fprintf(stderr,
                 "\nload %.2f s | prompt %zu tokens, %.1f tokens/s | generated %zu tokens, "
                 "%.1f tokens/s | %d threads\n",
                 load_s, ids.size(), prompt_s > 0 ? ids.size() / prompt_s : 0.0, generated.size(),
                 tps, a.threads);
  }
  return 0;
}

}  // namespace

void AddRunVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "generate text from a prompt");
  cmd->add_option("model", a->model, "model: HF directory, .gguf, or llama2.c .bin")->required();
  cmd->add_option("-p,--prompt", a->prompt, "prompt text (default: empty, i.e. BOS only)");
  cmd->add_option("-n,--n-predict", a->n_predict, "tokens to generate (default 128)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--temp", a->sampling.temperature, "temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", a->sampling.top_k, "top-k; 0 = off (default 40)");
  cmd->add_option("--top-p", a->sampling.top_p, "top-p in (0, 1] (default 0.95)");
  cmd->add_option("--seed", a->sampling.seed, "sampling seed (default 0)");
  cmd->add_option("-c,--ctx", a->ctx, "context length (default: the model's, at most 4096)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_flag("--no-bos", a->no_bos, "do not prepend BOS to the prompt");
  cmd->add_flag("--json", a->json, "print one JSON object instead of streaming text");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Run(*a); }; });
}

}  // namespace tritium::cli
