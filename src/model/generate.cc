#include "src/model/generate.h"

#include <algorithm>
#include <chrono>

namespace tritium {

namespace {

bool Contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Bytes at the end of `text` that could still become the start of a stop string: they are held
// back so that a client never receives text the stop string then takes away.
size_t StopPrefixHold(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& s : stops) {
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k) {
      if (text.substr(text.size() - k) == std::string_view(s).substr(0, k)) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

}  // namespace

size_t CompleteUtf8Prefix(std::string_view s) {
  const size_t n = s.size();
  size_t i = n;
  int back = 0;
  while (i > 0 && back < 4) {
    const auto c = static_cast<unsigned char>(s[i - 1]);
    if ((c & 0xC0) != 0x80) {  // lead byte or ASCII
      const size_t need = c < 0x80         ? 1
                          : (c >> 5) == 6  ? 2
                          : (c >> 4) == 14 ? 3
                          : (c >> 3) == 30 ? 4
                                           : 1;
      return n - (i - 1) >= need ? n : i - 1;
    }
    --i;
    ++back;
  }
  return n;
}

std::vector<int32_t> EndOfGenerationIds(const Model& model) {
  std::vector<int32_t> ids = model.config().eos_ids;
  auto add = [&](int32_t id) {
    if (id >= 0 && id < model.config().vocab_size && !Contains(ids, id)) ids.push_back(id);
  };
  add(model.config().eos_id);
  // A generated BOS starts another document: llama2.c's TinyStories models delimit stories with
  // BOS alone (its run.c stops there), and for any model text after it no longer continues the
  // prompt.
  add(model.config().bos_id);
  const Tokenizer* tok = model.tokenizer();
  if (tok == nullptr) return ids;
  add(tok->eos_id());
  const TokenizerVocab& v = tok->vocab();
  static const char* const kEndOfTurn[] = {"<|im_end|>",    "<|eot_id|>",      "<|eom_id|>",
                                           "<|endoftext|>", "<|end_of_text|>", "</s>",
                                           "<end_of_turn>", "<|end|>"};
  for (size_t i = 0; i < v.tokens.size() && i < v.token_types.size(); ++i) {
    if (v.token_types[i] != 3) continue;  // control tokens only: never a piece of ordinary text
    for (const char* name : kEndOfTurn) {
      if (v.tokens[i] == name) add(static_cast<int32_t>(i));
    }
  }
  return ids;
}

std::vector<int32_t> EncodeWithControlTokens(const Tokenizer& tok, std::string_view text) {
  const TokenizerVocab& v = tok.vocab();
  // Longest control piece first, so that "<|im_start|>" is never read as a shorter one.
  std::vector<std::pair<std::string_view, int32_t>> controls;
  for (size_t i = 0; i < v.tokens.size() && i < v.token_types.size(); ++i) {
    if (v.token_types[i] == 3 && !v.tokens[i].empty()) {
      controls.emplace_back(v.tokens[i], static_cast<int32_t>(i));
    }
  }
  std::stable_sort(controls.begin(), controls.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::vector<int32_t> out;
  size_t start = 0, i = 0;
  while (i < text.size()) {
    int32_t id = -1;
    size_t len = 0;
    if (text[i] == '<' || text[i] == '[') {
      for (const auto& [piece, pid] : controls) {
        if (text.substr(i, piece.size()) == piece) {
          id = pid;
          len = piece.size();
          break;
        }
      }
    }
    if (id < 0) {
      ++i;
      continue;
    }
    if (i > start) {
      std::vector<int32_t> seg = tok.Encode(text.substr(start, i - start), false);
      out.insert(out.end(), seg.begin(), seg.end());
    }
    out.push_back(id);
    i += len;
    start = i;
  }
  if (start < text.size()) {
    std::vector<int32_t> seg = tok.Encode(text.substr(start), false);
    out.insert(out.end(), seg.begin(), seg.end());
  }
  return out;
}

StatusOr<GenerateResult> Generate(Session* session, const Tokenizer& tok,
                                  std::vector<int32_t>* cached, const std::vector<int32_t>& prompt,
                                  Sampler* sampler, const GenerateOptions& opts,
                                  const std::function<bool(std::string_view)>& on_text) {
  GenerateResult r;
  r.prompt_tokens = static_cast<int64_t>(prompt.size());
  if (prompt.empty()) return InvalidArgumentError("the prompt is empty (no tokens)");
  if (opts.max_tokens < 0) return InvalidArgumentError("max_tokens must be >= 0");
  const int64_t ctx = session->max_context();
  if (r.prompt_tokens + opts.max_tokens > ctx) {
    return InvalidArgumentError("the prompt (" + std::to_string(prompt.size()) +
                                " tokens) plus max_tokens " + std::to_string(opts.max_tokens) +
                                " exceeds the context of " + std::to_string(ctx) + " tokens");
  }
  for (const std::string& s : opts.stop) {
    if (s.empty()) return InvalidArgumentError("a stop string is empty");
  }
  // Reuse the cached prefix, but always feed at least the last prompt token: its logits start
  // the generation.
  size_t keep = 0;
  const size_t limit = std::min<size_t>(cached->size(), static_cast<size_t>(session->pos()));
  while (keep < limit && keep < prompt.size() && (*cached)[keep] == prompt[keep]) ++keep;
  if (keep == prompt.size()) --keep;
  session->Truncate(static_cast<int64_t>(keep));
  cached->resize(keep);
  r.reused_tokens = static_cast<int64_t>(keep);
  sampler->ResetHistory();
  for (int32_t t : prompt) sampler->Accept(t);

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits;
  TRITIUM_RETURN_IF_ERROR(session->Forward(
      prompt.data() + keep, static_cast<int64_t>(prompt.size() - keep), false, &logits));
  cached->insert(cached->end(), prompt.begin() + static_cast<std::ptrdiff_t>(keep), prompt.end());
  const auto t1 = std::chrono::steady_clock::now();
  r.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  // The generated text is decode(anchor + generated) minus decode(anchor): a few prompt tokens of
  // context make a SentencePiece word-initial space come out as it will in the full text.
  std::vector<int32_t> seq(prompt.end() - std::min<ptrdiff_t>(8, std::ssize(prompt)), prompt.end());
  const size_t anchor_n = seq.size();
  const std::string anchor_text = tok.Decode(seq);
  std::string text;    // the generated text so far
  std::string sent;    // the prefix of it already given to on_text
  size_t scanned = 0;  // bytes of `text` already searched for stop strings
  // Decoding may rewrite the tail (bytes completing a character): text is only sent while it
  // still extends what was sent.
  auto emit = [&](size_t upto) {
    if (upto <= sent.size() || text.compare(0, sent.size(), sent) != 0) return true;
    const std::string piece = text.substr(sent.size(), upto - sent.size());
    sent.append(piece);
    return on_text ? on_text(piece) : true;
  };
  r.finish_reason = "length";
  const int64_t vocab = static_cast<int64_t>(logits.size());
  for (int64_t i = 0; i < opts.max_tokens; ++i) {
    if (opts.cancel != nullptr && opts.cancel->load()) {
      r.finish_reason = "cancelled";
      break;
    }
    const int32_t next = sampler->Sample(logits.data(), vocab);
    r.tokens.push_back(next);
    sampler->Accept(next);
    if (!opts.ignore_eos && Contains(opts.eos_ids, next)) {
      r.finish_reason = "stop";
      break;
    }
    seq.push_back(next);
    const std::string full = tok.Decode(seq);
    text = full.compare(0, anchor_text.size(), anchor_text) == 0
               ? full.substr(anchor_text.size())
               : tok.Decode(std::vector<int32_t>(seq.begin() + anchor_n, seq.end()));
    scanned = std::min(scanned, text.size());
    size_t stop_at = std::string::npos;
    for (const std::string& s : opts.stop) {
      const size_t from = scanned >= s.size() ? scanned - s.size() + 1 : 0;
      const size_t p = text.find(s, from);
      if (p != std::string::npos && p < stop_at) stop_at = p;
    }
    scanned = text.size();
    if (stop_at != std::string::npos) {
      text.resize(stop_at);
      r.finish_reason = "stop";
      break;
    }
    size_t safe = CompleteUtf8Prefix(text);
    safe -= StopPrefixHold(std::string_view(text).substr(0, safe), opts.stop);
    if (!emit(safe)) {
      r.finish_reason = "cancelled";
      break;
    }
    if (i + 1 == opts.max_tokens) break;
    TRITIUM_RETURN_IF_ERROR(session->Forward(&next, 1, false, &logits));
    cached->push_back(next);
  }
  if (r.finish_reason != "cancelled") emit(text.size());
  r.text = text;
  r.generate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  return r;
}

}  // namespace tritium
