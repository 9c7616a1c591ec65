#include "src/io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <set>

namespace tritium {
namespace {

// Values are copied between the file and host integers with memcpy, which is only the GGUF byte
// order on a little-endian host.
static_assert(std::endian::native == std::endian::little, "GGUF I/O assumes a little-endian host");

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kWriteVersion = 3;
constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kMaxValueType = 12;
constexpr char kAlignmentKey[] = "general.alignment";

bool IsPowerOfTwo(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }
bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
// `align` must be a power of two. False on overflow.
bool AlignUp(uint64_t v, uint64_t align, uint64_t* out) {
  uint64_t t;
  if (!CheckedAdd(v, align - 1, &t)) return false;
  *out = t & ~(align - 1);
  return true;
}

bool IsUnsignedInt(GgufValueType t) {
  return t == GgufValueType::kUint8 || t == GgufValueType::kUint16 || t == GgufValueType::kUint32 ||
         t == GgufValueType::kUint64;
}
bool IsSignedInt(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 || t == GgufValueType::kInt32 ||
         t == GgufValueType::kInt64;
}
bool IsInteger(GgufValueType t) { return IsUnsignedInt(t) || IsSignedInt(t); }
bool IsFloat(GgufValueType t) {
  return t == GgufValueType::kFloat32 || t == GgufValueType::kFloat64;
}

// Encoded size of a fixed-size scalar; 0 for string and array.
uint64_t ScalarSize(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    default:
      return 0;
  }
}

// The fewest bytes one value of type `t` can occupy; bounds element counts by the bytes left.
uint64_t MinEncodedSize(GgufValueType t) {
  if (t == GgufValueType::kString) return 8;
  if (t == GgufValueType::kArray) return 12;
  return ScalarSize(t);
}

std::pair<int64_t, uint64_t> IntegerRange(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
      return {0, 0xff};
    case GgufValueType::kInt8:
      return {-128, 127};
    case GgufValueType::kUint16:
      return {0, 0xffff};
    case GgufValueType::kInt16:
      return {-32768, 32767};
    case GgufValueType::kUint32:
      return {0, 0xffffffffu};
    case GgufValueType::kInt32:
      return {std::numeric_limits<int32_t>::min(), 0x7fffffff};
    case GgufValueType::kUint64:
      return {0, std::numeric_limits<uint64_t>::max()};
    default:
      return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

std::string Describe(const GgufValue& v) {
  if (v.type == GgufValueType::kArray) {
    return std::string("array of ") + GgufValueTypeName(v.array_type);
  }
  return GgufValueTypeName(v.type);
}

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

// The integer held by an integer-typed value. Values built by hand may hold either integer
// alternative; anything else is a type mismatch.
StatusOr<__int128> IntegerOf(const GgufValue& v) {
  if (!IsInteger(v.type)) {
    return InvalidArgumentError("expected an integer, found " + Describe(v));
  }
  if (const auto* u = std::get_if<uint64_t>(&v.scalar)) return static_cast<__int128>(*u);
  if (const auto* i = std::get_if<int64_t>(&v.scalar)) return static_cast<__int128>(*i);
  return InvalidArgumentError(std::string("value of type ") + GgufValueTypeName(v.type) +
                              " does not hold an integer");
}

std::string Int128ToString(__int128 x) {
  if (x < 0) return "-" + std::to_string(static_cast<uint64_t>(-(x + 1)) + 1);
  return std::to_string(static_cast<uint64_t>(x));
}

// The elements of an array; packed byte arrays are unpacked into `scratch`.
StatusOr<const std::vector<GgufValue>*> ArrayOf(const GgufValue& v, const char* expected,
                                                std::vector<GgufValue>* scratch) {
  if (v.type != GgufValueType::kArray) {
    return InvalidArgumentError(std::string("expected ") + expected + ", found " + Describe(v));
  }
  if (v.packed_bytes()) {
    scratch->clear();
    scratch->reserve(v.bytes.size());
    for (char c : v.bytes) {
      scratch->push_back(v.array_type == GgufValueType::kUint8
                             ? GgufValue::U8(static_cast<uint8_t>(c))
                             : GgufValue::I8(static_cast<int8_t>(c)));
    }
    return scratch;
  }
  return &v.array;
}

// ---------------------------------------------------------------------------------------------
// Reading

// Bounds-checked little-endian reads from the mapping. Errors carry the offset; the caller adds
// the file path and what was being read.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t remaining() const { return size_ - pos_; }

  template <typename T>
  Status Read(T* out, const std::string& what) {
    if (sizeof(T) > remaining()) {
      return DataLossError("truncated: " + what + " needs " + std::to_string(sizeof(T)) +
                           " bytes at offset " + std::to_string(pos_) + " but the file ends at " +
                           std::to_string(size_));
    }
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return OkStatus();
  }

  // `n` must have been checked against remaining().
  Status ReadBytes(char* out, uint64_t n, const std::string& what) {
    if (n > remaining()) return DataLossError("truncated: " + what);
    std::memcpy(out, data_ + pos_, n);
    pos_ += n;
    return OkStatus();
  }

  Status ReadString(std::string* out, const std::string& what) {
    uint64_t len = 0;
    TRITIUM_RETURN_IF_ERROR(Read(&len, what + " length"));
    if (len > remaining()) {
      return DataLossError(what + " length " + std::to_string(len) + " at offset " +
                           std::to_string(pos_ - 8) + " exceeds the " +
                           std::to_string(remaining()) + " bytes left in the file");
    }
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return OkStatus();
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

class MetadataReader {
 public:
  // A parsed element costs sizeof(GgufValue) (~80 bytes) whatever its encoded size, so a file of
  // one-byte elements would cost 80x its size: the budget grows with the file, not with what it
  // claims (GgufMetadataElementBudget).
  MetadataReader(Cursor* c, uint64_t file_size)
      : c_(c), budget_(GgufMetadataElementBudget(file_size)), elements_left_(budget_) {}

  // `what` names the value in errors, e.g. "metadata key 'x'".
  Status ReadValue(uint32_t type_id, const std::string& what, bool in_array, GgufValue* out) {
    if (type_id > kMaxValueType) {
      return DataLossError(what + ": unknown value type " + std::to_string(type_id) +
                           " at offset " + std::to_string(c_->pos() - 4));
    }
    const auto type = static_cast<GgufValueType>(type_id);
    out->type = type;
    switch (type) {
      case GgufValueType::kUint8:
        return ReadUnsigned<uint8_t>(what, out);
      case GgufValueType::kUint16:
        return ReadUnsigned<uint16_t>(what, out);
      case GgufValueType::kUint32:
        return ReadUnsigned<uint32_t>(what, out);
      case GgufValueType::kUint64:
        return ReadUnsigned<uint64_t>(what, out);
      case GgufValueType::kInt8:
        return ReadSigned<int8_t>(what, out);
      case GgufValueType::kInt16:
        return ReadSigned<int16_t>(what, out);
      case GgufValueType::kInt32:
        return ReadSigned<int32_t>(what, out);
      case GgufValueType::kInt64:
        return ReadSigned<int64_t>(what, out);
      case GgufValueType::kFloat32: {
        float f = 0;
        TRITIUM_RETURN_IF_ERROR(c_->Read(&f, what));
        out->scalar = static_cast<double>(f);
        return OkStatus();
      }
      case GgufValueType::kFloat64: {
        double d = 0;
        TRITIUM_RETURN_IF_ERROR(c_->Read(&d, what));
        out->scalar = d;
        return OkStatus();
      }
      case GgufValueType::kBool: {
        uint8_t b = 0;
        TRITIUM_RETURN_IF_ERROR(c_->Read(&b, what));
        if (b > 1) {
          return DataLossError(what + ": bool value " + std::to_string(b) + " at offset " +
                               std::to_string(c_->pos() - 1) + " (must be 0 or 1)");
        }
        out->scalar = b == 1;
        return OkStatus();
      }
      case GgufValueType::kString: {
        std::string s;
        TRITIUM_RETURN_IF_ERROR(c_->ReadString(&s, what + " string"));
        out->scalar = std::move(s);
        return OkStatus();
      }
      case GgufValueType::kArray:
        return ReadArray(what, in_array, out);
    }
    return InternalError("unreachable");
  }

 private:
  template <typename T>
  Status ReadUnsigned(const std::string& what, GgufValue* out) {
    T v{};
    TRITIUM_RETURN_IF_ERROR(c_->Read(&v, what));
    out->scalar = static_cast<uint64_t>(v);
    return OkStatus();
  }
  template <typename T>
  Status ReadSigned(const std::string& what, GgufValue* out) {
    T v{};
    TRITIUM_RETURN_IF_ERROR(c_->Read(&v, what));
    out->scalar = static_cast<int64_t>(v);
    return OkStatus();
  }

  Status ReadArray(const std::string& what, bool in_array, GgufValue* out) {
    if (in_array) return InternalError(what + ": nested array reached the value reader");
    uint32_t elem_id = 0;
    TRITIUM_RETURN_IF_ERROR(c_->Read(&elem_id, what + " array element type"));
    if (elem_id == static_cast<uint32_t>(GgufValueType::kArray)) {
      return UnimplementedError(what + ": arrays of arrays are not supported (offset " +
                                std::to_string(c_->pos() - 4) + ")");
    }
    if (elem_id > kMaxValueType) {
      return DataLossError(what + ": unknown array element type " + std::to_string(elem_id) +
                           " at offset " + std::to_string(c_->pos() - 4));
    }
    const auto elem = static_cast<GgufValueType>(elem_id);
    uint64_t count = 0;
    TRITIUM_RETURN_IF_ERROR(c_->Read(&count, what + " array length"));
    if (count > c_->remaining() / MinEncodedSize(elem)) {
      return DataLossError(what + ": array of " + std::to_string(count) + " " +
                           GgufValueTypeName(elem) + " elements at offset " +
                           std::to_string(c_->pos() - 8) + " cannot fit in the " +
                           std::to_string(c_->remaining()) + " bytes left in the file");
    }
    out->array_type = elem;
    // Bytes are kept packed: they cost what they cost in the file, so no budget.
    if (elem == GgufValueType::kUint8 || elem == GgufValueType::kInt8) {
      out->bytes.resize(count);
      return c_->ReadBytes(out->bytes.data(), count, what);
    }
    if (count > elements_left_) {
      return UnimplementedError(what + ": metadata arrays hold more than " +
                                std::to_string(budget_) +
                                " elements in total, more than this reader takes from a file of " +
                                "this size (the memory they need grows 80x faster than the file)");
    }
    elements_left_ -= count;
    out->array_type = elem;
    out->array.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      TRITIUM_RETURN_IF_ERROR(ReadValue(elem_id, what + "[" + std::to_string(i) + "]",
                                        /*in_array=*/true, &out->array[i]));
    }
    return OkStatus();
  }

  Cursor* c_;
  uint64_t budget_;
  uint64_t elements_left_;
};

Status CheckVersion(uint32_t version) {
  if (version == 2 || version == 3) return OkStatus();
  const uint32_t swapped = __builtin_bswap32(version);
  if (swapped >= 1 && swapped <= 3) {
    return UnimplementedError("big-endian GGUF files are not supported (version field " +
                              std::to_string(version) + ")");
  }
  return UnimplementedError("GGUF version " + std::to_string(version) +
                            " is not supported (only versions 2 and 3)");
}

// ---------------------------------------------------------------------------------------------
// Writing

void Put(std::string* out, const void* p, size_t n) { out->append(static_cast<const char*>(p), n); }
template <typename T>
void PutInt(std::string* out, T v) {
  Put(out, &v, sizeof(v));
}
void PutString(std::string* out, const std::string& s) {
  PutInt<uint64_t>(out, s.size());
  out->append(s);
}

// Serializes `v` (type id is written by the caller), checking that it is well formed: hand-built
// values can name one type and hold another.
Status EncodeValue(const GgufValue& v, bool in_array, std::string* out) {
  const uint32_t id = static_cast<uint32_t>(v.type);
  if (id > kMaxValueType) {
    return InvalidArgumentError("unknown value type " + std::to_string(id));
  }
  if (IsInteger(v.type)) {
    TRITIUM_ASSIGN_OR_RETURN(__int128 x, IntegerOf(v));
    auto [lo, hi] = IntegerRange(v.type);
    if (x < lo || x > static_cast<__int128>(hi)) {
      return InvalidArgumentError(std::string("value ") + Int128ToString(x) +
                                  " does not fit in type " + GgufValueTypeName(v.type));
    }
    switch (v.type) {
      case GgufValueType::kUint8:
        PutInt(out, static_cast<uint8_t>(x));
        break;
      case GgufValueType::kInt8:
        PutInt(out, static_cast<int8_t>(x));
        break;
      case GgufValueType::kUint16:
        PutInt(out, static_cast<uint16_t>(x));
        break;
      case GgufValueType::kInt16:
        PutInt(out, static_cast<int16_t>(x));
        break;
      case GgufValueType::kUint32:
        PutInt(out, static_cast<uint32_t>(x));
        break;
      case GgufValueType::kInt32:
        PutInt(out, static_cast<int32_t>(x));
        break;
      case GgufValueType::kUint64:
        PutInt(out, static_cast<uint64_t>(x));
        break;
      default:
        PutInt(out, static_cast<int64_t>(x));
        break;
    }
    return OkStatus();
  }
  switch (v.type) {
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64: {
      const double* d = std::get_if<double>(&v.scalar);
      if (d == nullptr) {
        return InvalidArgumentError(std::string("value of type ") + GgufValueTypeName(v.type) +
                                    " does not hold a floating-point number");
      }
      if (v.type == GgufValueType::kFloat32) {
        PutInt(out, static_cast<float>(*d));
      } else {
        PutInt(out, *d);
      }
      return OkStatus();
    }
    case GgufValueType::kBool: {
      const bool* b = std::get_if<bool>(&v.scalar);
      if (b == nullptr) return InvalidArgumentError("value of type bool does not hold a bool");
      PutInt<uint8_t>(out, *b ? 1 : 0);
      return OkStatus();
    }
    case GgufValueType::kString: {
      const std::string* s = std::get_if<std::string>(&v.scalar);
      if (s == nullptr) return InvalidArgumentError("value of type string does not hold a string");
      PutString(out, *s);
      return OkStatus();
    }
    case GgufValueType::kArray: {
      if (in_array || v.array_type == GgufValueType::kArray) {
        return InvalidArgumentError("arrays of arrays are not supported");
      }
      const uint32_t elem_id = static_cast<uint32_t>(v.array_type);
      if (elem_id > kMaxValueType) {
        return InvalidArgumentError("unknown array element type " + std::to_string(elem_id));
      }
      PutInt<uint32_t>(out, elem_id);
      if (v.packed_bytes()) {
        PutInt<uint64_t>(out, v.bytes.size());
        out->append(v.bytes);
        return OkStatus();
      }
      PutInt<uint64_t>(out, v.array.size());
      for (size_t i = 0; i < v.array.size(); ++i) {
        const GgufValue& e = v.array[i];
        if (e.type != v.array_type) {
          return InvalidArgumentError("element " + std::to_string(i) + " has type " + Describe(e) +
                                      " in an array of " + GgufValueTypeName(v.array_type));
        }
        Status st = EncodeValue(e, /*in_array=*/true, out);
        if (!st.ok()) return st.WithPrefix("element " + std::to_string(i) + ": ");
      }
      return OkStatus();
    }
    default:
      return InternalError("unreachable");
  }
}

Status EncodeKeyValue(const std::string& key, const GgufValue& v, std::string* out) {
  PutString(out, key);
  PutInt<uint32_t>(out, static_cast<uint32_t>(v.type));
  Status st = EncodeValue(v, /*in_array=*/false, out);
  return st.WithPrefix("metadata key " + Quoted(key) + ": ");
}

}  // namespace

const char* GgufValueTypeName(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
      return "u8";
    case GgufValueType::kInt8:
      return "i8";
    case GgufValueType::kUint16:
      return "u16";
    case GgufValueType::kInt16:
      return "i16";
    case GgufValueType::kUint32:
      return "u32";
    case GgufValueType::kInt32:
      return "i32";
    case GgufValueType::kFloat32:
      return "f32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "string";
    case GgufValueType::kArray:
      return "array";
    case GgufValueType::kUint64:
      return "u64";
    case GgufValueType::kInt64:
      return "i64";
    case GgufValueType::kFloat64:
      return "f64";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// GgufValue

namespace {
GgufValue MakeScalar(GgufValueType t,
                     std::variant<uint64_t, int64_t, double, bool, std::string> s) {
  GgufValue v;
  v.type = t;
  v.scalar = std::move(s);
  return v;
}
}  // namespace

GgufValue GgufValue::U8(uint8_t v) { return MakeScalar(GgufValueType::kUint8, uint64_t{v}); }
GgufValue GgufValue::I8(int8_t v) { return MakeScalar(GgufValueType::kInt8, int64_t{v}); }
GgufValue GgufValue::U16(uint16_t v) { return MakeScalar(GgufValueType::kUint16, uint64_t{v}); }
GgufValue GgufValue::I16(int16_t v) { return MakeScalar(GgufValueType::kInt16, int64_t{v}); }
GgufValue GgufValue::U32(uint32_t v) { return MakeScalar(GgufValueType::kUint32, uint64_t{v}); }
GgufValue GgufValue::I32(int32_t v) { return MakeScalar(GgufValueType::kInt32, int64_t{v}); }
GgufValue GgufValue::U64(uint64_t v) { return MakeScalar(GgufValueType::kUint64, v); }
GgufValue GgufValue::I64(int64_t v) { return MakeScalar(GgufValueType::kInt64, v); }
GgufValue GgufValue::F32(float v) {
  return MakeScalar(GgufValueType::kFloat32, static_cast<double>(v));
}
GgufValue GgufValue::F64(double v) { return MakeScalar(GgufValueType::kFloat64, v); }
GgufValue GgufValue::Bool(bool v) { return MakeScalar(GgufValueType::kBool, v); }
GgufValue GgufValue::Str(std::string v) { return MakeScalar(GgufValueType::kString, std::move(v)); }

GgufValue GgufValue::Array(GgufValueType elem_type, std::vector<GgufValue> elements) {
  GgufValue v;
  v.type = GgufValueType::kArray;
  v.array_type = elem_type;
  v.array = std::move(elements);
  return v;
}

GgufValue GgufValue::StrArray(const std::vector<std::string>& v) {
  std::vector<GgufValue> e;
  e.reserve(v.size());
  for (const auto& s : v) e.push_back(Str(s));
  return Array(GgufValueType::kString, std::move(e));
}

GgufValue GgufValue::F32Array(const std::vector<float>& v) {
  std::vector<GgufValue> e;
  e.reserve(v.size());
  for (float f : v) e.push_back(F32(f));
  return Array(GgufValueType::kFloat32, std::move(e));
}

GgufValue GgufValue::I32Array(const std::vector<int32_t>& v) {
  std::vector<GgufValue> e;
  e.reserve(v.size());
  for (int32_t i : v) e.push_back(I32(i));
  return Array(GgufValueType::kInt32, std::move(e));
}

GgufValue GgufValue::U8Array(const std::string& bytes) {
  GgufValue v = Array(GgufValueType::kUint8, {});
  v.bytes = bytes;
  return v;
}

StatusOr<uint64_t> GgufValue::AsUint() const {
  if (!IsInteger(type)) {
    return InvalidArgumentError("expected an unsigned integer, found " + Describe(*this));
  }
  TRITIUM_ASSIGN_OR_RETURN(__int128 x, IntegerOf(*this));
  if (x < 0) {
    return InvalidArgumentError("expected an unsigned integer, found negative " +
                                std::string(GgufValueTypeName(type)) + " " + Int128ToString(x));
  }
  return static_cast<uint64_t>(x);
}

StatusOr<int64_t> GgufValue::AsInt() const {
  TRITIUM_ASSIGN_OR_RETURN(__int128 x, IntegerOf(*this));
  if (x > std::numeric_limits<int64_t>::max()) {
    return InvalidArgumentError("u64 value " + Int128ToString(x) + " does not fit in int64");
  }
  return static_cast<int64_t>(x);
}

StatusOr<double> GgufValue::AsFloat() const {
  if (IsFloat(type)) {
    if (const double* d = std::get_if<double>(&scalar)) return *d;
    return InvalidArgumentError(std::string("value of type ") + GgufValueTypeName(type) +
                                " does not hold a floating-point number");
  }
  if (!IsInteger(type)) return InvalidArgumentError("expected a number, found " + Describe(*this));
  TRITIUM_ASSIGN_OR_RETURN(__int128 x, IntegerOf(*this));
  return static_cast<double>(x);
}

StatusOr<bool> GgufValue::AsBool() const {
  const bool* b = type == GgufValueType::kBool ? std::get_if<bool>(&scalar) : nullptr;
  if (b == nullptr) return InvalidArgumentError("expected bool, found " + Describe(*this));
  return *b;
}

StatusOr<std::string> GgufValue::AsString() const {
  const std::string* s =
      type == GgufValueType::kString ? std::get_if<std::string>(&scalar) : nullptr;
  if (s == nullptr) return InvalidArgumentError("expected string, found " + Describe(*this));
  return *s;
}

StatusOr<std::vector<std::string>> GgufValue::AsStringArray() const {
  std::vector<GgufValue> scratch;
  TRITIUM_ASSIGN_OR_RETURN(const std::vector<GgufValue>* a,
                           ArrayOf(*this, "array of string", &scratch));
  if (array_type != GgufValueType::kString) {
    return InvalidArgumentError("expected array of string, found " + Describe(*this));
  }
  std::vector<std::string> out;
  out.reserve(a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    auto s = (*a)[i].AsString();
    if (!s.ok()) return s.status().WithPrefix("element " + std::to_string(i) + ": ");
    out.push_back(std::move(s).value());
  }
  return out;
}

StatusOr<std::vector<float>> GgufValue::AsFloatArray() const {
  std::vector<GgufValue> scratch;
  TRITIUM_ASSIGN_OR_RETURN(const std::vector<GgufValue>* a,
                           ArrayOf(*this, "array of numbers", &scratch));
  if (!IsFloat(array_type) && !IsInteger(array_type)) {
    return InvalidArgumentError("expected array of numbers, found " + Describe(*this));
  }
  std::vector<float> out;
  out.reserve(a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    auto f = (*a)[i].AsFloat();
    if (!f.ok()) return f.status().WithPrefix("element " + std::to_string(i) + ": ");
    out.push_back(static_cast<float>(*f));
  }
  return out;
}

StatusOr<std::vector<int32_t>> GgufValue::AsInt32Array() const {
  std::vector<GgufValue> scratch;
  TRITIUM_ASSIGN_OR_RETURN(const std::vector<GgufValue>* a,
                           ArrayOf(*this, "array of integers", &scratch));
  if (!IsInteger(array_type)) {
    return InvalidArgumentError("expected array of integers, found " + Describe(*this));
  }
  std::vector<int32_t> out;
  out.reserve(a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    auto x = IntegerOf((*a)[i]);
    if (!x.ok()) return x.status().WithPrefix("element " + std::to_string(i) + ": ");
    if (*x < std::numeric_limits<int32_t>::min() || *x > std::numeric_limits<int32_t>::max()) {
      return InvalidArgumentError("element " + std::to_string(i) + ": value " + Int128ToString(*x) +
                                  " does not fit in int32");
    }
    out.push_back(static_cast<int32_t>(*x));
  }
  return out;
}

StatusOr<std::string> GgufValue::AsBytes() const {
  if (packed_bytes()) return bytes;
  std::vector<GgufValue> scratch;
  TRITIUM_ASSIGN_OR_RETURN(const std::vector<GgufValue>* a,
                           ArrayOf(*this, "array of u8 or i8", &scratch));
  if (array_type != GgufValueType::kUint8 && array_type != GgufValueType::kInt8) {
    return InvalidArgumentError("expected array of u8 or i8, found " + Describe(*this));
  }
  std::string out;
  out.reserve(a->size());
  for (size_t i = 0; i < a->size(); ++i) {
    auto x = IntegerOf((*a)[i]);
    if (!x.ok()) return x.status().WithPrefix("element " + std::to_string(i) + ": ");
    if (*x < -128 || *x > 255) {
      return InvalidArgumentError("element " + std::to_string(i) + ": value " + Int128ToString(*x) +
                                  " is not a byte");
    }
    out.push_back(static_cast<char>(static_cast<uint8_t>(*x)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tensor sizes

StatusOr<uint64_t> GgmlTensorSize(const std::string& name, uint32_t type,
                                  const std::vector<uint64_t>& dims) {
  if (dims.empty() || dims.size() > kMaxDims) {
    return InvalidArgumentError("tensor " + Quoted(name) + " has " + std::to_string(dims.size()) +
                                " dimensions (must be 1.." + std::to_string(kMaxDims) + ")");
  }
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (!CheckedMul(n, d, &n)) {
      return DataLossError("tensor " + Quoted(name) + ": element count overflows 64 bits");
    }
  }
  uint64_t bytes = 0;
  bool ok = true;
  switch (type) {
    case kGgmlTypeF32:
      ok = CheckedMul(n, 4, &bytes);
      break;
    case kGgmlTypeF16:
    case kGgmlTypeBF16:
      ok = CheckedMul(n, 2, &bytes);
      break;
    case kGgmlTypeQ8_0:
      // A block is an fp16 scale and 32 int8 values taken along a row.
      if (dims[0] % 32 != 0) {
        return InvalidArgumentError("tensor " + Quoted(name) + " of type Q8_0 needs ne[0] to be " +
                                    "a multiple of 32, got " + std::to_string(dims[0]));
      }
      ok = CheckedMul(n / 32, 34, &bytes);
      break;
    default:
      return UnimplementedError("tensor " + Quoted(name) + " has unsupported ggml type id " +
                                std::to_string(type));
  }
  if (!ok) return DataLossError("tensor " + Quoted(name) + ": byte size overflows 64 bits");
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// GgufFile

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

StatusOr<const GgufValue*> GgufFile::Get(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return NotFoundError(path() + ": metadata key " + Quoted(key) + " not found");
  return v;
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path,
                                                   const GgufTensorSizeFn& size_fn) {
  TRITIUM_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  auto g = std::unique_ptr<GgufFile>(new GgufFile());
  g->file_ = std::move(mapped);
  const GgufTensorSizeFn sizer =
      size_fn ? size_fn
              : GgufTensorSizeFn([](const std::map<std::string, GgufValue>&, const std::string& n,
                                    uint32_t t, const std::vector<uint64_t>& d) {
                  return GgmlTensorSize(n, t, d);
                });
  const std::string prefix = path + ": ";
  const uint8_t* base = g->file_->data();
  const uint64_t file_size = g->file_->size();
  Cursor c(base, file_size);

  // Header.
  if (file_size < sizeof(kMagic)) {
    return DataLossError(prefix + "not a GGUF file: only " + std::to_string(file_size) + " bytes");
  }
  if (std::memcmp(base, kMagic, sizeof(kMagic)) != 0) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "%02x %02x %02x %02x", base[0], base[1], base[2], base[3]);
    return DataLossError(prefix + "not a GGUF file: magic bytes are " + hex +
                         ", expected 47 47 55 46 (\"GGUF\")");
  }
  char magic[4];
  Status st = c.Read(&magic, "magic");
  uint32_t version = 0;
  uint64_t tensor_count = 0, kv_count = 0;
  if (st.ok()) st = c.Read(&version, "version");
  if (st.ok()) st = CheckVersion(version);
  if (st.ok()) st = c.Read(&tensor_count, "tensor count");
  if (st.ok()) st = c.Read(&kv_count, "metadata count");
  if (!st.ok()) return st.WithPrefix(prefix);
  g->version_ = version;

  // Metadata. Each pair takes at least a key length, a type and one byte of value.
  if (kv_count > c.remaining() / 13) {
    return DataLossError(prefix + "metadata count " + std::to_string(kv_count) +
                         " cannot fit in the " + std::to_string(c.remaining()) +
                         " bytes left in the file");
  }
  MetadataReader values(&c, c.pos() + c.remaining());
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key;
    const uint64_t key_pos = c.pos();
    st = c.ReadString(&key, "metadata key " + std::to_string(i));
    if (!st.ok()) return st.WithPrefix(prefix);
    if (g->metadata_.count(key) != 0) {
      return DataLossError(prefix + "duplicate metadata key " + Quoted(key) + " at offset " +
                           std::to_string(key_pos));
    }
    const std::string what = "metadata key " + Quoted(key);
    uint32_t type_id = 0;
    GgufValue value;
    st = c.Read(&type_id, what + " value type");
    if (st.ok()) st = values.ReadValue(type_id, what, /*in_array=*/false, &value);
    if (!st.ok()) return st.WithPrefix(prefix);
    g->metadata_.emplace(std::move(key), std::move(value));
  }
  if (const GgufValue* a = g->Find(kAlignmentKey)) {
    auto align = a->AsUint();
    if (!align.ok()) return align.status().WithPrefix(prefix + kAlignmentKey + ": ");
    if (!IsPowerOfTwo(*align) || *align > std::numeric_limits<uint32_t>::max()) {
      return DataLossError(prefix + kAlignmentKey + " must be a power of two that fits in u32, " +
                           "got " + std::to_string(*align));
    }
    g->alignment_ = *align;
  }

  // Tensor infos. The smallest takes a name length, n_dims, one dim, a type and an offset.
  if (tensor_count > c.remaining() / 32) {
    return DataLossError(prefix + "tensor count " + std::to_string(tensor_count) +
                         " cannot fit in the " + std::to_string(c.remaining()) +
                         " bytes left in the file");
  }
  g->tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo t;
    st = c.ReadString(&t.name, "tensor " + std::to_string(i) + " name");
    if (!st.ok()) return st.WithPrefix(prefix);
    if (t.name.empty()) {
      return DataLossError(prefix + "tensor " + std::to_string(i) + " has an empty name");
    }
    if (g->tensor_index_.count(t.name) != 0) {
      return DataLossError(prefix + "duplicate tensor name " + Quoted(t.name));
    }
    const std::string what = "tensor " + Quoted(t.name);
    uint32_t n_dims = 0;
    st = c.Read(&n_dims, what + " n_dims");
    if (!st.ok()) return st.WithPrefix(prefix);
    if (n_dims < 1 || n_dims > kMaxDims) {
      return DataLossError(prefix + what + " has n_dims " + std::to_string(n_dims) +
                           " (must be 1.." + std::to_string(kMaxDims) + ")");
    }
    t.dims.resize(n_dims);
    for (uint32_t d = 0; d < n_dims && st.ok(); ++d) st = c.Read(&t.dims[d], what + " dims");
    if (st.ok()) st = c.Read(&t.type, what + " type");
    if (st.ok()) st = c.Read(&t.offset, what + " offset");
    if (!st.ok()) return st.WithPrefix(prefix);
    g->tensor_index_.emplace(t.name, g->tensors_.size());
    g->tensors_.push_back(std::move(t));
  }

  // Tensor data. The data section may be absent when no tensor has bytes in it.
  uint64_t data_start;
  if (!AlignUp(c.pos(), g->alignment_, &data_start)) {
    return InternalError(prefix + "data section offset overflows");  // pos <= size < 2^63
  }
  g->data_offset_ = data_start;
  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  ranges.reserve(g->tensors_.size());
  for (size_t i = 0; i < g->tensors_.size(); ++i) {
    GgufTensorInfo& t = g->tensors_[i];
    if (t.offset % g->alignment_ != 0) {
      return DataLossError(prefix + "tensor " + Quoted(t.name) + " offset " +
                           std::to_string(t.offset) + " is not a multiple of the alignment " +
                           std::to_string(g->alignment_));
    }
    auto nbytes = sizer(g->metadata_, t.name, t.type, t.dims);
    if (!nbytes.ok()) return nbytes.status().WithPrefix(prefix);
    t.nbytes = *nbytes;
    uint64_t begin, end;
    if (!CheckedAdd(data_start, t.offset, &begin) || !CheckedAdd(begin, t.nbytes, &end)) {
      return DataLossError(prefix + "tensor " + Quoted(t.name) + " data offset " +
                           std::to_string(t.offset) + " + size " + std::to_string(t.nbytes) +
                           " overflows 64 bits");
    }
    if (end > file_size) {
      return DataLossError(prefix + "tensor " + Quoted(t.name) + " data [" + std::to_string(begin) +
                           ".." + std::to_string(end) + ") runs past end of file (size " +
                           std::to_string(file_size) + ")");
    }
    t.data = base + begin;
    if (t.nbytes > 0) ranges.push_back({begin, end, i});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const Range& a = ranges[i - 1];
    const Range& b = ranges[i];
    // Sorted by start, so checking neighbours finds any overlap.
    if (b.begin < a.end) {
      return DataLossError(prefix + "tensor " + Quoted(g->tensors_[b.index].name) + " data [" +
                           std::to_string(b.begin) + ".." + std::to_string(b.end) +
                           ") overlaps tensor " + Quoted(g->tensors_[a.index].name) + " data [" +
                           std::to_string(a.begin) + ".." + std::to_string(a.end) + ")");
    }
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// GgufWriter

void GgufWriter::Set(const std::string& key, GgufValue value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::AddTensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type,
                           const void* data, uint64_t nbytes) {
  tensors_.push_back({name, std::move(dims), type, data, nbytes});
}

StatusOr<std::unique_ptr<GgufStreamWriter>> GgufWriter::Begin(const std::string& path) const {
  const std::string prefix = path + ": ";
  if (!IsPowerOfTwo(alignment_) || alignment_ > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgumentError(prefix + "alignment " + std::to_string(alignment_) +
                                " is not a power of two that fits in u32");
  }
  bool has_alignment_key = false;
  for (const auto& [key, value] : kv_) {
    if (key != kAlignmentKey) continue;
    has_alignment_key = true;
    auto a = value.AsUint();
    if (value.type != GgufValueType::kUint32 || !a.ok() || *a != alignment_) {
      return InvalidArgumentError(prefix + kAlignmentKey + " must be the u32 " +
                                  std::to_string(alignment_) + " given to set_alignment(), " +
                                  "found " + Describe(value));
    }
  }
  const bool add_alignment_key = !has_alignment_key && alignment_ != kGgufDefaultAlignment;

  // Tensors are checked before anything is written, except for their data pointers, which are
  // only read while copying.
  std::map<std::string, GgufValue> metadata;
  if (size_fn_) {
    for (const auto& [key, value] : kv_) metadata.emplace(key, value);
  }
  std::set<std::string> names;
  std::vector<uint64_t> offsets(tensors_.size());
  uint64_t data_size = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const PendingTensor& t = tensors_[i];
    const std::string what = "tensor " + Quoted(t.name);
    if (t.name.empty())
      return InvalidArgumentError(prefix + "tensor " + std::to_string(i) + " has an empty name");
    if (!names.insert(t.name).second) {
      return InvalidArgumentError(prefix + "duplicate tensor name " + Quoted(t.name));
    }
    if (t.dims.empty() || t.dims.size() > kMaxDims) {
      return InvalidArgumentError(prefix + what + " has " + std::to_string(t.dims.size()) +
                                  " dimensions (must be 1.." + std::to_string(kMaxDims) + ")");
    }
    const bool ggml_type = t.type == kGgmlTypeF32 || t.type == kGgmlTypeF16 ||
                           t.type == kGgmlTypeQ8_0 || t.type == kGgmlTypeBF16;
    if (size_fn_ || ggml_type) {
      auto expected =
          size_fn_ ? size_fn_(metadata, t.name, t.type, t.dims)
                   : GgmlTensorSize(t.name, t.type, t.dims);
      if (!expected.ok()) return expected.status().WithPrefix(prefix);
      if (*expected != t.nbytes) {
        return InvalidArgumentError(prefix + what + " has " + std::to_string(t.nbytes) +
                                    " bytes of data, its type and shape need " +
                                    std::to_string(*expected));
      }
    }
    if (!AlignUp(data_size, alignment_, &offsets[i]) ||
        !CheckedAdd(offsets[i], t.nbytes, &data_size)) {
      return InvalidArgumentError(prefix + "tensor data size overflows 64 bits");
    }
  }

  std::string head;
  head.append(kMagic, sizeof(kMagic));
  PutInt<uint32_t>(&head, kWriteVersion);
  PutInt<uint64_t>(&head, tensors_.size());
  PutInt<uint64_t>(&head, kv_.size() + (add_alignment_key ? 1 : 0));
  auto sw = std::unique_ptr<GgufStreamWriter>(new GgufStreamWriter());
  for (const auto& [key, value] : kv_) {
    Status st = EncodeKeyValue(key, value, &head);
    if (!st.ok()) return st.WithPrefix(prefix);
    if (value.type == GgufValueType::kUint64) sw->u64_offsets_[key] = head.size() - 8;
  }
  if (add_alignment_key) {
    TRITIUM_RETURN_IF_ERROR(
        EncodeKeyValue(kAlignmentKey, GgufValue::U32(static_cast<uint32_t>(alignment_)), &head));
  }
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const PendingTensor& t = tensors_[i];
    PutString(&head, t.name);
    PutInt<uint32_t>(&head, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) PutInt<uint64_t>(&head, d);
    PutInt<uint32_t>(&head, t.type);
    PutInt<uint64_t>(&head, offsets[i]);
  }

  TRITIUM_ASSIGN_OR_RETURN(sw->out_, AtomicFileWriter::Create(path));
  TRITIUM_RETURN_IF_ERROR(sw->out_->Write(head));
  TRITIUM_RETURN_IF_ERROR(sw->out_->PadTo(alignment_));
  sw->path_ = path;
  sw->data_start_ = sw->out_->offset();
  sw->file_size_ = sw->data_start_ + data_size;
  // Padding between tensors reads as zeros, as if written.
  TRITIUM_RETURN_IF_ERROR(sw->out_->Truncate(sw->file_size_));
  for (size_t i = 0; i < tensors_.size(); ++i) {
    sw->names_.push_back(tensors_[i].name);
    sw->offsets_.push_back(offsets[i]);
    sw->sizes_.push_back(tensors_[i].nbytes);
  }
  sw->written_.assign(tensors_.size(), false);
  return sw;
}

Status GgufWriter::Write(const std::string& path) const {
  for (const PendingTensor& t : tensors_) {
    if (t.data == nullptr && t.nbytes > 0) {
      return InvalidArgumentError(path + ": tensor " + Quoted(t.name) + " has " +
                                  std::to_string(t.nbytes) + " bytes but no data pointer");
    }
  }
  // The temporary file is removed when `sw` goes out of scope uncommitted.
  TRITIUM_ASSIGN_OR_RETURN(std::unique_ptr<GgufStreamWriter> sw, Begin(path));
  for (size_t i = 0; i < tensors_.size(); ++i) {
    TRITIUM_RETURN_IF_ERROR(sw->WriteTensor(i, tensors_[i].data, tensors_[i].nbytes));
  }
  return sw->Commit();
}

// ---------------------------------------------------------------------------------------------
// GgufStreamWriter

Status GgufStreamWriter::WriteTensor(size_t index, const void* data, uint64_t nbytes) {
  if (index >= names_.size()) return InternalError(path_ + ": no tensor #" + std::to_string(index));
  if (nbytes != sizes_[index]) {
    return InternalError(path_ + ": tensor " + Quoted(names_[index]) + " was declared with " +
                         std::to_string(sizes_[index]) + " bytes, given " +
                         std::to_string(nbytes));
  }
  TRITIUM_RETURN_IF_ERROR(out_->WriteAt(data_start_ + offsets_[index], data, nbytes));
  written_[index] = true;
  return OkStatus();
}

Status GgufStreamWriter::PatchU64(const std::string& key, uint64_t value) {
  auto it = u64_offsets_.find(key);
  if (it == u64_offsets_.end()) {
    return InternalError(path_ + ": metadata key " + Quoted(key) + " is not a u64 of this file");
  }
  return out_->WriteAt(it->second, &value, sizeof(value));
}

Status GgufStreamWriter::Commit() {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (!written_[i]) {
      return InternalError(path_ + ": tensor " + Quoted(names_[i]) + " was never written");
    }
  }
  return out_->Commit();
}

}  // namespace tritium
