// safetensors reader (memory-mapped): an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the byte buffer.
// Every offset is checked against the file; sharded checkpoints are read through
// model.safetensors.index.json.
#ifndef TRITIUM_IO_SAFETENSORS_H_
#define TRITIUM_IO_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/base/file.h"
#include "src/base/status.h"

namespace tritium {

enum class StDtype { kF32, kF16, kBF16 };

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  std::string file;  // which shard, for error messages
  int64_t numel() const;
};

const char* StDtypeName(StDtype d);

// One or more safetensors files seen as one set of tensors.
class SafetensorsSet {
 public:
  // `path` is a .safetensors file or a directory holding model.safetensors or an index + shards.
  static StatusOr<std::unique_ptr<SafetensorsSet>> Open(const std::string& path);
  const std::map<std::string, StTensor>& tensors() const { return tensors_; }
  const StTensor* Find(const std::string& name) const;

 private:
  Status AddFile(const std::string& path);
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::map<std::string, StTensor> tensors_;
};

// Converts a tensor to float32 (f32 copy, f16/bf16 widening). Refuses non-finite values when
// `require_finite` (norm weights, biases) with an error naming the tensor and file.
StatusOr<std::vector<float>> StTensorToF32(const StTensor& t, bool require_finite);

}  // namespace tritium

#endif  // TRITIUM_IO_SAFETENSORS_H_
