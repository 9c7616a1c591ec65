// Calibration: activation statistics of a model's linear layers over a calibration text, for the
// methods that use them (gptq, ptqtp-w, ptqtp-gptq, ...; see MethodCalibrationNeed).
//
//  - Windows: `seqs` windows of `ctx` tokens (no BOS) at random places drawn by a seeded
//    splitmix64 generator (the same windows on every platform for a given seed): in a large text,
//    each from a random line start (only that stretch is tokenized); a small text is tokenized
//    once and windows start at random tokens.
//  - The importance matrix (imatrix): per linear weight, the mean squared input of each column,
//    from the float model (Session's LinearInputObserver). Saved as GGUF: one F32 tensor [cols]
//    per weight name plus tritium.imatrix.* metadata (text hash, tokens, windows).
//  - True-sequential statistics for whole-model quantization: LayerRunner carries every window's
//    residual stream through the decoder layers one stage at a time, so that a layer's inputs come
//    from the already-quantized layers (and, inside a layer, q/k/v before o before gate/up before
//    down, as GPTQ's true-sequential mode). Each piece of the layer is computed once per window:
//    O(layers), not O(layers^2).
//  - HessianAccumulator: H = sum of x x^T, each window's block product in float (at most ctx
//    terms), summed across windows in double, over fixed column blocks (thread-count independent).
#ifndef TRITIUM_PIPELINE_CALIBRATION_H_
#define TRITIUM_PIPELINE_CALIBRATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/base/threads.h"
#include "src/model/model.h"

namespace tritium {

struct CalibrationOptions {
  std::string text_path;  // empty: SharedPath("data/brown/brown.txt")
  int64_t seqs = 64;
  int64_t ctx = 512;
  uint64_t seed = 0;
};

struct CalibrationText {
  std::string path;
  uint64_t text_hash = 0;    // XXH64 of the file's bytes
  int64_t text_tokens = 0;   // tokens of the whole text; -1 when not tokenized whole
  std::vector<std::vector<int32_t>> windows;
  int64_t tokens() const;    // tokens over all windows
};

std::string DefaultCalibrationPath();

// Reads, tokenizes and samples. A text shorter than ctx gives one window of the whole text.
StatusOr<CalibrationText> LoadCalibrationText(const Tokenizer& tok, const CalibrationOptions& o);

// Importance matrix: weight name -> mean squared input per column.
struct Imatrix {
  std::string path;  // where it was read from (for messages); empty if computed
  std::map<std::string, std::vector<float>> values;
  int64_t tokens = 0;
  uint64_t text_hash = 0;
  int64_t windows = 0;
};

Status SaveImatrix(const std::string& path, const Imatrix& m);
StatusOr<Imatrix> LoadImatrix(const std::string& path);
// Every entry must name a linear weight of one of the model's decoder layers and have one value
// per column; every such weight must have an entry. Errors name the file.
Status CheckImatrix(const Imatrix& m, const Model& model);

// The imatrix of the float model over the windows (progress(done, total) per window).
StatusOr<Imatrix> ComputeImatrix(const Model& model, const CalibrationText& text, ThreadPool* pool,
                                 const std::function<void(int64_t, int64_t)>& progress = nullptr);

class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t cols);
  // H += X^T X for X [n x cols] row-major.
  void Add(const float* x, int64_t n, ThreadPool* pool);
  // The mean H / tokens, full symmetric [cols x cols] row-major (zero if no tokens).
  std::vector<double> Mean() const;
  // The same matrix, made in the accumulator's own storage (no second n x n copy at real widths);
  // the accumulator is empty afterwards.
  std::vector<double> TakeMean();
  int64_t tokens() const { return tokens_; }
  int64_t cols() const { return cols_; }

 private:
  int64_t cols_, tokens_ = 0;
  std::vector<double> h_;  // lower triangle used
};

// The linear weights whose input a stage of a decoder layer produces.
enum class LayerStage { kAttnIn = 0, kAttnOut = 1, kFfnIn = 2, kFfnOut = 3 };
std::vector<const Tensor*> StageWeights(const LayerWeights& w, LayerStage s);

class LayerRunner {
 public:
  // Embeds every window (the residual stream starts as the embedding rows).
  LayerRunner(const Model& model, const std::vector<std::vector<int32_t>>& windows,
              ThreadPool* pool);

  // Runs layer `l` with weights `w` through stage `s` for every window and passes the stage's
  // linear input [n x cols] to obs (may be empty). Stages must be run in order 0..3 for each
  // layer, with the weights of earlier stages final, then Finish(l, w).
  void RunStage(int l, const LayerWeights& w, LayerStage s,
                const std::function<void(const float*, int64_t)>& obs);
  // Completes layer l (down projection and residual): the stream becomes the layer's output.
  void Finish(int l, const LayerWeights& w);
  // The residual stream of window i [n x hidden] (for tests).
  const std::vector<float>& residual(size_t i) const { return x_[i]; }

 private:
  void Attention(int64_t n, const float* q, const float* k, const float* v, float* out);

  const Model& model_;
  ThreadPool* pool_;
  std::vector<int64_t> len_;
  std::vector<std::vector<float>> x_;    // residual per window
  std::vector<std::vector<float>> mid_;  // per window: attention output, then the MLP activation
  std::vector<float> rope_cos_, rope_sin_;
};

}  // namespace tritium

#endif  // TRITIUM_PIPELINE_CALIBRATION_H_
