// Tokenizers: SentencePiece (tokenizer.model, via libsentencepiece), llama2.c tokenizer.bin (score-
// driven BPE with byte fallback; also what a GGUF "llama" vocabulary is), and byte-level BPE from a
// Hugging Face tokenizer.json (Qwen2/Qwen3, Llama-3; also a GGUF "gpt2" vocabulary).
#ifndef TRITIUM_TOKENIZER_TOKENIZER_H_
#define TRITIUM_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/status.h"

namespace tritium {

// Everything needed to rebuild a tokenizer, in llama.cpp's GGUF vocabulary terms
// (tokenizer.ggml.*), plus the original file bytes so that a tokenizer round-trips exactly through
// our quantized file.
struct TokenizerVocab {
  std::string model;                 // "llama" (SentencePiece/llama2.c) or "gpt2" (byte-level BPE)
  std::string pre;                   // pre-tokenizer name for "gpt2" ("qwen2", "llama-bpe", ...)
  std::vector<std::string> tokens;   // piece strings as llama.cpp stores them
  std::vector<float> scores;         // "llama" only
  std::vector<int32_t> token_types;  // 1 normal, 2 unk, 3 control, 4 user-def., 5 unused, 6 byte
  std::vector<std::string> merges;   // "gpt2" only: "a b" in rank order
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false;
  // SentencePiece normalizer settings, as llama.cpp's tokenizer.ggml.add_space_prefix and
  // tokenizer.ggml.remove_extra_whitespaces ("llama" only): prepend the "▁" dummy prefix; strip
  // leading/trailing spaces and collapse runs of spaces before encoding (tok512 does, Llama 2 not).
  bool add_space_prefix = true;
  bool remove_extra_whitespaces = false;
  // The source file, verbatim, and its kind: "sentencepiece" (tokenizer.model), "llama2c"
  // (tokenizer.bin), "hf-json" (tokenizer.json). Empty when built from a GGUF vocabulary alone.
  std::string source_kind;
  std::string source_bytes;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Encodes `text` exactly as the reference library does; prepends BOS when add_bos and the
  // tokenizer has one. Special tokens written literally in the text are matched only where the
  // reference library does so (Hugging Face added tokens: yes; raw SentencePiece: no).
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_bos) const = 0;
  // Decodes a whole sequence (BOS/EOS and other control tokens produce no text).
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t eos_id() const = 0;  // -1 if none
  // The vocabulary for embedding in a GGUF file.
  virtual const TokenizerVocab& vocab() const = 0;
};

// Loads by file: tokenizer.model, tokenizer.bin (llama2.c), tokenizer.json. Errors name the file.
StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path);
StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path,
                                                         int32_t vocab_size);
StatusOr<std::unique_ptr<Tokenizer>> LoadHfJsonTokenizer(const std::string& path);
// Picks the loader from the file name/contents (.model, .bin, .json).
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFile(const std::string& path,
                                                      int32_t llama2c_vocab_size = -1);
// For a Hugging Face model directory: tokenizer.json if present, else tokenizer.model.
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromDir(const std::string& dir);
// Rebuilds from a vocabulary (as read from GGUF): uses source_bytes when present (exact), else the
// llama.cpp-style vocabulary ("llama": score-driven BPE; "gpt2": merges).
StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromVocab(TokenizerVocab vocab);

}  // namespace tritium

#endif  // TRITIUM_TOKENIZER_TOKENIZER_H_
