#include "src/io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "src/base/fp16.h"
#include "src/io/json.h"

namespace tritium {

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const char* StDtypeName(StDtype d) {
  switch (d) {
    case StDtype::kF32: return "F32";
    case StDtype::kF16: return "F16";
    case StDtype::kBF16: return "BF16";
  }
  return "?";
}

const StTensor* SafetensorsSet::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Status SafetensorsSet::AddFile(const std::string& path) {
  TRITIUM_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  const uint8_t* base = file->data();
  const uint64_t size = file->size();
  if (size < 8) return DataLossError(path + ": truncated safetensors file (" +
                                     std::to_string(size) + " bytes, no header)");
  uint64_t header_len;
  std::memcpy(&header_len, base, 8);
  if (header_len > size - 8) {
    return DataLossError(path + ": header length " + std::to_string(header_len) +
                         " exceeds file size " + std::to_string(size));
  }
  auto parsed = ParseJson(std::string_view(reinterpret_cast<const char*>(base) + 8, header_len),
                          path + ": header");
  if (!parsed.ok()) return parsed.status();
  nlohmann::json header = std::move(parsed).value();
  if (!header.is_object()) {
    return DataLossError(path + ": header is not a JSON object");
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  struct Range {
    uint64_t b, e;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto& item : header.items()) {
    // Named copies rather than a structured binding, which lambdas may capture only since
    // clang 16 (the fuzz build uses clang).
    const std::string name = item.key();
    nlohmann::json& info = item.value();
    if (name == "__metadata__") continue;
    auto bad = [&](const std::string& what) {
      return DataLossError(path + ": tensor '" + name + "': " + what);
    };
    if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") ||
        !info.contains("data_offsets")) {
      return bad("entry lacks dtype, shape or data_offsets");
    }
    if (!info["dtype"].is_string()) return bad("dtype is not a string");
    std::string dt = info["dtype"].get<std::string>();
    StTensor t;
    t.name = name;
    t.file = path;
    size_t esize;
    if (dt == "F32") {
      t.dtype = StDtype::kF32;
      esize = 4;
    } else if (dt == "F16") {
      t.dtype = StDtype::kF16;
      esize = 2;
    } else if (dt == "BF16") {
      t.dtype = StDtype::kBF16;
      esize = 2;
    } else {
      return UnimplementedError(path + ": tensor '" + name + "': unsupported dtype " + dt +
                                " (supported: F32, F16, BF16)");
    }
    auto& shape = info["shape"];
    auto& offs = info["data_offsets"];
    if (!shape.is_array() || shape.size() > 8) return bad("bad shape");
    uint64_t numel = 1;
    for (auto& d : shape) {
      if (!d.is_number_unsigned()) return bad("shape has a non-integer or negative entry");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t{1} << 50) / v) return bad("shape too large");
      numel *= v;
      t.shape.push_back(static_cast<int64_t>(v));
    }
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() ||
        !offs[1].is_number_unsigned()) {
      return bad("data_offsets must be two unsigned integers");
    }
    uint64_t b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
    if (b > e || e > data_size) {
      return bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                 ") lie outside the data section of " + std::to_string(data_size) + " bytes");
    }
    if (e - b != numel * esize) {
      return bad("data_offsets span " + std::to_string(e - b) + " bytes but shape and dtype need " +
                 std::to_string(numel * esize));
    }
    t.data = base + data_start + b;
    t.nbytes = e - b;
    if (tensors_.count(name)) return bad("appears in more than one file");
    ranges.push_back({b, e, name});
    tensors_[name] = std::move(t);
  }
  std::sort(ranges.begin(), ranges.end(), [](auto& x, auto& y) { return x.b < y.b; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].b < ranges[i - 1].e) {
      return DataLossError(path + ": tensors '" + ranges[i - 1].name + "' and '" + ranges[i].name +
                           "' overlap");
    }
  }
  files_.push_back(std::move(file));
  return OkStatus();
}

StatusOr<std::unique_ptr<SafetensorsSet>> SafetensorsSet::Open(const std::string& path) {
  auto set = std::unique_ptr<SafetensorsSet>(new SafetensorsSet());
  if (!IsDirectory(path)) {
    TRITIUM_RETURN_IF_ERROR(set->AddFile(path));
    return set;
  }
  std::string single = JoinPath(path, "model.safetensors");
  std::string index = JoinPath(path, "model.safetensors.index.json");
  if (FileExists(index)) {
    TRITIUM_ASSIGN_OR_RETURN(std::string text, ReadFileToString(index));
    TRITIUM_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, index));
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      return DataLossError(index + ": not a valid index (no weight_map object)");
    }
    std::set<std::string> shards;
    for (auto& [name, shard] : j["weight_map"].items()) {
      if (!shard.is_string()) return DataLossError(index + ": weight_map['" + name + "'] is not a string");
      std::string s = shard.get<std::string>();
      if (s.find('/') != std::string::npos) return DataLossError(index + ": shard name '" + s + "' has a path");
      shards.insert(s);
    }
    for (const auto& s : shards) TRITIUM_RETURN_IF_ERROR(set->AddFile(JoinPath(path, s)));
    for (auto& [name, shard] : j["weight_map"].items()) {
      const StTensor* t = set->Find(name);
      if (t == nullptr) {
        return DataLossError(index + ": tensor '" + name + "' is listed for " +
                             shard.get<std::string>() + " but not found there");
      }
    }
    return set;
  }
  if (FileExists(single)) {
    TRITIUM_RETURN_IF_ERROR(set->AddFile(single));
    return set;
  }
  return NotFoundError(path + ": no model.safetensors or model.safetensors.index.json");
}

StatusOr<std::vector<float>> StTensorToF32(const StTensor& t, bool require_finite) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const uint8_t* p = t.data;
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t h;
    switch (t.dtype) {
      case StDtype::kF32: std::memcpy(&out[i], p + 4 * i, 4); break;
      case StDtype::kF16: std::memcpy(&h, p + 2 * i, 2); out[i] = F16ToF32(h); break;
      case StDtype::kBF16: std::memcpy(&h, p + 2 * i, 2); out[i] = Bf16ToF32(h); break;
    }
    if (require_finite && !std::isfinite(out[i])) {
      return DataLossError(t.file + ": tensor '" + t.name + "' has a non-finite value at index " +
                           std::to_string(i));
    }
  }
  return out;
}

}  // namespace tritium
