// tritium quantize: float model in, tritium GGUF out.
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "src/base/file.h"
#include "src/base/progress.h"
#include "src/pipeline/calibration.h"
#include "src/pipeline/quantize_model.h"
#include "tools/cli_common.h"

namespace tritium::cli {

namespace {

struct QuantizeArgs {
  std::string input, output, tokenizer, imatrix;
  CalibrationOptions calib;
  QuantOptions quant;
  std::vector<std::string> tensor_types, excludes;
  int threads = 0;
  bool json = false;
};

int Quantize(const QuantizeArgs& a) {
  if (!(a.quant.eps >= 0) || !std::isfinite(a.quant.eps)) return Fail("--eps must be >= 0");
  if (FindMethod(a.quant.method) == nullptr) {
    return Fail("--method '" + a.quant.method + "' is not known");
  }
  QuantizeModelOptions opts;
  opts.quant = a.quant;
  for (const auto& r : a.tensor_types) {
    if (Status s = opts.recipe.AddTensorType(r); !s.ok()) return Fail(s);
  }
  for (const auto& e : a.excludes) opts.recipe.AddExclude(e);
  if (IsDirectory(a.output)) return Fail(a.output + ": output is a directory");
  if (SameFile(a.input, a.output)) {
    return Fail(a.output + ": output is the input file; write to another path");
  }
  LoadOptions lo;
  lo.tokenizer_path = a.tokenizer;
  lo.allow_nonfinite_weights = true;
  lo.require_tokenizer = false;  // a model without one can be quantized; the file says so
  auto model_or = Model::Load(a.input, lo);
  if (!model_or.ok()) return Fail(model_or.status());
  const Model& model = **model_or;
  if (model.tokenizer() == nullptr) {
    std::fprintf(stderr, "tritium: warning: %s has no tokenizer; the output will need --tokenizer "
                 "to run\n", a.input.c_str());
  }
  {
    // Requantizing starts from the stored approximation, not the trained weights: the errors
    // compound. Allowed (a user may have nothing else), but never silently.
    int64_t lossy = 0;
    std::string example;
    for (const Tensor& t : model.tensors()) {
      const FormatId id = t.format->id;
      if (id == FormatId::kF32 || id == FormatId::kF16 || id == FormatId::kBF16) continue;
      if (lossy++ == 0) example = t.name + " is " + t.format->name;
    }
    if (lossy > 0) {
      std::fprintf(stderr,
                   "tritium: warning: %s is already quantized (%lld tensors, e.g. %s); the "
                   "result's quality is bounded by the source's, and requantizing compounds the "
                   "error: quantize from the original weights if you have them\n",
                   a.input.c_str(), static_cast<long long>(lossy), example.c_str());
    }
  }
  ThreadPool pool(a.threads);
  std::unique_ptr<CalibrationText> calib;
  if (MethodCalibrationNeed(a.quant.method) == CalibrationNeed::kHessian ||
      (MethodCalibrationNeed(a.quant.method) == CalibrationNeed::kImportance &&
       a.imatrix.empty())) {
    if (model.tokenizer() == nullptr) return Fail("calibration needs the model's tokenizer");
    auto c = LoadCalibrationText(*model.tokenizer(), a.calib);
    if (!c.ok()) return Fail(c.status());
    calib = std::make_unique<CalibrationText>(std::move(*c));
    opts.calib = calib.get();
  }
  std::unique_ptr<Imatrix> imatrix;
  if (!a.imatrix.empty()) {
    auto m = LoadImatrix(a.imatrix);
    if (!m.ok()) return Fail(m.status());
    imatrix = std::make_unique<Imatrix>(std::move(*m));
    opts.imatrix = imatrix.get();
  }
  // Made on first use, so that a log shows calibration and quantization as separate steps.
  std::unique_ptr<ProgressBar> calib_bar, bar;
  opts.calib_progress = [&](int64_t done, int64_t total, const std::string& note) {
    if (!calib_bar) calib_bar = std::make_unique<ProgressBar>("calibrate", total, !a.json);
    calib_bar->Update(done, note);
    if (done == total) calib_bar->Finish();
  };
  opts.progress = [&](int64_t done, int64_t total, const std::string& name) {
    if (!bar) bar = std::make_unique<ProgressBar>("quantize", total, !a.json);
    bar->Update(done, name);
  };
  auto r = QuantizeModel(model, a.output, opts, &pool);
  if (bar) bar->Finish();
  if (!r.ok()) return Fail(r.status().WithPrefix(a.input + ": "));
  if (a.json) {
    nlohmann::json j;
    j["input"] = a.input;
    j["output"] = a.output;
    j["method"] = a.quant.method;
    j["planes"] = a.quant.planes;
    j["bits"] = a.quant.bits;
    j["group"] = a.quant.group;
    j["max_iters"] = a.quant.max_iters;
    j["eps"] = a.quant.eps;
    j["tensors_quantized"] = r->quantized_tensors;
    j["params_quantized"] = r->quantized_params;
    j["params_total"] = r->total_params;
    j["bpw_linear"] = r->bpw_linear;
    j["bpw_file"] = r->bpw_file;
    j["file_bytes"] = r->file_bytes;
    j["rel_weight_err"] = r->rel_err_all;
    j["rel_weight_err_by_kind"] = r->rel_err_by_kind;
    j["max_iterations"] = r->max_iterations;
    j["nonfinite_weights"] = r->nonfinite;
    j["seconds"] = r->seconds;
    j["calib_seconds"] = r->calib_seconds;
    j["calib_tokens"] = r->calib_tokens;
    if (calib != nullptr) {
      j["calib_text"] = calib->path;
      j["calib_seqs"] = calib->windows.size();
      j["calib_ctx"] = a.calib.ctx;
      j["seed"] = a.calib.seed;
    }
    if (imatrix != nullptr) j["imatrix"] = a.imatrix;
    j["threads"] = a.threads;
    nlohmann::json ts = nlohmann::json::array();
    for (const auto& t : r->tensors) {
      ts.push_back({{"name", t.name}, {"format", t.format}, {"bytes", t.bytes},
                    {"rel_err", t.sq_norm > 0 ? t.sq_err / t.sq_norm : 0},
                    {"iterations", t.iterations}, {"seconds", t.seconds}});
    }
    j["tensors"] = ts;
    PrintJson(j);
    return 0;
  }
  std::printf("%s -> %s\n", a.input.c_str(), a.output.c_str());
  std::printf("quantized %lld tensors, %lld of %lld parameters (%.1f%%)\n",
              (long long)r->quantized_tensors, (long long)r->quantized_params,
              (long long)r->total_params, 100.0 * r->quantized_params / r->total_params);
  std::printf("bits per weight: %.4f quantized tensors, %.4f whole file (%llu bytes)\n",
              r->bpw_linear, r->bpw_file, (unsigned long long)r->file_bytes);
  std::printf("relative weight error ||W - W_hat||^2 / ||W||^2:\n");
  for (const auto& [k, e] : r->rel_err_by_kind) std::printf("  %-12s %.6f\n", k.c_str(), e);
  std::printf("  %-12s %.6f\n", "all", r->rel_err_all);
  if (a.quant.method.rfind("ptqtp", 0) == 0) {
    std::printf("iterations: at most %d (limit %d)\n", r->max_iterations, a.quant.max_iters);
  }
  if (r->nonfinite > 0) {
    std::printf("non-finite weights: %lld (stored as 0)\n", (long long)r->nonfinite);
  }
  if (calib != nullptr) {
    std::printf("calibration: %lld tokens (%zu windows of %lld from %s, seed %llu), %.2f s\n",
                (long long)r->calib_tokens, calib->windows.size(), (long long)a.calib.ctx,
                calib->path.c_str(), (unsigned long long)a.calib.seed, r->calib_seconds);
  }
  std::printf("wall time %.2f s on %d threads\n", r->seconds, a.threads);
  return 0;
}

}  // namespace

void AddQuantizeVerb(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "quantize a float model to a tritium .gguf");
  cmd->add_option("input", a->input, "float model: HF directory, .gguf, or llama2.c .bin")
      ->required();
  cmd->add_option("output", a->output, "output .gguf file")->required();
  cmd->add_option("--method", a->quant.method,
                  "ptqtp (trit-planes), rtn (INT_G round-to-nearest), gptq (INT_G, calibrated), "
                  "ptqtp-w, ptqtp-gptq, ptqtp-gptq-w, ptqtp-ls, ptqtp-gptq-ls (calibrated "
                  "trit-planes; docs/calibration.md)")
      ->check(CLI::IsMember({"ptqtp", "rtn", "gptq", "ptqtp-w", "ptqtp-gptq", "ptqtp-gptq-w",
                             "ptqtp-ls", "ptqtp-gptq-ls"}));
  cmd->add_option("--planes", a->quant.planes, "ptqtp: trit-planes K (1..4, default 2)")
      ->check(CLI::Range(1, 4));
  cmd->add_option("--bits", a->quant.bits, "rtn, gptq: bits B (2, 3, 4, 8; default 4)")
      ->check(CLI::IsMember({2, 3, 4, 8}));
  cmd->add_option("--group", a->quant.group, "group size G (32, 64, 128, 256; default 128)")
      ->check(CLI::IsMember({32, 64, 128, 256}));
  cmd->add_option("--max-iters", a->quant.max_iters, "ptqtp: iteration limit (default 50)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--eps", a->quant.eps, "ptqtp: stop when scales move less (default 1e-4)");
  cmd->add_option("--tensor-type", a->tensor_types,
                  "PATTERN=FORMAT override, repeatable (FORMAT: F32, F16, BF16, Q8_0, "
                  "TRIT_PLANES[:K], INT_G[:B], keep); patterns glob GGUF names");
  cmd->add_option("--exclude", a->excludes, "PATTERN of tensors to keep as they are, repeatable");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file overriding the model's");
  cmd->add_option("--calib", a->calib.text_path,
                  "calibration text for calibrated methods (default: shared data/brown/brown.txt)");
  cmd->add_option("--calib-seqs", a->calib.seqs, "calibration windows (default 64)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--calib-ctx", a->calib.ctx, "tokens per calibration window (default 512)")
      ->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--seed", a->calib.seed, "seed of the calibration window sampling (default 0)");
  cmd->add_option("--imatrix", a->imatrix,
                  "importance matrix from `tritium imatrix` (used as the importance of ptqtp-w)");
  cmd->add_option("--damp", a->quant.damp, "gptq: damping, a fraction of mean diag H (0.01)")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_flag("--act-order", a->quant.act_order,
                "gptq: columns by decreasing importance, with static groups");
  cmd->add_flag("--json", a->json, "print the summary as one JSON object");
  AddThreadsFlag(cmd, &a->threads);
  cmd->callback([a, run] { *run = [a] { return Quantize(*a); }; });
}

}  // namespace tritium::cli
