// Quantization methods: algorithms that choose a format's bits for one weight matrix.
#ifndef TRITIUM_QUANT_METHOD_H_
#define TRITIUM_QUANT_METHOD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/formats/format.h"

namespace tritium {

namespace gptq {
struct FactorCache;
}  // namespace gptq

struct QuantOptions {
  std::string method = "ptqtp";  // "ptqtp", "rtn", ... (see FindMethod)
  int planes = 2;                // ptqtp: K
  int group = 128;               // G
  int bits = 4;                  // rtn: B
  int max_iters = 50;            // ptqtp: T_max
  double eps = 1e-4;             // ptqtp: stop when the scales move less than this (L2, whole matrix)
  // Optional per-input-column importance (length cols), e.g. mean squared activations; empty = none.
  std::vector<float> importance;
  // Calibration-aware methods (gptq, ptqtp-gptq, ...): the input second-moment matrix
  // H = mean over calibration tokens of x x^T, [cols x cols] row-major, symmetric. Not owned; must
  // outlive the call. nullptr = none (methods that need it refuse to run).
  const double* hessian = nullptr;
  double damp = 0.01;      // GPTQ damping: H += damp * mean(diag H) * I
  bool act_order = false;  // gptq: columns in order of decreasing H_ii, with static groups
  // Optional, not owned: matrices quantized on one H (q/k/v, gate/up) can share its factorization,
  // the costliest step at real widths. The first call stores its factor here; a later call with the
  // same `hessian` pointer, damp and act_order reuses it. The caller keeps H alive and unchanged at
  // that address while the cache lives (src/pipeline does so for one layer stage).
  gptq::FactorCache* factor_cache = nullptr;
};

// What a method needs from calibration text.
enum class CalibrationNeed { kNone, kImportance, kHessian };
CalibrationNeed MethodCalibrationNeed(const std::string& method);

struct QuantResult {
  FormatId format = FormatId::kF32;
  FormatParams params;
  std::vector<uint8_t> data;  // rows * row_bytes
  int iterations = 0;         // ptqtp: iterations used
  int64_t nonfinite = 0;      // non-finite input weights (quantized as 0)
  double sq_err = 0;          // sum (W - W_hat)^2 over finite weights
  double sq_norm = 0;         // sum W^2 over finite weights
};

// The format and parameters a method writes for given options (QuantResult::format/params).
struct MethodOutput {
  FormatId format = FormatId::kF32;
  FormatParams params;
};

struct Method {
  const char* name;
  // Quantizes a row-major [rows x cols] float matrix. Deterministic and thread-count independent.
  StatusOr<QuantResult> (*quantize)(const float* w, int64_t rows, int64_t cols,
                                    const QuantOptions& opts, ThreadPool* pool);
  // What quantize() will write, known before it runs: a streaming writer lays out the whole
  // file (every tensor's size) before the first tensor is quantized.
  MethodOutput (*output)(const QuantOptions& opts);
};

// The output of the trit-plane methods and of the INT_G methods.
MethodOutput TritPlanesOutput(const QuantOptions& opts);
MethodOutput IntGOutput(const QuantOptions& opts);

const Method* FindMethod(const std::string& name);

// Error of one quantized row against its source, over the finite weights: what QuantResult's
// sq_err, sq_norm and nonfinite add up. `deq` is the reference decoder's output for the row.
struct RowError {
  double sq_err = 0;
  double sq_norm = 0;
  int64_t nonfinite = 0;
};
RowError MeasureRowError(const float* w, const float* deq, int64_t cols);
// Adds per-row errors into result's totals in row order, so the sums do not depend on which
// thread measured which row.
void AddRowErrors(const std::vector<RowError>& rows, QuantResult* result);

}  // namespace tritium

#endif  // TRITIUM_QUANT_METHOD_H_
