// Score-driven BPE: llama2.c's tokenizer.bin and llama.cpp's "llama" (SentencePiece) vocabularies.
//
// The algorithm is llama2.c's: dummy-prefix " " token, one symbol per UTF-8 code point (byte
// fallback when the code point is not a piece), then repeatedly merge the adjacent pair whose
// concatenation is a piece with the highest score, leftmost on ties. llama2.c rescans the whole
// sequence for every merge (quadratic); here a heap with lazy invalidation picks the same pair at
// every step, so the result is identical but a 1 MB text takes a fraction of a second.
//
// The SentencePiece normalizer flags carried in TokenizerVocab are honoured: add_space_prefix
// (the dummy " ") and remove_extra_whitespaces (strip/collapse spaces). llama2.c itself always adds
// the prefix and never collapses, which is why tok512.bin under llama2.c differs from tok512.model
// (trained with remove_extra_whitespaces on) on text with double spaces; a tokenizer.bin therefore
// loads with remove_extra_whitespaces off, as llama2.c runs it.
//
// Deliberate differences from llama2.c, chosen to match SentencePiece (what the models saw):
// * Only normal and user-defined pieces take part in lookups and merges. llama2.c also finds
//   "<unk>", "<0x41>" etc. when that text occurs literally, and SentencePiece never does.
// * Byte-fallback symbols never merge (their "<0xAB>" text could only form other byte-like text).
// * Decode strips the dummy-prefix space of the first text piece whether or not BOS precedes it,
//   so that Decode(Encode(text, false)) == text, as SentencePiece does. llama2.c strips it only
//   right after BOS.
#include <cstring>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_internal.h"

namespace tritium::tokenizer_internal {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

class ScoreBpeTokenizer : public Tokenizer {
 public:
  explicit ScoreBpeTokenizer(TokenizerVocab vocab) : vocab_(std::move(vocab)) {
    const size_t n = vocab_.tokens.size();
    if (vocab_.scores.size() < n) vocab_.scores.resize(n, 0.0f);
    if (vocab_.token_types.size() < n) {
      // No types (not expected from GGUF): infer the usual SentencePiece ones.
      size_t old = vocab_.token_types.size();
      vocab_.token_types.resize(n, kTypeNormal);
      for (size_t i = old; i < n; ++i) {
        const std::string& t = vocab_.tokens[i];
        const auto id = static_cast<int32_t>(i);
        if (ParseBytePiece(t) >= 0) {
          vocab_.token_types[i] = kTypeByte;
        } else if (id == vocab_.unk_id) {
          vocab_.token_types[i] = kTypeUnknown;
        } else if (id == vocab_.bos_id || id == vocab_.eos_id) {
          vocab_.token_types[i] = kTypeControl;
        }
      }
    }
    text_.resize(n);
    lookup_.reserve(n * 2);
    for (int i = 0; i < static_cast<int>(n); ++i) {
      text_[i] = ReplaceAll(vocab_.tokens[i], kSpaceMarker, " ");
      int32_t type = vocab_.token_types[i];
      // On duplicate text the first id wins.
      if (type == kTypeNormal || type == kTypeUserDefined) lookup_.emplace(text_[i], i);
    }
    for (int b = 0; b < 256; ++b) byte_ids_[b] = -1;
    for (int i = 0; i < static_cast<int>(n); ++i) {
      if (vocab_.token_types[i] != kTypeByte) continue;
      int b = ParseBytePiece(vocab_.tokens[i]);
      if (b >= 0 && byte_ids_[b] < 0) byte_ids_[b] = i;
    }
    // llama2.c hard-codes byte fallback as id = byte + 3 (after <unk>, <s>, </s>).
    for (int b = 0; b < 256; ++b) {
      if (byte_ids_[b] < 0 && b + 3 < static_cast<int>(n)) byte_ids_[b] = b + 3;
    }
    auto it = lookup_.find(" ");
    space_id_ = it == lookup_.end() ? -1 : it->second;
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int32_t> out;
    if (add_bos && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
    std::string squeezed;
    if (vocab_.remove_extra_whitespaces) {
      // SentencePiece's normalizer: drop leading and trailing spaces, keep one of each run.
      for (char c : text) {
        if (c == ' ' && (squeezed.empty() || squeezed.back() == ' ')) continue;
        squeezed.push_back(c);
      }
      if (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
      text = squeezed;
    }
    if (text.empty()) return out;

    // Symbols form a doubly linked list over their initial positions, so the left index of a pair
    // orders pairs left to right even after merges.
    struct Symbol {
      int32_t id;
      int32_t prev, next;
      bool mergeable;
    };
    std::vector<Symbol> sym;
    sym.reserve(text.size() + 1);
    auto push = [&](int32_t id, bool mergeable) {
      int32_t idx = static_cast<int32_t>(sym.size());
      sym.push_back({id, idx - 1, idx + 1, mergeable});
    };
    if (vocab_.add_space_prefix && space_id_ >= 0) push(space_id_, true);
    std::string buf;
    for (size_t i = 0; i < text.size(); ++i) {
      buf.push_back(text[i]);
      // Same code point grouping as llama2.c: continuation bytes join, at most 4 bytes a symbol.
      if (i + 1 < text.size() && (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80 &&
          buf.size() < 4) {
        continue;
      }
      auto it = lookup_.find(buf);
      if (it != lookup_.end()) {
        push(it->second, true);
      } else {
        for (unsigned char c : buf) push(byte_ids_[c] >= 0 ? byte_ids_[c] : vocab_.unk_id, false);
      }
      buf.clear();
    }
    if (sym.empty()) return out;
    sym.back().next = -1;

    struct Pair {
      float score;
      int32_t left, right;
      int32_t left_id, right_id, merged_id;
    };
    auto worse = [](const Pair& a, const Pair& b) {
      if (a.score != b.score) return a.score < b.score;
      return a.left > b.left;
    };
    std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> heap(worse);
    std::string cat;
    auto try_pair = [&](int32_t l, int32_t r) {
      if (l < 0 || r < 0 || !sym[l].mergeable || !sym[r].mergeable) return;
      cat.assign(text_[sym[l].id]);
      cat.append(text_[sym[r].id]);
      auto it = lookup_.find(cat);
      if (it == lookup_.end()) return;
      heap.push({vocab_.scores[it->second], l, r, sym[l].id, sym[r].id, it->second});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) try_pair(i, i + 1);
    while (!heap.empty()) {
      Pair p = heap.top();
      heap.pop();
      Symbol& l = sym[p.left];
      // Stale if either side has been merged since the pair was queued.
      if (l.id != p.left_id || l.next != p.right || sym[p.right].id != p.right_id) continue;
      Symbol& r = sym[p.right];
      l.id = p.merged_id;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = p.left;
      r.id = -1;
      try_pair(l.prev, p.left);
      try_pair(p.left, l.next);
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
    return out;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    bool at_start = true;
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab_size()) continue;
      switch (vocab_.token_types[id]) {
        case kTypeControl:
        case kTypeUnused:
          break;
        case kTypeUnknown:
          out.append(" \xE2\x81\x87 ");  // SentencePiece's unknown surface, " ⁇ "
          at_start = false;
          break;
        case kTypeByte: {
          int b = ParseBytePiece(vocab_.tokens[id]);
          if (b >= 0) out.push_back(static_cast<char>(b));
          at_start = false;
          break;
        }
        default: {
          std::string_view piece = text_[id];
          if (at_start && vocab_.add_space_prefix && !piece.empty() && piece.front() == ' ') {
            piece.remove_prefix(1);
          }
          out.append(piece);
          at_start = false;
        }
      }
    }
    return out;
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.tokens.size()); }
  int32_t bos_id() const override { return vocab_.bos_id; }
  int32_t eos_id() const override { return vocab_.eos_id; }
  const TokenizerVocab& vocab() const override { return vocab_; }

 private:
  TokenizerVocab vocab_;
  std::vector<std::string> text_;  // pieces with real spaces
  std::unordered_map<std::string, int32_t> lookup_;
  int32_t byte_ids_[256];
  int32_t space_id_ = -1;
};

}  // namespace

int ParseBytePiece(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    char c = piece[i];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

StatusOr<std::unique_ptr<Tokenizer>> ScoreBpeFromVocab(TokenizerVocab vocab) {
  if (vocab.tokens.empty()) return InvalidArgumentError("llama vocabulary: no tokens");
  if (!vocab.scores.empty() && vocab.scores.size() != vocab.tokens.size()) {
    return InvalidArgumentError("llama vocabulary: " + std::to_string(vocab.scores.size()) +
                                " scores for " + std::to_string(vocab.tokens.size()) + " tokens");
  }
  if (!vocab.token_types.empty() && vocab.token_types.size() != vocab.tokens.size()) {
    return InvalidArgumentError("llama vocabulary: " + std::to_string(vocab.token_types.size()) +
                                " token types for " + std::to_string(vocab.tokens.size()) +
                                " tokens");
  }
  return std::unique_ptr<Tokenizer>(new ScoreBpeTokenizer(std::move(vocab)));
}

StatusOr<std::unique_ptr<Tokenizer>> Llama2cFromBytes(std::string bytes, int32_t vocab_size,
                                                      const std::string& name) {
  const std::string kind = name + ": llama2.c tokenizer: ";
  auto read_i32 = [&](size_t off) {
    int32_t v;
    std::memcpy(&v, bytes.data() + off, 4);
    return v;
  };
  if (bytes.size() < 4) return DataLossError(kind + "truncated (no max_token_length header)");
  const int32_t max_len = read_i32(0);
  // Real files have max_token_length 7..64; anything outside this is not a tokenizer.bin.
  if (max_len <= 0 || max_len > (1 << 16)) {
    return DataLossError(kind + "bad max_token_length " + std::to_string(max_len));
  }
  TokenizerVocab v;
  v.model = "llama";
  size_t off = 4;
  for (int32_t i = 0; vocab_size < 0 ? off < bytes.size() : i < vocab_size; ++i) {
    const std::string where = "token " + std::to_string(i);
    if (bytes.size() - off < 8) {
      return DataLossError(kind + "truncated at " + where +
                           (vocab_size >= 0 ? " of " + std::to_string(vocab_size) : ""));
    }
    float score;
    std::memcpy(&score, bytes.data() + off, 4);
    const int32_t len = read_i32(off + 4);
    off += 8;
    // llama2.c sizes its merge buffer from max_token_length, so longer pieces are corrupt.
    if (len < 0 || len > max_len) {
      return DataLossError(kind + where + " has length " + std::to_string(len) +
                           " (max_token_length " + std::to_string(max_len) + ")");
    }
    if (bytes.size() - off < static_cast<size_t>(len)) {
      return DataLossError(kind + "truncated inside " + where);
    }
    std::string piece = bytes.substr(off, len);
    off += len;
    int32_t type = kTypeNormal;
    if (ParseBytePiece(piece) >= 0) {
      type = kTypeByte;
    } else if (i == 0 && piece == "<unk>") {
      type = kTypeUnknown;
    } else if ((i == 1 && (piece == "\n<s>\n" || piece == "<s>")) ||
               (i == 2 && (piece == "\n</s>\n" || piece == "</s>"))) {
      // llama2.c writes BOS/EOS with newlines around them; llama.cpp spells them plainly.
      type = kTypeControl;
      piece = i == 1 ? "<s>" : "</s>";
    }
    if (type == kTypeNormal) piece = ReplaceAll(piece, " ", kSpaceMarker);
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.token_types.push_back(type);
  }
  if (v.tokens.empty()) return DataLossError(kind + "no tokens");
  if (off != bytes.size()) {
    return DataLossError(kind + std::to_string(bytes.size() - off) + " bytes left after " +
                         std::to_string(vocab_size) + " tokens: vocab_size mismatch");
  }
  const int32_t n = static_cast<int32_t>(v.tokens.size());
  // llama2.c hard-codes these ids.
  v.unk_id = 0;
  v.bos_id = n > 1 ? 1 : -1;
  v.eos_id = n > 2 ? 2 : -1;
  v.add_bos = true;
  v.source_kind = "llama2c";
  v.source_bytes = std::move(bytes);
  return std::unique_ptr<Tokenizer>(new ScoreBpeTokenizer(std::move(v)));
}

}  // namespace tritium::tokenizer_internal
