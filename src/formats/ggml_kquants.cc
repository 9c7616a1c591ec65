// ggml's k-quants, read as they are in llama.cpp's files (ids are ggml's). Super-blocks of 256
// weights cut into sub-blocks of 16 or 32 with their own integer scales, which multiply the
// super-block's fp16 d (and, for the affine types, dmin). All fp16 little-endian.
//
//   Q2_K (id 10), 84 bytes, 2.625 bits/weight:
//     [scales: 16 bytes][qs: 64 bytes][d][dmin]. Sub-block k (16 weights): scale = scales[k] & 15,
//     min = scales[k] >> 4; x = d scale q - dmin min, q 2 bits.
//   Q3_K (id 11), 110 bytes, 3.4375 bits/weight:
//     [hmask: 32 bytes][qs: 64 bytes][scales: 12 bytes][d]. Sixteen 6-bit scales, stored minus
//     32 (see ScalesQ3K); x = d (scale - 32) (q - 4 h'), q 2 bits, h' = 1 when the weight's hmask
//     bit is clear.
//   Q4_K (id 12), 144 bytes, 4.5 bits/weight:
//     [d][dmin][scales: 12 bytes][qs: 128 bytes]. Eight sub-blocks of 32 with 6-bit scale and
//     min (GgmlScaleMinK4); x = d scale q - dmin min, q 4 bits.
//   Q5_K (id 13), 176 bytes, 5.5 bits/weight:
//     [d][dmin][scales: 12 bytes][qh: 32 bytes][qs: 128 bytes]; as Q4_K with a 5th bit from qh.
//   Q6_K (id 14), 210 bytes, 6.5625 bits/weight:
//     [ql: 128 bytes][qh: 64 bytes][scales: 16 int8][d]. x = d scale (q - 32), q 6 bits.
//
// 2-bit and 4-bit placement: the super-block is two halves of 128 (Q2_K, Q3_K, Q6_K) or four
// quarters of 64 (Q4_K, Q5_K). In a half of Q2_K/Q3_K, weight 32 i + l (i = 0..3, l = 0..31) is
// bits 2 i .. 2 i + 1 of qs byte l of the half's 32; its hmask bit is bit (4 half + i) of
// hmask[l]. In a quarter of Q4_K/Q5_K, weight l is the low nibble of qs byte l of the quarter's
// 32 and weight 32 + l the high nibble; the 5th bits are bits 2 quarter and 2 quarter + 1 of
// qh[l]. Q6_K: in a half (64 ql bytes, 32 qh bytes), weight 32 i + l takes its low 4 bits from
// ql[l + 32 (i & 1)] (low nibble for i < 2, high for i >= 2) and its top 2 bits from bits
// 2 i .. 2 i + 1 of qh[l].
#include "src/formats/ggml_common.h"

namespace tritium::formats_internal {
namespace {

void DecodeQ2K(const uint8_t* b, int8_t* codes, float* s, float* m) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = GgmlLoadF16(b + 80), dmin = GgmlLoadF16(b + 82);
  for (int k = 0; k < 16; ++k) {
    s[k] = d * static_cast<float>(scales[k] & 0xF);
    m[k] = -(dmin * static_cast<float>(scales[k] >> 4));
  }
  for (int half = 0; half < 2; ++half) {
    for (int i = 0; i < 4; ++i) {
      for (int l = 0; l < 32; ++l) {
        codes[128 * half + 32 * i + l] = static_cast<int8_t>((qs[32 * half + l] >> (2 * i)) & 3);
      }
    }
  }
}

// The sixteen 6-bit scales of Q3_K: scale k's low 4 bits are the low (k < 8) or high (k >= 8)
// nibble of byte k % 8, and its top 2 bits are bits 2 (k / 4) .. + 1 of byte 8 + k % 4.
void ScalesQ3K(const uint8_t* sc, int* out) {
  for (int k = 0; k < 16; ++k) {
    const int lo = k < 8 ? sc[k] & 0xF : sc[k - 8] >> 4;
    const int hi = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
    out[k] = lo | hi << 4;
  }
}

void DecodeQ3K(const uint8_t* b, int8_t* codes, float* s, float* m) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const float d = GgmlLoadF16(b + 108);
  int sc[16];
  ScalesQ3K(b + 96, sc);
  for (int k = 0; k < 16; ++k) {
    s[k] = d * static_cast<float>(sc[k] - 32);
    m[k] = 0.0f;
  }
  for (int half = 0; half < 2; ++half) {
    for (int i = 0; i < 4; ++i) {
      for (int l = 0; l < 32; ++l) {
        const int q = (qs[32 * half + l] >> (2 * i)) & 3;
        const int h = (hmask[l] >> (4 * half + i)) & 1;
        codes[128 * half + 32 * i + l] = static_cast<int8_t>(q - (h ? 0 : 4));
      }
    }
  }
}

void ScaleMins(const uint8_t* b, float* s, float* m) {
  const float d = GgmlLoadF16(b), dmin = GgmlLoadF16(b + 2);
  for (int k = 0; k < 8; ++k) {
    int sc, mn;
    GgmlScaleMinK4(k, b + 4, &sc, &mn);
    s[k] = d * static_cast<float>(sc);
    m[k] = -(dmin * static_cast<float>(mn));
  }
}

void DecodeQ4K(const uint8_t* b, int8_t* codes, float* s, float* m) {
  ScaleMins(b, s, m);
  const uint8_t* qs = b + 16;
  for (int quarter = 0; quarter < 4; ++quarter) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q = qs[32 * quarter + l];
      codes[64 * quarter + l] = static_cast<int8_t>(q & 0xF);
      codes[64 * quarter + 32 + l] = static_cast<int8_t>(q >> 4);
    }
  }
}

void DecodeQ5K(const uint8_t* b, int8_t* codes, float* s, float* m) {
  ScaleMins(b, s, m);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int quarter = 0; quarter < 4; ++quarter) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q = qs[32 * quarter + l];
      const int h0 = (qh[l] >> (2 * quarter)) & 1, h1 = (qh[l] >> (2 * quarter + 1)) & 1;
      codes[64 * quarter + l] = static_cast<int8_t>((q & 0xF) | h0 << 4);
      codes[64 * quarter + 32 + l] = static_cast<int8_t>((q >> 4) | h1 << 4);
    }
  }
}

void DecodeQ6K(const uint8_t* b, int8_t* codes, float* s, float* m) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = GgmlLoadF16(b + 208);
  for (int k = 0; k < 16; ++k) {
    s[k] = d * static_cast<float>(scales[k]);
    m[k] = 0.0f;
  }
  for (int half = 0; half < 2; ++half) {
    for (int i = 0; i < 4; ++i) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo_byte = ql[64 * half + l + 32 * (i & 1)];
        const int lo = i < 2 ? lo_byte & 0xF : lo_byte >> 4;
        const int hi = (qh[32 * half + l] >> (2 * i)) & 3;
        codes[128 * half + 32 * i + l] = static_cast<int8_t>((lo | hi << 4) - 32);
      }
    }
  }
}

constexpr GgmlBlockType kQ2K = {"Q2_K", 256, 84, 16, 0, 3, DecodeQ2K, 2, {80, 82}, nullptr};
constexpr GgmlBlockType kQ3K = {"Q3_K", 256, 110, 16, -4, 3, DecodeQ3K, 1, {108, 108}, nullptr};
constexpr GgmlBlockType kQ4K = {"Q4_K", 256, 144, 32, 0, 15, DecodeQ4K, 2, {0, 2}, nullptr};
constexpr GgmlBlockType kQ5K = {"Q5_K", 256, 176, 32, 0, 31, DecodeQ5K, 2, {0, 2}, nullptr};
constexpr GgmlBlockType kQ6K = {"Q6_K", 256, 210, 16, -32, 31, DecodeQ6K, 1, {208, 208}, nullptr};

}  // namespace

extern const Format kQ2_KFormat = GgmlFormat<kQ2K>(FormatId::kQ2_K);
extern const Format kQ3_KFormat = GgmlFormat<kQ3K>(FormatId::kQ3_K);
extern const Format kQ4_KFormat = GgmlFormat<kQ4K>(FormatId::kQ4_K);
extern const Format kQ5_KFormat = GgmlFormat<kQ5K>(FormatId::kQ5_K);
extern const Format kQ6_KFormat = GgmlFormat<kQ6K>(FormatId::kQ6_K);

}  // namespace tritium::formats_internal
