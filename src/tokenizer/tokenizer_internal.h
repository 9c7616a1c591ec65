// Constructors shared between the tokenizer implementation files. Not part of the public API: the
// factory functions in tokenizer.h are the way in.
#ifndef TRITIUM_TOKENIZER_TOKENIZER_INTERNAL_H_
#define TRITIUM_TOKENIZER_TOKENIZER_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "src/base/status.h"
#include "src/tokenizer/tokenizer.h"

namespace tritium::tokenizer_internal {

// llama.cpp's token type numbering (also SentencePiece's ModelProto.SentencePiece.Type).
enum TokenType : int32_t {
  kTypeNormal = 1,
  kTypeUnknown = 2,
  kTypeControl = 3,
  kTypeUserDefined = 4,
  kTypeUnused = 5,
  kTypeByte = 6,
};

// `name` is the file (or "vocabulary") used in error messages.
StatusOr<std::unique_ptr<Tokenizer>> SentencePieceFromBytes(std::string bytes,
                                                            const std::string& name);
// vocab_size < 0 reads tokens up to the end of the data.
StatusOr<std::unique_ptr<Tokenizer>> Llama2cFromBytes(std::string bytes, int32_t vocab_size,
                                                      const std::string& name);
// Score-driven BPE from a llama.cpp "llama" vocabulary (pieces use U+2581 for spaces).
StatusOr<std::unique_ptr<Tokenizer>> ScoreBpeFromVocab(TokenizerVocab vocab);
// `config_json` is tokenizer_config.json's text, or empty when there is none. When `specials` is
// given, its bos/eos/unk/pad ids and add_bos replace what the files say.
StatusOr<std::unique_ptr<Tokenizer>> HfJsonFromBytes(std::string bytes, const std::string& name,
                                                     const std::string& config_json,
                                                     const std::string& config_name,
                                                     const TokenizerVocab* specials = nullptr);
// Byte-level BPE from a llama.cpp "gpt2" vocabulary; the pre-tokenizer comes from vocab.pre.
StatusOr<std::unique_ptr<Tokenizer>> ByteBpeFromVocab(TokenizerVocab vocab);

// "<0xAB>" -> 0xAB; -1 when `piece` is not of that form.
int ParseBytePiece(const std::string& piece);

}  // namespace tritium::tokenizer_internal

#endif  // TRITIUM_TOKENIZER_TOKENIZER_INTERNAL_H_
