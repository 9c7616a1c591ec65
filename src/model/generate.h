// The generation loop shared by `run`, `chat` and `serve`: feeds a prompt into a Session (reusing
// the longest prefix it already holds), samples until an end-of-generation token, a stop string or
// the token budget, and streams the text as it becomes final.
#ifndef TRITIUM_MODEL_GENERATE_H_
#define TRITIUM_MODEL_GENERATE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"
#include "src/model/forward.h"
#include "src/model/sampling.h"
#include "src/tokenizer/tokenizer.h"

namespace tritium {

// Every id that ends generation: the files' eos ids (lists included), BOS, and the vocabulary's
// end-of-turn control tokens (<|im_end|>, <|eot_id|>, <|eom_id|>, <|endoftext|>, </s>, ...), which
// chat models emit at the end of an answer even when their config names another eos.
std::vector<int32_t> EndOfGenerationIds(const Model& model);

// Encodes text in which control tokens may be written literally ("<s>", "<|im_start|>"), as
// a rendered chat template is: those become their ids, the text between them is encoded normally.
std::vector<int32_t> EncodeWithControlTokens(const Tokenizer& tok, std::string_view text);

struct GenerateOptions {
  int64_t max_tokens = 128;
  bool ignore_eos = false;
  std::vector<int32_t> eos_ids;               // from EndOfGenerationIds
  std::vector<std::string> stop;              // stop strings: the text ends before the first one
  const std::atomic<bool>* cancel = nullptr;  // checked before each token
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // sampled tokens, the end-of-generation one included
  std::string text;             // their text, cut before a stop string
  std::string finish_reason;    // "stop" (eos or stop string), "length", "cancelled"
  int64_t prompt_tokens = 0;    // tokens of the prompt
  int64_t reused_tokens = 0;    // of which were already in the cache
  double prompt_seconds = 0, generate_seconds = 0;
};

// Runs one generation. `cached` lists the tokens whose keys/values `session` holds (updated on
// return); the longest common prefix with `prompt` is kept, the rest of the prompt is fed.
// `on_text` receives each new piece of final text (never split inside a UTF-8 character or a
// possible stop string); returning false cancels. Fails when prompt + max_tokens exceed the
// session's context.
StatusOr<GenerateResult> Generate(Session* session, const Tokenizer& tok,
                                  std::vector<int32_t>* cached, const std::vector<int32_t>& prompt,
                                  Sampler* sampler, const GenerateOptions& opts,
                                  const std::function<bool(std::string_view)>& on_text);

// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence.
size_t CompleteUtf8Prefix(std::string_view s);

}  // namespace tritium

#endif  // TRITIUM_MODEL_GENERATE_H_
