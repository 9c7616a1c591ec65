// A tokenizer that loaded must encode and decode without crashing.
#ifndef TRITIUM_FUZZ_TOKENIZER_FUZZ_COMMON_H_
#define TRITIUM_FUZZ_TOKENIZER_FUZZ_COMMON_H_

#include "src/tokenizer/tokenizer.h"

namespace tritium::fuzz {

inline void Exercise(const Tokenizer& tok) {
  static const char* const kTexts[] = {"Hello world, 123", " <s> naïve café \xF0\x9F\x98\x80\n\t",
                                       "", "\xff\xfe broken utf-8 \xc3"};
  for (const char* t : kTexts) {
    (void)tok.Decode(tok.Encode(t, true));
  }
  (void)tok.Decode({0, 1, 2, tok.vocab_size() - 1});
}

}  // namespace tritium::fuzz

#endif  // TRITIUM_FUZZ_TOKENIZER_FUZZ_COMMON_H_
