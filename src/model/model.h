// A loaded model: hyperparameters, tokenizer and every tensor, from a Hugging Face directory, a
// llama2.c checkpoint or a GGUF file (llama.cpp's or tritium's quantized one). Tensor names are
// llama.cpp's GGUF names ("blk.3.attn_q.weight") whatever the source, so recipes, inspect and the
// file writer speak one vocabulary.
#ifndef TRITIUM_MODEL_MODEL_H_
#define TRITIUM_MODEL_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/formats/format.h"
#include "src/kernels/matmul.h"
#include "src/kernels/prepared_weight.h"
#include "src/model/config.h"
#include "src/tokenizer/tokenizer.h"

namespace tritium {

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;  // [rows, cols] for matrices, [n] for vectors
  const Format* format = nullptr;
  FormatParams params;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  // True when data points into a read-only file mapping, whose pages may be released once consumed
  // (never for heap buffers, which releasing would zero).
  bool file_backed = false;
  std::string method;  // how the bits were chosen ("ptqtp", "rtn", ...); empty for source weights
  // The matrix repacked for the fast kernels, made once at load (nullptr where none applies).
  std::shared_ptr<const PreparedWeight> prepared;

  int64_t rows() const { return shape.size() == 2 ? shape[0] : 1; }
  int64_t cols() const { return shape.back(); }
  int64_t numel() const { return rows() * cols(); }
  WeightView view() const;
  // Drops the tensor's file pages from the resident set once they are consumed (a no-op for heap
  // buffers); the bytes stay readable and fault back in if read again.
  void ReleaseFilePages() const;
};

struct LayerWeights {
  const Tensor* wq = nullptr;
  const Tensor* wk = nullptr;
  const Tensor* wv = nullptr;
  const Tensor* wo = nullptr;
  const Tensor* w_gate = nullptr;
  const Tensor* w_up = nullptr;
  const Tensor* w_down = nullptr;
  const float* attn_norm = nullptr;
  const float* ffn_norm = nullptr;
  const float* q_norm = nullptr;  // Qwen3
  const float* k_norm = nullptr;
  const float* bq = nullptr;  // Qwen2
  const float* bk = nullptr;
  const float* bv = nullptr;
};

struct LoadOptions {
  std::string tokenizer_path;  // overrides the tokenizer found with the model
  bool require_tokenizer = true;
  // Matrices with NaN/Inf are refused unless set (the quantizer sets it: its methods count such
  // weights and store them as 0).
  bool allow_nonfinite_weights = false;
};

class Model {
 public:
  // `path`: a Hugging Face directory (config.json + safetensors), a .gguf file, or a llama2.c .bin.
  static StatusOr<std::unique_ptr<Model>> Load(const std::string& path,
                                               const LoadOptions& opts = {});
  ~Model();

  const ModelConfig& config() const { return config_; }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  const std::string& path() const { return path_; }
  // The Jinja chat template the files carry (tokenizer_config.json "chat_template", a
  // chat_template.jinja beside it, or GGUF tokenizer.chat_template); empty when none.
  const std::string& chat_template() const { return chat_template_; }
  const std::string& source_kind() const { return source_kind_; }  // "hf", "gguf", "llama2c"
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* FindTensor(const std::string& name) const;
  // GGUF metadata of the source file (empty unless loaded from GGUF), for inspect.
  const std::map<std::string, std::string>& file_info() const { return file_info_; }

  const Tensor& embedding() const { return *embed_; }
  const Tensor& output() const { return *output_; }  // == embedding() when tied
  const float* output_norm() const { return output_norm_; }
  const std::vector<LayerWeights>& layers() const { return layers_; }
  // Per-frequency RoPE divisors (head_dim / 2 of them), 1 unless llama3 scaling or a GGUF
  // rope_freqs tensor says otherwise.
  const std::vector<float>& rope_freq_factors() const { return rope_freq_factors_; }

  int64_t ParameterCount() const;
  uint64_t TensorBytes() const;
  // Bytes of the kernels' repacked copies made at load (PreparedWeight); the file pages they were
  // made from are released, so this replaces, not adds to, those matrices' share of the file.
  uint64_t PreparedBytes() const { return prepared_bytes_; }

 private:
  Model() = default;
  Status Finish();  // links layers_ etc. to tensors_ and checks shapes

  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string path_, source_kind_, chat_template_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> file_info_;
  std::vector<std::shared_ptr<void>> keep_alive_;  // mapped files, owned buffers
  const Tensor* embed_ = nullptr;
  const Tensor* output_ = nullptr;
  const float* output_norm_ = nullptr;
  std::vector<LayerWeights> layers_;
  std::vector<float> rope_freq_factors_;
  uint64_t prepared_bytes_ = 0;

  friend class ModelLoader;
};

// Tensor naming helpers.
std::string LayerTensorName(int layer, const char* suffix);  // ("attn_q.weight") -> blk.N.attn_q.weight

}  // namespace tritium

#endif  // TRITIUM_MODEL_MODEL_H_
