// Quantizes a whole model by a Recipe and a Method and writes tritium's GGUF file.
#ifndef TRITIUM_PIPELINE_QUANTIZE_MODEL_H_
#define TRITIUM_PIPELINE_QUANTIZE_MODEL_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/pipeline/calibration.h"
#include "src/model/model.h"
#include "src/quant/method.h"
#include "src/quant/recipe.h"

namespace tritium {

struct QuantizeModelOptions {
  QuantOptions quant;
  Recipe recipe;
  // Called before each tensor with (tensors done, total, name).
  std::function<void(int64_t, int64_t, const std::string&)> progress;
  // Calibration windows, for methods that need activations (MethodCalibrationNeed). When set and
  // a planned method needs them, the decoder layers are quantized in order, each from the inputs
  // that the already-quantized earlier layers produce (calibration.h). Not owned.
  const CalibrationText* calib = nullptr;
  // An importance matrix (e.g. from `tritium imatrix`) used as QuantOptions::importance; it is
  // checked against the model (CheckImatrix). Not owned.
  const Imatrix* imatrix = nullptr;
  // Called after each calibration stage with (stages done, total, note).
  std::function<void(int64_t, int64_t, const std::string&)> calib_progress;
};

struct TensorQuantStats {
  std::string name;
  std::string kind;    // "attn_q", "ffn_down", "token_embd", ...
  std::string format;  // "TRIT_PLANES(K=2,G=128)"
  std::string method;  // "" if kept
  int64_t params = 0;
  uint64_t bytes = 0;
  double sq_err = 0, sq_norm = 0;
  int iterations = 0;
  int64_t nonfinite = 0;
  double seconds = 0;
};

struct QuantizeModelResult {
  std::vector<TensorQuantStats> tensors;
  int64_t quantized_tensors = 0;
  int64_t quantized_params = 0;
  uint64_t quantized_bytes = 0;
  int64_t total_params = 0;
  uint64_t file_bytes = 0;
  double bpw_linear = 0;  // 8 * bytes / params over the tensors a method or format changed
  double bpw_file = 0;    // 8 * file size / all parameters
  int64_t nonfinite = 0;
  int max_iterations = 0;
  double seconds = 0;
  double calib_seconds = 0;  // of which running the calibration windows and accumulating H
  int64_t calib_tokens = 0;
  // ||W - W_hat||^2 / ||W||^2 summed over tensors of each kind.
  std::map<std::string, double> rel_err_by_kind;
  double rel_err_all = 0;
};

// Tensor kind from a GGUF name: "blk.3.attn_q.weight" -> "attn_q".
std::string TensorKind(const std::string& name);

StatusOr<QuantizeModelResult> QuantizeModel(const Model& model, const std::string& out_path,
                                            const QuantizeModelOptions& opts, ThreadPool* pool);

}  // namespace tritium

#endif  // TRITIUM_PIPELINE_QUANTIZE_MODEL_H_
