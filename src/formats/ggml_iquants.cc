// ggml's non-linear 4-bit types, read as they are in llama.cpp's files (ids are ggml's). A 4-bit
// index selects one of 16 fixed levels (kLevels, the non-uniform grid the types are defined by),
// times the block's scale. fp16 little-endian; nibble placement as Q4_0's: in each run of 32
// weights, weight l < 16 is the low nibble of byte l and weight 16 + l its high nibble.
//
//   IQ4_NL (id 20), 18 bytes per 32, 4.5 bits/weight:   [d][qs: 16 bytes]    x = d level[q]
//   IQ4_XS (id 23), 136 bytes per 256, 4.25 bits/weight:
//     [d][scales_h: u16][scales_l: 4 bytes][qs: 128 bytes]. Eight runs of 32; run k has the 6-bit
//     scale ls = (nibble k of scales_l, low nibble first) | (bits 2k, 2k+1 of scales_h) << 4 and
//     x = d (ls - 32) level[q].
// IQ1/IQ2/IQ3 are not here: their codes index lattice grids that exist only as tables in ggml's
// source, and tritium does not copy them (GgmlTypeName names them in the refusal).
#include "src/formats/ggml_common.h"

namespace tritium::formats_internal {
namespace {

constexpr int8_t kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                1,    13,   25,  38,  53,  69,  89,  113};

void Levels32(const uint8_t* qs, int8_t* codes) {
  for (int l = 0; l < 16; ++l) {
    codes[l] = kLevels[qs[l] & 0xF];
    codes[16 + l] = kLevels[qs[l] >> 4];
  }
}

void DecodeIQ4NL(const uint8_t* b, int8_t* codes, float* s, float* m) {
  s[0] = GgmlLoadF16(b);
  m[0] = 0.0f;
  Levels32(b + 2, codes);
}

void DecodeIQ4XS(const uint8_t* b, int8_t* codes, float* s, float* m) {
  const float d = GgmlLoadF16(b);
  const int scales_h = GgmlLoad16(b + 2);
  const uint8_t* scales_l = b + 4;
  for (int k = 0; k < 8; ++k) {
    const int ls = ((scales_l[k / 2] >> (4 * (k % 2))) & 0xF) | ((scales_h >> (2 * k)) & 3) << 4;
    s[k] = d * static_cast<float>(ls - 32);
    m[k] = 0.0f;
    Levels32(b + 8 + 16 * k, codes + 32 * k);
  }
}

constexpr GgmlBlockType kIQ4NL = {"IQ4_NL", 32, 18, 32, -127, 113, DecodeIQ4NL, 1, {0, 0},
                                  nullptr};
constexpr GgmlBlockType kIQ4XS = {"IQ4_XS", 256, 136, 32, -127, 113, DecodeIQ4XS, 1, {0, 0},
                                  nullptr};

}  // namespace

extern const Format kIQ4_NLFormat = GgmlFormat<kIQ4NL>(FormatId::kIQ4_NL);
extern const Format kIQ4_XSFormat = GgmlFormat<kIQ4XS>(FormatId::kIQ4_XS);

}  // namespace tritium::formats_internal
