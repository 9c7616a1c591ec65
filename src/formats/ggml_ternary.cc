// ggml's ternary types (BitNet b1.58, TriLM), read as they are in llama.cpp's files (ids are
// ggml's): one fp16 scale d per 256 weights and a trit t in {-1, 0, 1} per weight, x = d t. They
// are trit-planes with K = 1 and G = 256 in another packing, and run on the same kernels.
//
//   TQ2_0 (id 35), 66 bytes, 2.0625 bits/weight: [qs: 64 bytes][d]. Two halves of 128; weight
//     32 i + l of half h is bits 2 i .. 2 i + 1 of qs[32 h + l], holding t + 1 (3 is invalid).
//   TQ1_0 (id 34), 54 bytes, 1.6875 bits/weight: [qs: 48 bytes][qh: 4 bytes][d]. Five trits per
//     byte as a base-3 fraction: the byte is ceil(243^-1 256 sum_n (t_n + 1) 3^(4 - n)), and trit
//     n is recovered as ((uint8)(byte 3^n) 3) >> 8 (multiplying by 3^n shifts the fraction left by
//     n digits; the top digit is read off). Weights: 160 from qs[0..31] (trit n of byte m is
//     weight 32 n + m), 80 from qs[32..47] (weight 160 + 16 n + m), 16 from qh (trit n of qh[m],
//     n < 4, is weight 240 + 4 n + m).
#include "src/formats/ggml_common.h"

namespace tritium::formats_internal {
namespace {

constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

int8_t Trit(uint8_t byte, int n) {
  const uint8_t shifted = static_cast<uint8_t>(byte * kPow3[n]);
  return static_cast<int8_t>(((static_cast<uint16_t>(shifted) * 3) >> 8) - 1);
}

void DecodeTQ1(const uint8_t* b, int8_t* codes, float* s, float* m) {
  s[0] = GgmlLoadF16(b + 52);
  m[0] = 0.0f;
  for (int n = 0; n < 5; ++n) {
    for (int j = 0; j < 32; ++j) codes[32 * n + j] = Trit(b[j], n);
  }
  for (int n = 0; n < 5; ++n) {
    for (int j = 0; j < 16; ++j) codes[160 + 16 * n + j] = Trit(b[32 + j], n);
  }
  for (int n = 0; n < 4; ++n) {
    for (int j = 0; j < 4; ++j) codes[240 + 4 * n + j] = Trit(b[48 + j], n);
  }
}

void DecodeTQ2(const uint8_t* b, int8_t* codes, float* s, float* m) {
  s[0] = GgmlLoadF16(b + 64);
  m[0] = 0.0f;
  for (int half = 0; half < 2; ++half) {
    for (int i = 0; i < 4; ++i) {
      for (int l = 0; l < 32; ++l) {
        codes[128 * half + 32 * i + l] =
            static_cast<int8_t>(((b[32 * half + l] >> (2 * i)) & 3) - 1);
      }
    }
  }
}

const char* CheckTQ2(const uint8_t* b) {
  for (int j = 0; j < 64; ++j) {
    const uint8_t v = b[j];
    // A field of 3 has both bits set: v & (v >> 1) has bit 2 i set for it.
    if ((v & (v >> 1) & 0x55) != 0) return "a 2-bit code of 3 (not a trit)";
  }
  return nullptr;
}

constexpr GgmlBlockType kTQ1 = {"TQ1_0", 256, 54, 256, -1, 1, DecodeTQ1, 1, {52, 52}, nullptr};
constexpr GgmlBlockType kTQ2 = {"TQ2_0", 256, 66, 256, -1, 1, DecodeTQ2, 1, {64, 64}, CheckTQ2};

}  // namespace

extern const Format kTQ1_0Format = GgmlFormat<kTQ1>(FormatId::kTQ1_0);
extern const Format kTQ2_0Format = GgmlFormat<kTQ2>(FormatId::kTQ2_0);

}  // namespace tritium::formats_internal
