// Byte-level BPE: Hugging Face tokenizer.json (Qwen2/Qwen3, Llama-3, GPT-2 style) and llama.cpp's
// "gpt2" vocabularies.
//
// Pipeline, as in the `tokenizers` library: added tokens are cut out of the raw text first
// (leftmost, longest at a position); every other segment is normalized (NFC etc. via utf8proc),
// split by the pre-tokenizer regexes (PCRE2, UTF + UCP), mapped to GPT-2's byte alphabet, and
// BPE-merged by merge rank. Results are cached per pre-token word, since natural text repeats words
// heavily.
//
// Not supported (refused by name at load time, never silently wrong): model types other than BPE,
// normalizers other than NFC/NFD/NFKC/NFKD (and Sequences of them), pre-tokenizers other than
// Split/ByteLevel (and Sequences of them), Split with invert or "Contiguous", BPE dropout,
// continuing_subword_prefix / end_of_word_suffix, Roberta/Bert post-processors.
// Approximations for added tokens (none matter for Qwen or Llama-3, whose added tokens have all
// flags false): tokens with normalized=true are matched on the raw text rather than on the
// normalized text; lstrip/rstrip/single_word treat only ASCII whitespace as whitespace and ASCII
// letters/digits, '_' and any non-ASCII byte as word characters.
// Decode returns the raw bytes; `tokenizers` would replace invalid UTF-8 with U+FFFD.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/io/json.h"
#include "src/tokenizer/tokenizer.h"
#include "src/tokenizer/tokenizer_internal.h"

namespace tritium::tokenizer_internal {
namespace {

using json = nlohmann::json;

// The pre-tokenizer regexes llama.cpp knows by name (its tokenizer.ggml.pre).
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|)"
    R"(\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+)"
    R"([\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// A compiled PCRE2 pattern. Matching is thread-safe (match data is per call).
class Regex {
 public:
  static StatusOr<std::shared_ptr<Regex>> Compile(const std::string& pattern, bool literal) {
    // PCRE2 refuses UCP together with LITERAL, and a literal needs no character classes anyway.
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    // Invalid UTF-8 in the input then simply never matches (it lands in a gap piece) instead of
    // making pcre2_match fail; it also skips the per-call UTF check, which is O(n) per match.
    opts |= PCRE2_MATCH_INVALID_UTF;
    int err = 0;
    PCRE2_SIZE err_off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     opts, &err, &err_off, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return InvalidArgumentError("cannot compile pre-tokenizer regex at offset " +
                                  std::to_string(err_off) + ": " +
                                  reinterpret_cast<const char*>(msg));
    }
    // JIT is an optimization only; the interpreter gives the same matches.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    auto re = std::shared_ptr<Regex>(new Regex());
    re->code_ = code;
    re->pattern_ = pattern;
    return re;
  }
  ~Regex() { pcre2_code_free(code_); }
  const std::string& pattern() const { return pattern_; }

  // Calls fn(begin, end) for every non-empty match, left to right, non-overlapping.
  template <typename F>
  void ForEachMatch(std::string_view s, F fn) const {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_, nullptr);
    size_t pos = 0;
    while (pos < s.size()) {
      int rc =
          pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, 0, md, nullptr);
      if (rc < 0) break;
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t b = ov[0], e = ov[1];
      if (e > b) {
        fn(b, e);
        pos = e;
      } else {
        // An empty match: step over one code point so the loop always advances.
        pos = b + 1;
        while (pos < s.size() && (static_cast<uint8_t>(s[pos]) & 0xC0) == 0x80) ++pos;
      }
    }
    pcre2_match_data_free(md);
  }

 private:
  Regex() = default;
  pcre2_code* code_ = nullptr;
  std::string pattern_;
};

enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };

struct PreStep {
  enum Kind { kSplit, kByteLevel } kind = kSplit;
  std::shared_ptr<Regex> re;  // kSplit, or kByteLevel with use_regex
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool add_prefix_space = false;  // kByteLevel
};

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// Everything a ByteBpeTokenizer is built from, whichever the source.
struct ByteBpeSpec {
  std::unordered_map<std::string, int32_t> vocab;  // byte-level strings
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<AddedToken> added;
  int utf8proc_options = 0;  // 0: no normalizer
  std::vector<PreStep> steps;
  bool ignore_merges = false;
  std::string unk_token;
  TokenizerVocab meta;  // pre, special ids, add_bos, source; tokens/types/merges filled if empty
};

// GPT-2's reversible byte -> code point table: printable Latin-1 bytes map to themselves, the rest
// to 256, 257, ... in byte order, so no byte becomes whitespace or a control character.
struct ByteTable {
  uint32_t to_cp[256];
  int16_t from_cp[512];
  std::string to_utf8[256];
  ByteTable() {
    std::fill(std::begin(from_cp), std::end(from_cp), static_cast<int16_t>(-1));
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      to_cp[b] = printable ? b : next++;
      from_cp[to_cp[b]] = static_cast<int16_t>(b);
      uint8_t buf[4];
      auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(to_cp[b]), buf);
      to_utf8[b].assign(reinterpret_cast<char*>(buf), n);
    }
  }
};

const ByteTable& Bytes() {
  static const ByteTable* t = new ByteTable();
  return *t;
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsWordByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
         u == '_';
}

class ByteBpeTokenizer : public Tokenizer {
 public:
  static StatusOr<std::unique_ptr<Tokenizer>> Create(ByteBpeSpec spec, const std::string& name) {
    auto t = std::unique_ptr<ByteBpeTokenizer>(new ByteBpeTokenizer());
    TRITIUM_RETURN_IF_ERROR(t->Init(std::move(spec), name));
    return std::unique_ptr<Tokenizer>(std::move(t));
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_bos) const override {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (add_bos && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
    size_t seg_begin = 0, i = 0;
    while (i < text.size()) {
      const auto& cands = added_by_first_[static_cast<unsigned char>(text[i])];
      const AddedToken* hit = nullptr;
      for (const AddedToken* a : cands) {  // longest first
        if (text.compare(i, a->content.size(), a->content) == 0) {
          hit = a;
          break;
        }
      }
      if (hit == nullptr) {
        ++i;
        continue;
      }
      size_t b = i, e = i + hit->content.size();
      if (hit->single_word &&
          ((b > 0 && IsWordByte(text[b - 1])) || (e < text.size() && IsWordByte(text[e])))) {
        i = e;  // like an Aho-Corasick scan, a discarded match still consumes its span
        continue;
      }
      if (hit->lstrip) {
        while (b > seg_begin && IsAsciiSpace(text[b - 1])) --b;
      }
      if (hit->rstrip) {
        while (e < text.size() && IsAsciiSpace(text[e])) ++e;
      }
      EncodeSegment(text.substr(seg_begin, b - seg_begin), &out);
      out.push_back(hit->id);
      seg_begin = i = e;
    }
    EncodeSegment(text.substr(seg_begin), &out);
    return out;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string out;
    for (int32_t id : ids) {
      if (id >= 0 && id < vocab_size()) out.append(id_bytes_[id]);
    }
    return out;
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.tokens.size()); }
  int32_t bos_id() const override { return vocab_.bos_id; }
  int32_t eos_id() const override { return vocab_.eos_id; }
  const TokenizerVocab& vocab() const override { return vocab_; }

 private:
  ByteBpeTokenizer() = default;

  Status Init(ByteBpeSpec spec, const std::string& name) {
    const ByteTable& bt = Bytes();
    vocab_ = std::move(spec.meta);
    vocab_.model = "gpt2";
    vocab_map_ = std::move(spec.vocab);
    added_ = std::move(spec.added);
    utf8proc_options_ = spec.utf8proc_options;
    steps_ = std::move(spec.steps);
    ignore_merges_ = spec.ignore_merges;

    int32_t max_id = -1;
    for (const auto& [s, id] : vocab_map_) {
      if (id < 0) return DataLossError(name + ": negative id for token '" + s + "'");
      max_id = std::max(max_id, id);
    }
    for (const AddedToken& a : added_) {
      if (a.id < 0) {
        return DataLossError(name + ": negative id for added token '" + a.content + "'");
      }
      if (a.content.empty()) return DataLossError(name + ": empty added token");
      max_id = std::max(max_id, a.id);
    }
    if (max_id < 0) return DataLossError(name + ": empty vocabulary");
    // Ids index dense tables; a corrupt id must not turn into a multi-gigabyte allocation.
    if (max_id >= (1 << 24)) {
      return DataLossError(name + ": token id " + std::to_string(max_id) + " is out of range");
    }
    const size_t n = static_cast<size_t>(max_id) + 1;

    // Token strings and types, llama.cpp style, unless the caller already has them (GGUF).
    const bool fill_meta = vocab_.tokens.empty();
    if (fill_meta) {
      vocab_.tokens.assign(n, std::string());
      vocab_.token_types.assign(n, kTypeUnused);
      for (size_t i = 0; i < n; ++i) vocab_.tokens[i] = "[PAD" + std::to_string(i) + "]";
      for (const auto& [s, id] : vocab_map_) {
        vocab_.tokens[id] = s;
        vocab_.token_types[id] = kTypeNormal;
      }
      for (const AddedToken& a : added_) {
        vocab_.tokens[a.id] = a.content;
        vocab_.token_types[a.id] = a.special ? kTypeControl : kTypeUserDefined;
      }
    } else if (vocab_.tokens.size() < n || vocab_.token_types.size() != vocab_.tokens.size()) {
      return InvalidArgumentError(name + ": token list does not cover the vocabulary");
    }

    // Decoded bytes per id: added tokens are literal text, the rest go back through the table.
    id_bytes_.assign(vocab_.tokens.size(), std::string());
    for (const auto& [s, id] : vocab_map_) {
      std::string& dst = id_bytes_[id];
      utf8proc_int32_t cp;
      for (size_t p = 0; p < s.size();) {
        auto len =
            utf8proc_iterate(reinterpret_cast<const uint8_t*>(s.data()) + p, s.size() - p, &cp);
        if (len <= 0) {  // not valid UTF-8: keep the byte as it is
          dst.push_back(s[p++]);
          continue;
        }
        if (cp >= 0 && cp < 512 && bt.from_cp[cp] >= 0) {
          dst.push_back(static_cast<char>(bt.from_cp[cp]));
        } else {
          dst.append(s, p, len);
        }
        p += len;
      }
    }
    for (const AddedToken& a : added_) id_bytes_[a.id] = a.content;

    for (int b = 0; b < 256; ++b) {
      auto it = vocab_map_.find(bt.to_utf8[b]);
      byte_ids_[b] = it == vocab_map_.end() ? -1 : it->second;
    }
    if (!spec.unk_token.empty()) {
      auto it = vocab_map_.find(spec.unk_token);
      if (it != vocab_map_.end()) unk_id_ = it->second;
    }

    merges_.reserve(spec.merges.size() * 2);
    std::string cat;
    for (size_t r = 0; r < spec.merges.size(); ++r) {
      const auto& [a, b] = spec.merges[r];
      auto ia = vocab_map_.find(a), ib = vocab_map_.find(b);
      cat = a + b;
      auto iab = vocab_map_.find(cat);
      if (ia == vocab_map_.end() || ib == vocab_map_.end() || iab == vocab_map_.end()) {
        return DataLossError(name + ": merge " + std::to_string(r) + " '" + a + " " + b +
                             "' uses a token missing from the vocabulary");
      }
      // A repeated pair keeps its first (best) rank.
      merges_.emplace(PairKey(ia->second, ib->second),
                      std::make_pair(static_cast<int32_t>(r), iab->second));
    }
    if (fill_meta) {
      vocab_.merges.clear();
      vocab_.merges.reserve(spec.merges.size());
      for (const auto& [a, b] : spec.merges) vocab_.merges.push_back(a + " " + b);
    }

    for (const AddedToken& a : added_) {
      added_by_first_[static_cast<unsigned char>(a.content[0])].push_back(&a);
    }
    for (auto& v : added_by_first_) {
      std::stable_sort(v.begin(), v.end(), [](const AddedToken* x, const AddedToken* y) {
        return x->content.size() > y->content.size();
      });
    }
    return OkStatus();
  }

  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  void EncodeSegment(std::string_view seg, std::vector<int32_t>* out) const {
    if (seg.empty()) return;
    std::string normalized;
    if (utf8proc_options_ != 0) {
      // ASCII is invariant under every Unicode normalization form.
      bool ascii = std::all_of(seg.begin(), seg.end(),
                               [](char c) { return static_cast<unsigned char>(c) < 0x80; });
      if (!ascii) {
        utf8proc_uint8_t* dst = nullptr;
        auto len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(seg.data()),
                                static_cast<utf8proc_ssize_t>(seg.size()), &dst,
                                static_cast<utf8proc_option_t>(utf8proc_options_));
        // Invalid UTF-8 cannot be normalized; it is tokenized as it is, byte by byte.
        if (len >= 0) {
          normalized.assign(reinterpret_cast<char*>(dst), len);
          seg = normalized;
        }
        std::free(dst);
      }
    }
    std::deque<std::string> storage;  // pieces that gained a prefix space
    std::vector<std::string_view> pieces{seg}, next;
    for (const PreStep& step : steps_) {
      next.clear();
      for (std::string_view p : pieces) {
        if (step.kind == PreStep::kByteLevel && step.add_prefix_space && p.front() != ' ') {
          storage.emplace_back(1, ' ');
          storage.back().append(p);
          p = storage.back();
        }
        if (step.re == nullptr) {
          next.push_back(p);
          continue;
        }
        size_t prev = 0;
        const SplitBehavior beh =
            step.kind == PreStep::kByteLevel ? SplitBehavior::kIsolated : step.behavior;
        step.re->ForEachMatch(p, [&](size_t b, size_t e) {
          switch (beh) {
            case SplitBehavior::kIsolated:
              if (b > prev) next.push_back(p.substr(prev, b - prev));
              next.push_back(p.substr(b, e - b));
              prev = e;
              break;
            case SplitBehavior::kRemoved:
              if (b > prev) next.push_back(p.substr(prev, b - prev));
              prev = e;
              break;
            case SplitBehavior::kMergedWithPrevious:
              next.push_back(p.substr(prev, e - prev));
              prev = e;
              break;
            case SplitBehavior::kMergedWithNext:
              if (b > prev) next.push_back(p.substr(prev, b - prev));
              prev = b;
              break;
          }
        });
        if (prev < p.size()) next.push_back(p.substr(prev));
      }
      pieces.swap(next);
    }
    for (std::string_view w : pieces) EncodeWord(w, out);
  }

  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
    if (word.empty()) return;
    std::string key(word);
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) {
        out->insert(out->end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids = Bpe(word);
    out->insert(out->end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mu_);
    // Bounded so that a long-running process does not grow without limit.
    if (cache_.size() >= kMaxCache) cache_.clear();
    cache_.emplace(std::move(key), std::move(ids));
  }

  std::vector<int32_t> Bpe(std::string_view word) const {
    std::vector<int32_t> ids;
    if (ignore_merges_) {
      std::string bl;
      for (unsigned char c : word) bl.append(Bytes().to_utf8[c]);
      auto it = vocab_map_.find(bl);
      if (it != vocab_map_.end()) return {it->second};
    }
    struct Symbol {
      int32_t id;
      int32_t prev, next;
    };
    std::vector<Symbol> sym;
    sym.reserve(word.size());
    for (unsigned char c : word) {
      int32_t id = byte_ids_[c] >= 0 ? byte_ids_[c] : unk_id_;
      if (id < 0) continue;  // `tokenizers` drops characters it cannot represent
      int32_t idx = static_cast<int32_t>(sym.size());
      sym.push_back({id, idx - 1, idx + 1});
    }
    if (sym.empty()) return ids;
    sym.back().next = -1;

    // Lowest rank first, then leftmost, with lazy invalidation: the same order as `tokenizers`.
    struct Merge {
      int32_t rank, pos, new_id;
    };
    auto worse = [](const Merge& a, const Merge& b) {
      if (a.rank != b.rank) return a.rank > b.rank;
      return a.pos > b.pos;
    };
    std::priority_queue<Merge, std::vector<Merge>, decltype(worse)> heap(worse);
    auto push_pair = [&](int32_t l) {
      if (l < 0 || sym[l].next < 0) return;
      auto it = merges_.find(PairKey(sym[l].id, sym[sym[l].next].id));
      if (it != merges_.end()) heap.push({it->second.first, l, it->second.second});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) push_pair(i);
    while (!heap.empty()) {
      Merge m = heap.top();
      heap.pop();
      Symbol& l = sym[m.pos];
      if (l.id < 0 || l.next < 0) continue;
      auto it = merges_.find(PairKey(l.id, sym[l.next].id));
      if (it == merges_.end() || it->second.second != m.new_id) continue;  // stale entry
      Symbol& r = sym[l.next];
      l.id = m.new_id;
      l.next = r.next;
      if (r.next >= 0) sym[r.next].prev = m.pos;
      r.id = -1;
      push_pair(l.prev);
      push_pair(m.pos);
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) ids.push_back(sym[i].id);
    return ids;
  }

  static constexpr size_t kMaxCache = 1 << 18;

  TokenizerVocab vocab_;
  std::unordered_map<std::string, int32_t> vocab_map_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // -> (rank, merged id)
  std::vector<AddedToken> added_;
  std::vector<const AddedToken*> added_by_first_[256];
  std::vector<std::string> id_bytes_;
  int32_t byte_ids_[256] = {};
  int32_t unk_id_ = -1;
  int utf8proc_options_ = 0;
  std::vector<PreStep> steps_;
  bool ignore_merges_ = false;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// ---- tokenizer.json ----

int NormalizerOptions(const std::string& type) {
  const int base = UTF8PROC_STABLE;
  if (type == "NFC") return base | UTF8PROC_COMPOSE;
  if (type == "NFD") return base | UTF8PROC_DECOMPOSE;
  if (type == "NFKC") return base | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  if (type == "NFKD") return base | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  return -1;
}

Status ParseNormalizer(const json& n, int* options) {
  if (n.is_null()) return OkStatus();
  const std::string type = n.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : n.at("normalizers"))
      TRITIUM_RETURN_IF_ERROR(ParseNormalizer(sub, options));
    return OkStatus();
  }
  int o = NormalizerOptions(type);
  if (o < 0) return UnimplementedError("unsupported normalizer '" + type + "'");
  // Two different forms in one Sequence would need two passes; no known tokenizer does that.
  if (*options != 0 && *options != o) {
    return UnimplementedError("unsupported normalizer Sequence mixing Unicode forms");
  }
  *options = o;
  return OkStatus();
}

Status ParsePreTokenizer(const json& p, std::vector<PreStep>* steps) {
  if (p.is_null()) return OkStatus();
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : p.at("pretokenizers")) {
      TRITIUM_RETURN_IF_ERROR(ParsePreTokenizer(sub, steps));
    }
    return OkStatus();
  }
  if (!steps->empty() && steps->back().kind == PreStep::kByteLevel) {
    return UnimplementedError("unsupported pre-tokenizer '" + type + "' after ByteLevel");
  }
  PreStep step;
  if (type == "ByteLevel") {
    step.kind = PreStep::kByteLevel;
    step.add_prefix_space = p.value("add_prefix_space", false);
    if (p.value("use_regex", true)) {
      TRITIUM_ASSIGN_OR_RETURN(step.re, Regex::Compile(kGpt2Pattern, false));
    }
  } else if (type == "Split") {
    step.kind = PreStep::kSplit;
    if (p.value("invert", false)) return UnimplementedError("unsupported Split with invert");
    const json& pat = p.at("pattern");
    if (pat.contains("Regex")) {
      TRITIUM_ASSIGN_OR_RETURN(step.re, Regex::Compile(pat.at("Regex").get<std::string>(), false));
    } else if (pat.contains("String")) {
      TRITIUM_ASSIGN_OR_RETURN(step.re, Regex::Compile(pat.at("String").get<std::string>(), true));
    } else {
      return UnimplementedError("unsupported Split pattern " + pat.dump());
    }
    const std::string beh = p.value("behavior", "");
    if (beh == "Isolated") {
      step.behavior = SplitBehavior::kIsolated;
    } else if (beh == "Removed") {
      step.behavior = SplitBehavior::kRemoved;
    } else if (beh == "MergedWithPrevious") {
      step.behavior = SplitBehavior::kMergedWithPrevious;
    } else if (beh == "MergedWithNext") {
      step.behavior = SplitBehavior::kMergedWithNext;
    } else {
      return UnimplementedError("unsupported Split behavior '" + beh + "'");
    }
  } else {
    return UnimplementedError("unsupported pre-tokenizer '" + type + "'");
  }
  steps->push_back(std::move(step));
  return OkStatus();
}

// A token id from the file: an integer in [0, 2^22) (nlohmann's get<int32_t> of 3e54 is undefined
// behaviour; a larger id would size tables from an untrusted number).
StatusOr<int32_t> IdOf(const json& v, const std::string& what) {
  constexpr int64_t kMaxId = int64_t{1} << 22;
  if (!v.is_number_integer()) {
    return DataLossError(what + ": token id " + v.dump() + " is not an integer");
  }
  const bool neg = !v.is_number_unsigned() && v.get<int64_t>() < 0;
  if (neg || (v.is_number_unsigned() ? v.get<uint64_t>() >= kMaxId : v.get<int64_t>() >= kMaxId)) {
    return DataLossError(what + ": token id " + v.dump() + " is outside [0, " +
                         std::to_string(kMaxId) + ")");
  }
  return static_cast<int32_t>(v.get<int64_t>());
}

// Finds BOS in a TemplateProcessing post-processor: a SpecialToken before $A in "single".
Status ParsePostProcessor(const json& p, int32_t* bos, bool* add_bos) {
  if (p.is_null()) return OkStatus();
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : p.at("processors")) {
      TRITIUM_RETURN_IF_ERROR(ParsePostProcessor(sub, bos, add_bos));
    }
    return OkStatus();
  }
  if (type == "ByteLevel") return OkStatus();  // only adjusts offsets
  if (type != "TemplateProcessing") {
    return UnimplementedError("unsupported post-processor '" + type + "'");
  }
  const json& single = p.at("single");
  if (single.empty() || !single[0].contains("SpecialToken")) return OkStatus();
  if (single.size() > 2 || (single.size() == 2 && !single[1].contains("Sequence"))) {
    return UnimplementedError("unsupported TemplateProcessing (only BOS + $A): " + single.dump());
  }
  const std::string name = single[0]["SpecialToken"].at("id").get<std::string>();
  const json& ids = p.at("special_tokens").at(name).at("ids");
  if (ids.size() != 1) return UnimplementedError("multi-id special token '" + name + "'");
  TRITIUM_ASSIGN_OR_RETURN(*bos, IdOf(ids[0], "post_processor special token '" + name + "'"));
  *add_bos = true;
  return OkStatus();
}

// tokenizer_config.json spells special tokens as "text" or {"content": "text", ...}.
std::string TokenText(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) {
    return j["content"].get<std::string>();
  }
  return "";
}

std::string PreNameForPattern(const std::vector<PreStep>& steps) {
  if (steps.size() == 2 && steps[0].kind == PreStep::kSplit &&
      steps[0].behavior == SplitBehavior::kIsolated && steps[1].kind == PreStep::kByteLevel &&
      steps[1].re == nullptr && !steps[1].add_prefix_space) {
    if (steps[0].re->pattern() == kQwen2Pattern) return "qwen2";
    if (steps[0].re->pattern() == kLlama3Pattern) return "llama-bpe";
  }
  if (steps.size() == 1 && steps[0].kind == PreStep::kByteLevel && steps[0].re != nullptr &&
      !steps[0].add_prefix_space) {
    return "gpt2";
  }
  return "";  // unknown to llama.cpp's naming; source_bytes still rebuilds it exactly
}

Status ParseHfJson(const std::string& bytes, const std::string& config_json,
                   const std::string& config_name, ByteBpeSpec* spec) {
  TRITIUM_ASSIGN_OR_RETURN(json j, ParseJson(bytes, "tokenizer.json"));
  if (!j.is_object()) return DataLossError("not a tokenizer.json object");
  const json& model = j.at("model");
  std::string type = model.value("type", "");
  if (type.empty() && model.contains("merges")) type = "BPE";  // old files omit the type
  if (type != "BPE") {
    return UnimplementedError("unsupported tokenizer model type '" + type +
                              "' (only byte-level BPE is supported)");
  }
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      model["dropout"].get<double>() > 0) {
    return UnimplementedError("unsupported BPE dropout");
  }
  for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(k) && model[k].is_string() && !model[k].get<std::string>().empty()) {
      return UnimplementedError(std::string("unsupported BPE ") + k);
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    spec->unk_token = model["unk_token"].get<std::string>();
  }
  spec->ignore_merges = model.value("ignore_merges", false);
  for (const auto& item : model.at("vocab").items()) {
    TRITIUM_ASSIGN_OR_RETURN(const int32_t id, IdOf(item.value(), "vocab['" + item.key() + "']"));
    spec->vocab.emplace(item.key(), id);
  }
  const json& merges = model.at("merges");
  spec->merges.reserve(merges.size());
  for (const json& m : merges) {
    if (m.is_array() && m.size() == 2) {
      spec->merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else if (m.is_string()) {
      const std::string s = m.get<std::string>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos) return DataLossError("bad merge '" + s + "'");
      spec->merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else {
      return DataLossError("bad merge " + m.dump());
    }
  }
  if (j.contains("added_tokens")) {
    for (const json& a : j["added_tokens"]) {
      AddedToken t;
      TRITIUM_ASSIGN_OR_RETURN(t.id, IdOf(a.at("id"), "added_tokens"));
      t.content = a.at("content").get<std::string>();
      t.single_word = a.value("single_word", false);
      t.lstrip = a.value("lstrip", false);
      t.rstrip = a.value("rstrip", false);
      t.normalized = a.value("normalized", false);
      t.special = a.value("special", false);
      spec->added.push_back(std::move(t));
    }
  }
  TRITIUM_RETURN_IF_ERROR(ParseNormalizer(j.value("normalizer", json()), &spec->utf8proc_options));
  TRITIUM_RETURN_IF_ERROR(ParsePreTokenizer(j.value("pre_tokenizer", json()), &spec->steps));
  if (spec->steps.empty() || spec->steps.back().kind != PreStep::kByteLevel) {
    return UnimplementedError("unsupported pre-tokenizer: not byte-level (no ByteLevel step)");
  }
  TokenizerVocab& meta = spec->meta;
  TRITIUM_RETURN_IF_ERROR(
      ParsePostProcessor(j.value("post_processor", json()), &meta.bos_id, &meta.add_bos));
  meta.pre = PreNameForPattern(spec->steps);

  auto find_id = [&](const std::string& text) -> int32_t {
    if (text.empty()) return -1;
    for (const AddedToken& a : spec->added) {
      if (a.content == text) return a.id;
    }
    auto it = spec->vocab.find(text);
    return it == spec->vocab.end() ? -1 : it->second;
  };
  meta.unk_id = find_id(spec->unk_token);
  if (config_json.empty()) {
    // Without tokenizer_config.json, fall back on the usual end-of-text names.
    for (const char* eos : {"<|endoftext|>", "<|end_of_text|>", "</s>"}) {
      if ((meta.eos_id = find_id(eos)) >= 0) break;
    }
    return OkStatus();
  }
  TRITIUM_ASSIGN_OR_RETURN(json c, ParseJson(config_json, config_name));
  if (!c.is_object()) return DataLossError(config_name + ": not a JSON object");
  if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) {
    meta.add_bos = c["add_bos_token"].get<bool>();
  }
  if (c.contains("bos_token")) {
    int32_t id = find_id(TokenText(c["bos_token"]));
    if (id >= 0) meta.bos_id = id;
  }
  if (c.contains("eos_token")) meta.eos_id = find_id(TokenText(c["eos_token"]));
  if (c.contains("pad_token")) meta.pad_id = find_id(TokenText(c["pad_token"]));
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> HfJsonFromBytes(std::string bytes, const std::string& name,
                                                     const std::string& config_json,
                                                     const std::string& config_name,
                                                     const TokenizerVocab* specials) {
  ByteBpeSpec spec;
  try {
    Status st = ParseHfJson(bytes, config_json, config_name, &spec);
    if (!st.ok()) return st.WithPrefix(name + ": ");
  } catch (const json::exception& e) {
    return DataLossError(name + ": " + e.what());
  }
  if (specials != nullptr) {
    spec.meta.bos_id = specials->bos_id;
    spec.meta.eos_id = specials->eos_id;
    spec.meta.unk_id = specials->unk_id;
    spec.meta.pad_id = specials->pad_id;
    spec.meta.add_bos = specials->add_bos;
  }
  spec.meta.source_kind = "hf-json";
  spec.meta.source_bytes = std::move(bytes);
  return ByteBpeTokenizer::Create(std::move(spec), name);
}

StatusOr<std::unique_ptr<Tokenizer>> ByteBpeFromVocab(TokenizerVocab vocab) {
  const std::string name = "gpt2 vocabulary";
  ByteBpeSpec spec;
  if (vocab.token_types.size() != vocab.tokens.size()) {
    return InvalidArgumentError(name + ": " + std::to_string(vocab.token_types.size()) +
                                " token types for " + std::to_string(vocab.tokens.size()) +
                                " tokens");
  }
  for (size_t i = 0; i < vocab.tokens.size(); ++i) {
    const int32_t id = static_cast<int32_t>(i);
    switch (vocab.token_types[i]) {
      case kTypeControl:
      case kTypeUserDefined: {
        AddedToken a;
        a.id = id;
        a.content = vocab.tokens[i];
        a.special = vocab.token_types[i] == kTypeControl;
        if (!a.content.empty()) spec.added.push_back(std::move(a));
        break;
      }
      case kTypeUnused:
        break;
      default:
        spec.vocab.emplace(vocab.tokens[i], id);
    }
  }
  spec.merges.reserve(vocab.merges.size());
  for (const std::string& m : vocab.merges) {
    size_t sp = m.find(' ');
    if (sp == std::string::npos) return InvalidArgumentError(name + ": bad merge '" + m + "'");
    spec.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  // What each llama.cpp pre-tokenizer name stands for, as in the tokenizer.json files it came from.
  const char* pattern = nullptr;
  if (vocab.pre == "qwen2") {
    pattern = kQwen2Pattern;
    spec.utf8proc_options = NormalizerOptions("NFC");
  } else if (vocab.pre == "llama-bpe" || vocab.pre == "llama3") {
    pattern = kLlama3Pattern;
    spec.ignore_merges = true;
  } else if (vocab.pre != "gpt2") {
    return UnimplementedError(name + ": unsupported pre-tokenizer '" + vocab.pre + "'");
  }
  PreStep byte_level;
  byte_level.kind = PreStep::kByteLevel;
  if (pattern != nullptr) {
    PreStep split;
    TRITIUM_ASSIGN_OR_RETURN(split.re, Regex::Compile(pattern, false));
    spec.steps.push_back(std::move(split));
  } else {
    TRITIUM_ASSIGN_OR_RETURN(byte_level.re, Regex::Compile(kGpt2Pattern, false));
  }
  spec.steps.push_back(std::move(byte_level));
  spec.meta = std::move(vocab);
  return ByteBpeTokenizer::Create(std::move(spec), name);
}

}  // namespace tritium::tokenizer_internal
