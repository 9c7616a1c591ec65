// Models in GGUF: llama.cpp's metadata keys for llama/qwen2/qwen3 and tokenizer.ggml.*, plus
// tritium's own keys for quantized tensors (docs/file-format.md specifies the file).
#ifndef TRITIUM_MODEL_GGUF_MODEL_H_
#define TRITIUM_MODEL_GGUF_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/io/gguf.h"
#include "src/model/config.h"
#include "src/model/model.h"
#include "src/tokenizer/tokenizer.h"

namespace tritium {

// The tritium file format version this build writes and the only one it reads.
inline constexpr uint32_t kTritiumFileVersion = 1;

// Opens a GGUF file whose tensors may use tritium's formats (ids >= 1000, their parameters in
// tritium.tensor.<name>.params). Refuses unknown tritium file versions and unknown type ids.
StatusOr<std::unique_ptr<GgufFile>> OpenModelGguf(const std::string& path);
StatusOr<ModelConfig> ConfigFromGguf(const GgufFile& gguf);
// The tensor as the engine sees it (GGUF dims reversed to [rows, cols]), every row validated.
StatusOr<Tensor> TensorFromGguf(const GgufFile& gguf, const GgufTensorInfo& info);
StatusOr<TokenizerVocab> TokenizerVocabFromGguf(const GgufFile& gguf);
// One line for inspect: scalars as text, arrays as "[type x N]".
std::string GgufValueToString(const GgufValue& v);

// Per-tensor provenance the quantizer records.
struct TensorProvenance {
  std::string method;   // "ptqtp", "rtn", ...; empty = source weights
  std::string options;  // "planes=2 group=128 max_iters=50 eps=1e-4"
};

// A tensor of an output file, declared before its data exists.
struct TensorDecl {
  std::string name;
  std::vector<int64_t> shape;  // [rows, cols] or [n]
  const Format* format = nullptr;
  FormatParams params;
  uint64_t nbytes = 0;
};

// Writes `model`'s config and tokenizer with tensors declared up front (same names and shapes as
// the model's, possibly in other formats), streaming: Begin() puts the header and tensor table on
// disk, then each tensor's data is written as soon as it exists, in any order, and its xxh64
// checksum (tritium.tensor.<name>.xxh64) is patched into the header. `extra` adds metadata
// (tritium.quant.* summary). Atomic: nothing appears under `path` before Commit().
class ModelGgufWriter {
 public:
  static StatusOr<std::unique_ptr<ModelGgufWriter>> Begin(
      const std::string& path, const Model& model, const std::vector<TensorDecl>& tensors,
      const std::map<std::string, TensorProvenance>& provenance,
      const std::vector<std::pair<std::string, GgufValue>>& extra);
  // `data` is the tensor as the engine sees it (rows * row_bytes); the writer applies the file's
  // row order (llama's q/k permutation) itself.
  Status WriteTensor(size_t index, const uint8_t* data);
  Status Commit();
  uint64_t file_size() const { return out_->file_size(); }

 private:
  ModelGgufWriter() = default;
  std::unique_ptr<GgufStreamWriter> out_;
  std::vector<TensorDecl> decls_;
  bool permute_qk_ = false;
  int64_t head_dim_ = 0;
};

// Verifies every stored checksum; returns the number of tensors checked, or an error naming the
// first tensor whose bytes do not match.
StatusOr<int> VerifyGgufChecksums(const GgufFile& gguf);

}  // namespace tritium

#endif  // TRITIUM_MODEL_GGUF_MODEL_H_
