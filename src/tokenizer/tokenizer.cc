// Tokenizer factory: picks the implementation from the file or the vocabulary.
#include "src/tokenizer/tokenizer.h"

#include <string>

#include "src/base/file.h"
#include "src/tokenizer/tokenizer_internal.h"

namespace tritium {
namespace {

namespace ti = tokenizer_internal;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(const std::string& path) {
  TRITIUM_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ti::SentencePieceFromBytes(std::move(bytes), path);
}

StatusOr<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path,
                                                          int32_t vocab_size) {
  TRITIUM_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ti::Llama2cFromBytes(std::move(bytes), vocab_size, path);
}

StatusOr<std::unique_ptr<Tokenizer>> LoadHfJsonTokenizer(const std::string& path) {
  TRITIUM_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  // BOS/EOS and add_bos_token live in the sibling tokenizer_config.json, when there is one.
  const std::string config_path = JoinPath(DirName(path), "tokenizer_config.json");
  std::string config;
  if (FileExists(config_path)) {
    TRITIUM_ASSIGN_OR_RETURN(config, ReadFileToString(config_path));
  }
  return ti::HfJsonFromBytes(std::move(bytes), path, config, config_path);
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFile(const std::string& path,
                                                       int32_t llama2c_vocab_size) {
  if (EndsWith(path, ".json")) return LoadHfJsonTokenizer(path);
  if (EndsWith(path, ".model")) return LoadSentencePieceTokenizer(path);
  if (EndsWith(path, ".bin")) return LoadLlama2cTokenizer(path, llama2c_vocab_size);
  // Unknown extension: sniff. JSON starts with '{'; a SentencePiece ModelProto with its first
  // field, the pieces (field 1, length-delimited: tag 0x0A); anything else is tried as llama2.c.
  TRITIUM_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  size_t i = 0;
  while (i < bytes.size() &&
         (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t')) {
    ++i;
  }
  if (i < bytes.size() && bytes[i] == '{') return LoadHfJsonTokenizer(path);
  if (!bytes.empty() && bytes[0] == '\x0A') {
    // A llama2.c file with max_token_length 10 starts with the same byte, so fall through to it
    // when the bytes do not parse as a ModelProto.
    auto sp = ti::SentencePieceFromBytes(bytes, path);
    if (sp.ok()) return sp;
  }
  return ti::Llama2cFromBytes(std::move(bytes), llama2c_vocab_size, path);
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromDir(const std::string& dir) {
  const std::string json_path = JoinPath(dir, "tokenizer.json");
  if (FileExists(json_path)) return LoadHfJsonTokenizer(json_path);
  const std::string model_path = JoinPath(dir, "tokenizer.model");
  if (FileExists(model_path)) return LoadSentencePieceTokenizer(model_path);
  return NotFoundError(dir + ": no tokenizer.json or tokenizer.model in the directory");
}

StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromVocab(TokenizerVocab vocab) {
  if (!vocab.source_bytes.empty()) {
    const std::string name = "embedded " + vocab.source_kind + " tokenizer";
    if (vocab.source_kind == "sentencepiece") {
      return ti::SentencePieceFromBytes(std::move(vocab.source_bytes), name);
    }
    if (vocab.source_kind == "llama2c") {
      const int32_t n = vocab.tokens.empty() ? -1 : static_cast<int32_t>(vocab.tokens.size());
      return ti::Llama2cFromBytes(std::move(vocab.source_bytes), n, name);
    }
    if (vocab.source_kind == "hf-json") {
      // tokenizer_config.json is not embedded; its settings travel in the vocabulary fields.
      std::string bytes = std::move(vocab.source_bytes);
      return ti::HfJsonFromBytes(std::move(bytes), name, std::string(), std::string(), &vocab);
    }
    return UnimplementedError("unknown tokenizer source kind '" + vocab.source_kind + "'");
  }
  if (vocab.model == "llama") return ti::ScoreBpeFromVocab(std::move(vocab));
  if (vocab.model == "gpt2") return ti::ByteBpeFromVocab(std::move(vocab));
  return UnimplementedError("unsupported tokenizer model '" + vocab.model +
                            "' (supported: llama, gpt2)");
}

}  // namespace tritium
