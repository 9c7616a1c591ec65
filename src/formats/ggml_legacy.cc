// ggml's first block types, read as they are in llama.cpp's files (ids are ggml's). Blocks of 32
// weights, d and m fp16 little-endian; nibble j of qs is byte j & 15, low nibble for j < 16 and
// high nibble for j >= 16 (so weight j and weight j + 16 share a byte).
//
//   Q4_0 (id 2), 18 bytes, 4.5 bits/weight:  [d][qs: 16 bytes]           x = d (q - 8)
//   Q4_1 (id 3), 20 bytes, 5.0 bits/weight:  [d][m][qs: 16 bytes]        x = d q + m
//   Q5_0 (id 6), 22 bytes, 5.5 bits/weight:  [d][qh: u32][qs: 16 bytes]  x = d (q - 16)
//   Q5_1 (id 7), 24 bytes, 6.0 bits/weight:  [d][m][qh: u32][qs]         x = d q + m
// In the 5-bit types bit j of the little-endian qh is bit 4 of weight j's code.
#include "src/formats/ggml_common.h"

namespace tritium::formats_internal {
namespace {

// Codes of a block's 16 nibble bytes (and the 5th bits, when qh != nullptr), minus `bias`.
void Nibbles(const uint8_t* qs, const uint8_t* qh, int bias, int8_t* codes) {
  uint32_t h = 0;
  if (qh != nullptr) h = qh[0] | qh[1] << 8 | qh[2] << 16 | static_cast<uint32_t>(qh[3]) << 24;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0xF) | static_cast<int>((h >> j) & 1) << 4;
    const int hi = (qs[j] >> 4) | static_cast<int>((h >> (j + 16)) & 1) << 4;
    codes[j] = static_cast<int8_t>(lo - bias);
    codes[j + 16] = static_cast<int8_t>(hi - bias);
  }
}

void DecodeQ4_0(const uint8_t* b, int8_t* codes, float* s, float* m) {
  s[0] = GgmlLoadF16(b);
  m[0] = 0.0f;
  Nibbles(b + 2, nullptr, 8, codes);
}
void DecodeQ4_1(const uint8_t* b, int8_t* codes, float* s, float* m) {
  s[0] = GgmlLoadF16(b);
  m[0] = GgmlLoadF16(b + 2);
  Nibbles(b + 4, nullptr, 0, codes);
}
void DecodeQ5_0(const uint8_t* b, int8_t* codes, float* s, float* m) {
  s[0] = GgmlLoadF16(b);
  m[0] = 0.0f;
  Nibbles(b + 6, b + 2, 16, codes);
}
void DecodeQ5_1(const uint8_t* b, int8_t* codes, float* s, float* m) {
  s[0] = GgmlLoadF16(b);
  m[0] = GgmlLoadF16(b + 2);
  Nibbles(b + 8, b + 4, 0, codes);
}

constexpr GgmlBlockType kQ4_0 = {"Q4_0", 32, 18, 32, -8, 7, DecodeQ4_0, 1, {0, 0}, nullptr};
constexpr GgmlBlockType kQ4_1 = {"Q4_1", 32, 20, 32, 0, 15, DecodeQ4_1, 2, {0, 2}, nullptr};
constexpr GgmlBlockType kQ5_0 = {"Q5_0", 32, 22, 32, -16, 15, DecodeQ5_0, 1, {0, 0}, nullptr};
constexpr GgmlBlockType kQ5_1 = {"Q5_1", 32, 24, 32, 0, 31, DecodeQ5_1, 2, {0, 2}, nullptr};

}  // namespace

extern const Format kQ4_0Format = GgmlFormat<kQ4_0>(FormatId::kQ4_0);
extern const Format kQ4_1Format = GgmlFormat<kQ4_1>(FormatId::kQ4_1);
extern const Format kQ5_0Format = GgmlFormat<kQ5_0>(FormatId::kQ5_0);
extern const Format kQ5_1Format = GgmlFormat<kQ5_1>(FormatId::kQ5_1);

}  // namespace tritium::formats_internal
