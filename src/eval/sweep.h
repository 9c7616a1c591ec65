// A quality sweep: quantize one float model with several configurations, evaluate each against
// the float model (perplexity, KL divergence, top-1 agreement), and report a table, a CSV and an
// SVG plot of perplexity against bits per weight.
//
// Configuration syntax (one per entry):  METHOD[:KEY=VALUE[,KEY=VALUE...]]
//   METHOD  rtn | ptqtp
//   keys    bits=B (rtn: 2, 3, 4, 8)   planes=K (ptqtp: 1..4)   group=G (32, 64, 128, 256)
//           iters=N (ptqtp iteration limit)   eps=E (ptqtp tolerance)
//           tensor_type=PATTERN=FORMAT (as quantize --tensor-type; repeatable)
//           exclude=PATTERN (as quantize --exclude; repeatable)
//           label=TEXT (the name in the table and plot; default e.g. "RTN 4b g128")
//   e.g. "rtn:bits=4,group=128"  "ptqtp:planes=2,group=128"  "ptqtp:planes=2,exclude=*ffn_down*"
// A list separates entries with ';' or whitespace; a file has one per line, '#' starts a comment.
#ifndef TRITIUM_EVAL_SWEEP_H_
#define TRITIUM_EVAL_SWEEP_H_

#include <functional>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/eval/evaluate.h"
#include "src/pipeline/quantize_model.h"

namespace tritium {

struct SweepConfig {
  std::string spec;   // as written
  std::string label;  // for the table and plot
  QuantizeModelOptions quant;
  // "bits=4 group=128": the parameters in the table.
  std::string ParamsString() const;
};

StatusOr<SweepConfig> ParseSweepConfig(const std::string& spec);
// Entries separated by ';', whitespace or newlines; '#' comments to the end of a line.
StatusOr<std::vector<SweepConfig>> ParseSweepConfigs(const std::string& list);

struct SweepRow {
  SweepConfig config;
  bool is_float = false;
  // The quantizer's own accounting (QuantizeModelResult), identical to what `tritium quantize`
  // and `tritium inspect` report for the same file: every byte of scales, zeros and padding.
  double bpw_linear = 0;  // 8 * quantized_bytes / quantized_params
  double bpw_file = 0;    // 8 * file_bytes / total_params (0 for the float model)
  uint64_t quantized_bytes = 0, file_bytes = 0;
  int64_t quantized_params = 0, total_params = 0;
  double rel_weight_err = 0;
  double quant_seconds = 0, eval_seconds = 0;
  PerplexityResult ppl;
  KldResult kld;
};

struct SweepResult {
  std::string model, text;
  int64_t ctx = 0, windows = 0, tokens = 0;
  SweepRow base;  // the float model
  std::vector<SweepRow> rows;
};

struct SweepOptions {
  EvaluateOptions eval;      // ctx, max_chunks (windows), protocol, top_k
  std::string work_dir;      // quantized models and the logits base go here
  bool keep_models = false;  // leave the quantized .gguf files in work_dir
  std::string model_name, text_name;
  // Progress lines ("[2/5] rtn:bits=4,group=128: quantizing").
  std::function<void(const std::string&)> log;
  std::function<void(int64_t, int64_t)> eval_progress;
};

StatusOr<SweepResult> RunSweep(const Model& float_model, const std::string& text,
                               const std::vector<SweepConfig>& configs, const SweepOptions& opts,
                               ThreadPool* pool);

// Rows on the Pareto front (no other row has lower-or-equal bpw and lower-or-equal PPL, one of
// them strictly), by index into rows.
std::vector<bool> ParetoFront(const std::vector<SweepRow>& rows);

std::string SweepMarkdown(const SweepResult& r);
std::string SweepCsv(const SweepResult& r);
// PPL (log scale) against bits per weight of the quantized tensors; Pareto front joined, the float
// model as a horizontal line. Self-contained SVG 1.1 (no scripts, no external fonts).
std::string SweepSvg(const SweepResult& r);

}  // namespace tritium

#endif  // TRITIUM_EVAL_SWEEP_H_
