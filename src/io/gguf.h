// GGUF v3 container: reader (memory-mapped, validating every offset against the file size) and
// writer (atomic: temporary file + rename). Spec: ggml's docs/gguf.md. Tensor dimensions are stored
// innermost first (ne[0] = columns of a row-major matrix).
//
// Reader: accepts versions 2 and 3 (identical layout for little-endian files); refuses 1 and
// others. Files are untrusted: every length, count and offset is checked against the file size,
// duplicate keys and tensor names are errors, arrays of arrays are refused, tensor data ranges must
// be aligned, lie inside the file and not overlap. All metadata arrays together may hold at most
// GgufMetadataElementBudget(file size) elements, which bounds the memory a hostile file can make us
// allocate by a small multiple of its size (real vocabularies hold under a million elements).
// Every error message starts with "<path>: ".
//
// Writer: key/value pairs in insertion order, then tensor infos, padding to the alignment, data.
// `general.alignment` is written only when the alignment is not the default 32 (an explicit
// Set("general.alignment", ...) must agree with set_alignment()). No padding follows the last
// tensor.
#ifndef TRITIUM_IO_GGUF_H_
#define TRITIUM_IO_GGUF_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "src/base/file.h"
#include "src/base/status.h"

namespace tritium {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// ggml tensor type ids that tritium reads. Our own formats use ids >= 1000
// (src/formats/registry.h).
inline constexpr uint32_t kGgmlTypeF32 = 0;
inline constexpr uint32_t kGgmlTypeF16 = 1;
inline constexpr uint32_t kGgmlTypeQ8_0 = 8;
inline constexpr uint32_t kGgmlTypeBF16 = 30;

inline constexpr uint64_t kGgufDefaultAlignment = 32;
inline constexpr uint64_t kGgufMaxMetadataElements = uint64_t{1} << 24;
// 2^20 elements for any file, one more per 8 bytes of file, never more than 2^24: at most
// ~80 MB + 10x the file size of parsed values.
inline constexpr uint64_t GgufMetadataElementBudget(uint64_t file_size) {
  const uint64_t b = (uint64_t{1} << 20) + file_size / 8;
  return b < kGgufMaxMetadataElements ? b : kGgufMaxMetadataElements;
}

// "u8", "i32", "string", "array", ...; "unknown" for ids outside the enum.
const char* GgufValueTypeName(GgufValueType t);

// A metadata value. Arrays hold one element type; arrays of arrays are rejected on read.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint32;
  GgufValueType array_type = GgufValueType::kUint8;  // for kArray
  std::variant<uint64_t, int64_t, double, bool, std::string> scalar;
  std::vector<GgufValue> array;  // for kArray (elements' type == array_type)
  // For kArray of u8/i8 as read from a file (and from U8Array): the elements packed, one byte
  // each, with `array` empty. A tokenizer file embedded as bytes (11 MB for Qwen's) would cost
  // 80 bytes per element in `array`.
  std::string bytes;
  bool packed_bytes() const {
    return type == GgufValueType::kArray && array.empty() &&
           (array_type == GgufValueType::kUint8 || array_type == GgufValueType::kInt8);
  }
  size_t array_size() const { return packed_bytes() ? bytes.size() : array.size(); }

  // Constructors for the writer.
  static GgufValue U32(uint32_t v);
  static GgufValue I32(int32_t v);
  static GgufValue U64(uint64_t v);
  static GgufValue F32(float v);
  static GgufValue Bool(bool v);
  static GgufValue Str(std::string v);
  static GgufValue StrArray(const std::vector<std::string>& v);
  static GgufValue F32Array(const std::vector<float>& v);
  static GgufValue I32Array(const std::vector<int32_t>& v);
  static GgufValue U8Array(const std::string& bytes);
  // The remaining scalar types, and arrays of any non-array type (elements must have `elem_type`).
  static GgufValue U8(uint8_t v);
  static GgufValue I8(int8_t v);
  static GgufValue U16(uint16_t v);
  static GgufValue I16(int16_t v);
  static GgufValue I64(int64_t v);
  static GgufValue F64(double v);
  static GgufValue Array(GgufValueType elem_type, std::vector<GgufValue> elements);

  // Typed access; errors say which type was found. They do not name the key or the file, which the
  // value does not know: callers prefix them (GgufFile::Get gives the path).
  StatusOr<uint64_t> AsUint() const;  // any unsigned or non-negative signed integer type
  StatusOr<int64_t> AsInt() const;    // any integer type
  StatusOr<double> AsFloat() const;   // float32/64 or any integer
  StatusOr<bool> AsBool() const;
  StatusOr<std::string> AsString() const;
  StatusOr<std::vector<std::string>> AsStringArray() const;
  StatusOr<std::vector<float>> AsFloatArray() const;  // float32/64 or integer elements
  StatusOr<std::vector<int32_t>> AsInt32Array() const;
  StatusOr<std::string> AsBytes() const;  // uint8/int8 array as raw bytes
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // ne[0] innermost
  uint32_t type = 0;
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
};

struct GgufValue;
// Returns the byte size of a tensor of `type` with `dims`, or an error for an unknown type.
// The reader calls it for every tensor so that unknown types are refused by name. It sees the
// file's metadata because a format's size can depend on parameters stored there.
using GgufTensorSizeFn = std::function<StatusOr<uint64_t>(
    const std::map<std::string, GgufValue>& metadata, const std::string& name, uint32_t type,
    const std::vector<uint64_t>& dims)>;
// Sizes for the ggml types above (F32, F16, BF16, Q8_0); anything else is an error.
StatusOr<uint64_t> GgmlTensorSize(const std::string& name, uint32_t type,
                                  const std::vector<uint64_t>& dims);

class GgufFile {
 public:
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path,
                                                  const GgufTensorSizeFn& size_fn = nullptr);
  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* Find(const std::string& key) const;  // nullptr if absent
  // Like Find, but a missing key is a NotFound error naming the file and the key.
  StatusOr<const GgufValue*> Get(const std::string& key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(const std::string& name) const;

 private:
  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// A GGUF file being written in place: Begin() has put the header and the tensor table on disk
// (every tensor's size is known up front), and tensor data is filled in afterwards in any order, so
// a streaming producer holds one tensor at a time. u64 metadata values can be patched after the
// fact (checksums computed while the data is made). Nothing appears under the final name before
// Commit(); destroying the writer uncommitted removes the temporary file.
class GgufStreamWriter {
 public:
  size_t tensor_count() const { return names_.size(); }
  // Writes tensor `index`'s data; nbytes must be the size given to AddTensor.
  Status WriteTensor(size_t index, const void* data, uint64_t nbytes);
  // Overwrites the value of `key`, which must have been Set() as a u64.
  Status PatchU64(const std::string& key, uint64_t value);
  uint64_t file_size() const { return file_size_; }
  // Refuses if a tensor was never written; then fsync and rename.
  Status Commit();

 private:
  friend class GgufWriter;
  GgufStreamWriter() = default;
  std::unique_ptr<AtomicFileWriter> out_;
  std::string path_;
  uint64_t data_start_ = 0, file_size_ = 0;
  std::vector<std::string> names_;
  std::vector<uint64_t> offsets_, sizes_;
  std::vector<bool> written_;
  std::map<std::string, uint64_t> u64_offsets_;  // file offset of each u64 metadata value
};

class GgufWriter {
 public:
  void Set(const std::string& key, GgufValue value);  // insertion order is kept
  // The data is copied when Write() runs, not before: it must stay valid until then.
  void AddTensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type,
                 const void* data, uint64_t nbytes);
  void set_alignment(uint64_t a) { alignment_ = a; }  // a power of two that fits in uint32
  // Checks each tensor's nbytes on Write(). Without one, the ggml types above are checked with
  // GgmlTensorSize and other types are written as given.
  void set_tensor_size_fn(GgufTensorSizeFn fn) { size_fn_ = std::move(fn); }
  // Writes atomically; the file never exists half-written under `path`.
  Status Write(const std::string& path) const;
  // Streaming: checks everything Write() checks except the data pointers (which may be null here)
  // and writes the header; the data follows through the returned writer.
  StatusOr<std::unique_ptr<GgufStreamWriter>> Begin(const std::string& path) const;

 private:
  uint64_t alignment_ = kGgufDefaultAlignment;
  GgufTensorSizeFn size_fn_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  struct PendingTensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    const void* data;
    uint64_t nbytes;
  };
  std::vector<PendingTensor> tensors_;
};

}  // namespace tritium

#endif  // TRITIUM_IO_GGUF_H_
