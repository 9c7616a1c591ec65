// tritium sweep: quantize with several configurations, evaluate each against the float model
// (PPL, KLD, top-1) and write a Markdown table, a CSV and an SVG plot.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/progress.h"
#include "src/eval/sweep.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct SweepArgs {
  std::string model, text, tokenizer, configs, out = "sweep", work_dir;
  int64_t ctx = 512;
  int64_t chunks = 40;
  int top_k = kDefaultLogitsTopK;
  int threads = 0;
  bool keep = false;
  bool json = false;
};

int Sweep(const SweepArgs& a) {
  // --configs is a file if one exists by that name, else the list itself.
  std::string list = a.configs;
  if (FileExists(a.configs) && !IsDirectory(a.configs)) {
    auto s = ReadFileToString(a.configs);
    if (!s.ok()) return Fail(s.status());
    list = *s;
  }
  auto configs = ParseSweepConfigs(list);
  if (!configs.ok()) return Fail(configs.status().WithPrefix("--configs: "));
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  lo.allow_nonfinite_weights = true;
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  auto text = ReadFileToString(a.text);
  if (!text.ok()) return Fail(text.status());
  ThreadPool pool(a.threads);
  SweepOptions so;
  so.eval.ctx = a.ctx;
  so.eval.max_chunks = a.chunks;
  so.eval.top_k = a.top_k;
  so.work_dir = a.work_dir.empty() ? "/tmp/tritium-sweep-" + std::to_string(::getpid())
                                   : a.work_dir;
  so.keep_models = a.keep;
  so.model_name = a.model;
  so.text_name = a.text;
  std::unique_ptr<ProgressBar> bar;
  so.log = [&](const std::string& s) {
    if (bar) bar->Finish();
    bar.reset();
    std::fprintf(stderr, "%s\n", s.c_str());
  };
  so.eval_progress = [&](int64_t done, int64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>("eval", total, !a.json);
    bar->Update(done);
  };
  auto r = RunSweep(**model_or, *text, *configs, so, &pool);
  if (bar) bar->Finish();
  if (!r.ok()) return Fail(r.status());
  if (!a.keep) ::rmdir(so.work_dir.c_str());  // only if empty: never removes what it did not make
  const std::string md = SweepMarkdown(*r);
  for (const auto& [ext, body] : {std::pair<std::string, std::string>{".md", md},
                                  {".csv", SweepCsv(*r)}, {".svg", SweepSvg(*r)}}) {
    if (Status s = WriteFileAtomically(a.out + ext, body); !s.ok()) return Fail(s);
  }
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["text"] = a.text;
    j["ctx"] = a.ctx;
    j["windows"] = r->windows;
    j["tokens_scored"] = r->tokens;
    j["ppl_float"] = r->base.ppl.ppl;
    j["outputs"] = {a.out + ".md", a.out + ".csv", a.out + ".svg"};
    nlohmann::json rows = nlohmann::json::array();
    const std::vector<bool> front = ParetoFront(r->rows);
    for (size_t i = 0; i < r->rows.size(); ++i) {
      const SweepRow& w = r->rows[i];
      rows.push_back({{"config", w.config.spec},
                      {"label", w.config.label},
                      {"method", w.config.quant.quant.method},
                      {"bpw_linear", w.bpw_linear},
                      {"bpw_file", w.bpw_file},
                      {"quantized_bytes", w.quantized_bytes},
                      {"quantized_params", w.quantized_params},
                      {"file_bytes", w.file_bytes},
                      {"params_total", w.total_params},
                      {"ppl", w.ppl.ppl},
                      {"ppl_base", w.kld.ppl_base},
                      {"ppl_ratio", w.kld.ppl_ratio},
                      {"kld_mean", w.kld.kld_mean},
                      {"kld_se", w.kld.kld_se},
                      {"kld_median", w.kld.kld_median},
                      {"kld_p99", w.kld.kld_p99},
                      {"top1_agree", w.kld.top1_agree},
                      {"quant_seconds", w.quant_seconds},
                      {"eval_seconds", w.eval_seconds},
                      {"pareto", static_cast<bool>(front[i])}});
    }
    j["rows"] = rows;
    PrintJson(j);
    return 0;
  }
  std::printf("%s: float PPL %.4f over %lld windows of %lld (%lld scored tokens)\n\n%s\n",
              a.model.c_str(), r->base.ppl.ppl, static_cast<long long>(r->windows),
              static_cast<long long>(a.ctx), static_cast<long long>(r->tokens), md.c_str());
  std::printf("wrote %s.md, %s.csv, %s.svg\n", a.out.c_str(), a.out.c_str(), a.out.c_str());
  return 0;
}

}  // namespace

void AddSweepVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "quantize with several configs, evaluate each (PPL, KLD, top-1), plot them");
  cmd->footer(
      "Configs: METHOD[:KEY=VALUE,...] with METHOD rtn or ptqtp and keys bits=B (rtn: 2,3,4,8),\n"
      "planes=K (ptqtp: 1..4), group=G (32,64,128,256), iters=N, eps=E (ptqtp),\n"
      "tensor_type=PATTERN=FORMAT and exclude=PATTERN (as in quantize; repeatable), label=TEXT.\n"
      "Separate configs with ';' or spaces, or give a file with one per line (# comments).\n"
      "Example: tritium sweep M wiki.test.raw --configs 'rtn:bits=4,group=128;ptqtp:planes=2'\n"
      "Bits per weight are the quantizer's own numbers (the same as quantize and inspect print).\n"
      "Each config is evaluated on the same --chunks windows as the float model, whose logits\n"
      "base (8 + 2V bytes per scored token: 1.3 GB for 40 windows at V=32000) is kept in\n"
      "--work-dir while the sweep runs.");
  cmd->add_option("model", a->model, "float model: HF directory, .gguf, or llama2.c .bin")
      ->required();
  cmd->add_option("text", a->text, "UTF-8 text file")->required();
  cmd->add_option("--configs", a->configs, "configs, ';'-separated, or a file of them")
      ->required();
  cmd->add_option("-o,--out", a->out, "output prefix: writes PREFIX.md, .csv, .svg (default sweep)");
  cmd->add_option("-c,--ctx", a->ctx, "window length in tokens (default 512)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  cmd->add_option("--chunks", a->chunks, "windows evaluated per config (default 40; 0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--logits-top-k", a->top_k,
                  "0 (default): the float model's whole distributions (exact KLD); K: top-K + "
                  "rest (smaller, a lower bound); see ppl --help")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--work-dir", a->work_dir,
                  "where quantized models and the logits base go (default /tmp/tritium-sweep-PID)");
  cmd->add_flag("--keep-models", a->keep, "keep the quantized .gguf files and the logits base");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_flag("--json", a->json, "print the rows as one JSON object");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Sweep(*a); }; });
}

}  // namespace tritium::cli
