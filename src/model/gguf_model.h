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
  std::string method;  // "ptqtp", "rtn", ...; empty = source weights
  std::string options;  // "planes=2 group=128 max_iters=50 eps=1e-4"
};

// Writes `model`'s config and tokenizer with `tensors` (same names and shapes as the model's,
// possibly in other formats) to `path`, atomically. `extra` adds metadata (tritium.quant.* summary).
// Each tensor's xxh64 checksum is stored as tritium.tensor.<name>.xxh64.
Status WriteModelGguf(const std::string& path, const Model& model,
                      const std::vector<Tensor>& tensors,
                      const std::map<std::string, TensorProvenance>& provenance,
                      const std::vector<std::pair<std::string, GgufValue>>& extra);

// Verifies every stored checksum; returns the number of tensors checked, or an error naming the
// first tensor whose bytes do not match.
StatusOr<int> VerifyGgufChecksums(const GgufFile& gguf);

}  // namespace tritium

#endif  // TRITIUM_MODEL_GGUF_MODEL_H_
