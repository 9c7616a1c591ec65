// tritium imatrix: the importance matrix (mean squared input of every linear layer's columns) of a
// float model over a text, saved for `tritium quantize --imatrix`.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "src/base/progress.h"
#include "src/pipeline/calibration.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct ImatrixArgs {
  std::string model, output, tokenizer;
  CalibrationOptions calib;
  int threads = 0;
  bool json = false;
};

int Imatrix(const ImatrixArgs& a) {
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  auto model_or = Model::Load(a.model, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& model = **model_or;
  auto text = LoadCalibrationText(*model.tokenizer(), a.calib);
  if (!text.ok()) return Fail(text.status());
  ThreadPool pool(a.threads);
  ProgressBar bar("imatrix", static_cast<int64_t>(text->windows.size()), !a.json);
  auto m = ComputeImatrix(model, *text, &pool,
                          [&](int64_t done, int64_t) { bar.Update(done); });
  bar.Finish();
  if (!m.ok()) return Fail(m.status().WithPrefix(a.model + ": "));
  if (Status s = SaveImatrix(a.output, *m); !s.ok()) return Fail(s);
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["text"] = text->path;
    j["output"] = a.output;
    j["tokens"] = m->tokens;
    j["windows"] = m->windows;
    j["tensors"] = m->values.size();
    PrintJson(j);
    return 0;
  }
  std::printf("%s: %zu tensors from %lld tokens (%lld windows of %s) -> %s\n", a.model.c_str(),
              m->values.size(), (long long)m->tokens, (long long)m->windows, text->path.c_str(),
              a.output.c_str());
  return 0;
}

}  // namespace

void AddImatrixVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<ImatrixArgs>();
  CLI::App* cmd = app.add_subcommand(
      "imatrix", "importance matrix (mean squared linear inputs) of a model over a text");
  cmd->add_option("model", a->model, "float model: HF directory, .gguf, or llama2.c .bin")
      ->required();
  cmd->add_option("text", a->calib.text_path, "UTF-8 calibration text")->required();
  cmd->add_option("-o,--output", a->output, "output .gguf file")->required();
  cmd->add_option("--calib-seqs", a->calib.seqs, "windows sampled from the text (default 64)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--calib-ctx", a->calib.ctx, "tokens per window (default 512)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--seed", a->calib.seed, "seed of the window sampling (default 0)");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_flag("--json", a->json, "print the summary as one JSON object");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Imatrix(*a); }; });
}

}  // namespace tritium::cli
