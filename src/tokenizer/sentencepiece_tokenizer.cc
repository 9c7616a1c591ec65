// SentencePiece tokenizer.model through libsentencepiece: the reference implementation itself, so
// ids are exactly what the model was trained with.
#include <sentencepiece_processor.h>

#include <cstring>
#include <string>
#include <vector>

#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_internal.h"

namespace tritium::tokenizer_internal {
namespace {

// What libsentencepiece's API does not expose, read straight from the ModelProto: piece types
// (there is no IsUserDefined()) and the normalizer flags that a rebuilt score-BPE tokenizer needs.
struct ProtoInfo {
  std::vector<int32_t> types;
  bool add_dummy_prefix = true;  // NormalizerSpec defaults
  bool remove_extra_whitespaces = true;
};

// Wire format: ModelProto {1: repeated SentencePiece {1: piece, 2: score, 3: type},
// 3: NormalizerSpec {3: add_dummy_prefix, 4: remove_extra_whitespaces}}. Returns false on anything
// unexpected; the caller then falls back to the API and to llama's settings.
bool ReadProtoInfo(const std::string& proto, ProtoInfo* info) {
  using Ptr = const uint8_t*;
  auto varint = [](Ptr& q, Ptr e, uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (q >= e) return false;
      uint8_t b = *q++;
      *v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  // Visits each field of a message: fn(field number, wire type, varint value, sub-range).
  auto for_each_field = [&](Ptr p, Ptr end, auto fn) {
    while (p < end) {
      uint64_t tag, v = 0;
      if (!varint(p, end, &tag)) return false;
      Ptr sb = nullptr, se = nullptr;
      switch (tag & 7) {
        case 0:
          if (!varint(p, end, &v)) return false;
          break;
        case 1:
          if (end - p < 8) return false;
          p += 8;
          break;
        case 5:
          if (end - p < 4) return false;
          p += 4;
          break;
        case 2:
          if (!varint(p, end, &v) || v > static_cast<uint64_t>(end - p)) return false;
          sb = p;
          p += v;
          se = p;
          break;
        default:
          return false;
      }
      if (!fn(tag >> 3, static_cast<int>(tag & 7), v, sb, se)) return false;
    }
    return true;
  };
  info->types.clear();
  auto begin = reinterpret_cast<Ptr>(proto.data());
  return for_each_field(
      begin, begin + proto.size(), [&](uint64_t field, int wire, uint64_t, Ptr sb, Ptr se) {
        if (field == 1 && wire == 2) {
          int32_t type = kTypeNormal;  // proto default
          bool ok = for_each_field(sb, se, [&](uint64_t f, int w, uint64_t v, Ptr, Ptr) {
            if (f == 3 && w == 0) type = static_cast<int32_t>(v);
            return true;
          });
          info->types.push_back(type);
          return ok;
        }
        if (field == 3 && wire == 2) {
          return for_each_field(sb, se, [&](uint64_t f, int w, uint64_t v, Ptr, Ptr) {
            if (f == 3 && w == 0) info->add_dummy_prefix = v != 0;
            if (f == 4 && w == 0) info->remove_extra_whitespaces = v != 0;
            return true;
          });
        }
        return true;
      });
}

class SentencePieceTokenizer : public Tokenizer {
 public:
  static StatusOr<std::unique_ptr<Tokenizer>> Create(std::string bytes, const std::string& name) {
    auto t = std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer());
    sentencepiece::util::Status st;
    try {
      // The library reports most bad models as a Status, but its trie builder throws on some (an
      // empty piece: "zero-length key", found by fuzz/tokenizer_sentencepiece_fuzz.cc).
      st = t->sp_.LoadFromSerializedProto(bytes);
    } catch (const std::exception& e) {
      return DataLossError(name + ": cannot load SentencePiece model: " + e.what());
    }
    if (!st.ok()) {
      return DataLossError(name + ": cannot load SentencePiece model: " + st.ToString());
    }
    TokenizerVocab& v = t->vocab_;
    const int n = t->sp_.GetPieceSize();
    ProtoInfo info;
    const bool proto_ok = ReadProtoInfo(bytes, &info);
    const bool have_types = proto_ok && info.types.size() == static_cast<size_t>(n);
    const std::vector<int32_t>& proto_types = info.types;
    v.model = "llama";
    v.tokens.reserve(n);
    for (int i = 0; i < n; ++i) {
      v.tokens.push_back(t->sp_.IdToPiece(i));
      v.scores.push_back(t->sp_.GetScore(i));
      int32_t type = kTypeNormal;
      if (have_types && proto_types[i] >= kTypeNormal && proto_types[i] <= kTypeByte) {
        type = proto_types[i];
      } else if (t->sp_.IsUnknown(i)) {
        type = kTypeUnknown;
      } else if (t->sp_.IsControl(i)) {
        type = kTypeControl;
      } else if (t->sp_.IsUnused(i)) {
        type = kTypeUnused;
      } else if (t->sp_.IsByte(i)) {
        type = kTypeByte;
      }
      v.token_types.push_back(type);
    }
    v.bos_id = t->sp_.bos_id();
    v.eos_id = t->sp_.eos_id();
    v.unk_id = t->sp_.unk_id();
    v.pad_id = t->sp_.pad_id();
    v.add_bos = true;
    if (proto_ok) {
      v.add_space_prefix = info.add_dummy_prefix;
      v.remove_extra_whitespaces = info.remove_extra_whitespaces;
    }
    v.source_kind = "sentencepiece";
    v.source_bytes = std::move(bytes);
    return std::unique_ptr<Tokenizer>(std::move(t));
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int> ids;
    // Encode only fails on an unloaded model, which Create() rules out.
    (void)sp_.Encode(absl::string_view(text.data(), text.size()), &ids);
    std::vector<int32_t> out;
    out.reserve(ids.size() + 1);
    if (add_bos && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    // libsentencepiece aborts on out-of-range ids; drop them instead.
    std::vector<int> valid;
    valid.reserve(ids.size());
    for (int32_t id : ids) {
      if (id >= 0 && id < vocab_size()) valid.push_back(id);
    }
    return sp_.DecodeIds(valid);
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.tokens.size()); }
  int32_t bos_id() const override { return vocab_.bos_id; }
  int32_t eos_id() const override { return vocab_.eos_id; }
  const TokenizerVocab& vocab() const override { return vocab_; }

 private:
  SentencePieceTokenizer() = default;
  sentencepiece::SentencePieceProcessor sp_;
  TokenizerVocab vocab_;
};

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> SentencePieceFromBytes(std::string bytes,
                                                            const std::string& name) {
  return SentencePieceTokenizer::Create(std::move(bytes), name);
}

}  // namespace tritium::tokenizer_internal
