// tritium synth: a deterministic random-weight Hugging Face checkpoint at a real model's shape, for
// memory and speed measurements at sizes no test can download.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "src/base/progress.h"
#include "src/pipeline/synth.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct SynthArgs {
  std::string shape, output, tokenizer_dir;
  int64_t layers = 0, hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0,
          vocab = 0;
  uint64_t seed = 0;
  double stddev = 0.02;
  double shard_gb = 5.0;
  int threads = 0;
  bool json = false;
};

int Synth(const SynthArgs& a) {
  auto shape_or = SynthShapeByName(a.shape);
  if (!shape_or.ok()) return Fail(shape_or.status());
  SynthShape s = *shape_or;
  const bool derived_head_dim = s.head_dim * s.heads == s.hidden;
  if (a.layers > 0) s.layers = a.layers;
  if (a.hidden > 0) s.hidden = a.hidden;
  if (a.intermediate > 0) s.intermediate = a.intermediate;
  if (a.heads > 0) s.heads = a.heads;
  if (a.kv_heads > 0) s.kv_heads = a.kv_heads;
  if (a.vocab > 0) s.vocab = a.vocab;
  if (a.head_dim > 0) {
    s.head_dim = a.head_dim;
  } else if (derived_head_dim && s.heads > 0) {
    s.head_dim = s.hidden / s.heads;  // Llama's head_dim follows hidden / heads
  }
  if (s.kv_heads > s.heads) s.kv_heads = s.heads;
  if (s.vocab < s.tokenizer_vocab && a.tokenizer_dir.empty()) {
    std::fprintf(stderr,
                 "tritium: warning: vocab %lld is smaller than the %s tokenizer's %lld tokens; "
                 "no tokenizer is written\n",
                 static_cast<long long>(s.vocab), s.tokenizer.c_str(),
                 static_cast<long long>(s.tokenizer_vocab));
  }
  SynthOptions o;
  o.seed = a.seed;
  o.stddev = a.stddev;
  o.max_shard_bytes = static_cast<uint64_t>(a.shard_gb * (1ull << 30));
  o.tokenizer_dir = a.tokenizer_dir;
  ThreadPool pool(a.threads);
  std::unique_ptr<ProgressBar> bar;
  auto r = WriteSynthCheckpoint(a.output, s, o, &pool, [&](int64_t done, int64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>("synth", total >> 20, !a.json);
    bar->Update(done >> 20, "MiB");
  });
  if (bar) bar->Finish();
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    nlohmann::json j;
    j["shape"] = s.name;
    j["output"] = a.output;
    j["params"] = r->params;
    j["bytes"] = r->bytes;
    j["shards"] = r->shards;
    j["tokenizer"] = r->tokenizer;
    j["seed"] = a.seed;
    PrintJson(j);
    return 0;
  }
  std::printf(
      "%s: %s, %lld layers, hidden %lld, intermediate %lld, %lld parameters, %.2f GB bf16 "
      "in %d shard(s)%s\n",
      a.output.c_str(), s.name.c_str(), static_cast<long long>(s.layers),
      static_cast<long long>(s.hidden), static_cast<long long>(s.intermediate),
      static_cast<long long>(r->params), r->bytes / 1e9, r->shards,
      r->tokenizer ? "" : " (no tokenizer)");
  return 0;
}

}  // namespace

void AddSynthVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<SynthArgs>();
  std::string names;
  for (const std::string& n : SynthShapeNames()) names += (names.empty() ? "" : ", ") + n;
  CLI::App* cmd = app.add_subcommand(
      "synth", "write a deterministic random-weight HF checkpoint at a real model's shape");
  cmd->add_option("shape", a->shape, "one of: " + names)->required();
  cmd->add_option("output", a->output, "output directory")->required();
  cmd->add_option("--layers", a->layers, "override the number of layers")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--hidden", a->hidden, "override hidden_size")->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--intermediate", a->intermediate, "override intermediate_size")
      ->check(CLI::Range(1, 1 << 22));
  cmd->add_option("--heads", a->heads, "override num_attention_heads")->check(CLI::Range(1, 4096));
  cmd->add_option("--kv-heads", a->kv_heads, "override num_key_value_heads")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--head-dim", a->head_dim, "override head_dim")->check(CLI::Range(2, 4096));
  cmd->add_option("--vocab", a->vocab, "override vocab_size")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--seed", a->seed, "random seed (default 0)");
  cmd->add_option("--std", a->stddev, "standard deviation of the weights (default 0.02)")
      ->check(CLI::Range(1e-6, 10.0));
  cmd->add_option("--shard-gb", a->shard_gb, "largest shard in GiB (default 5)")
      ->check(CLI::Range(0.001, 1000.0));
  cmd->add_option("--tokenizer-dir", a->tokenizer_dir,
                  "copy the tokenizer from this directory (default: shared tokenizers/<family>)");
  cmd->add_flag("--json", a->json, "print the summary as one JSON object");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Synth(*a); }; });
}

}  // namespace tritium::cli
