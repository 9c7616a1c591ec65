// TRIT_PLANES (tritium id 1000): the trit-plane format of PTQTP (docs/ptqtp.md).
//
// Params: K = planes in 1..4, G = group in {32, 64, 128, 256}; any cols >= 1.
// A row is cut into groups of G consecutive weights; when G does not divide cols the last group is
// shorter (n = cols mod G weights). Each group of n weights is stored as, in this order:
//
//   [a_0 .. a_{K-1}: K fp16 scales, little-endian, 2K bytes]
//   [plane 0: ceil(n/5) bytes][plane 1: ceil(n/5) bytes] ... [plane K-1]
//
// and decodes to w_j = a_0 t_0j + a_1 t_1j + ... + a_{K-1} t_{K-1,j} (float, summed in plane
// order). Groups follow each other without padding, so group g of a row starts at g *
// TritGroupBytes(G, K). Scales come first so a kernel reads them with the trits of the same group
// in one pass; planes are contiguous so a kernel can decode one plane, add/subtract activations,
// and apply one scale.
//
// Trit packing (one plane of one group): trit t in {-1, 0, +1} is the base-3 digit t + 1; byte i
// holds elements 5i .. 5i+4 as d0 + 3 d1 + 9 d2 + 27 d3 + 81 d4, element 5i in the least
// significant digit, so a valid byte is < 243. When 5 does not divide n, the unused digits of the
// plane's last byte are 1 (trit 0): padding decodes to zero, and validate_row rejects any other
// padding, so every group has exactly one encoding.
//
// Bits per weight, every byte counted: per full group K * (16 + 8 ceil(G/5)) / G, i.e.
//   G = 32: 2.25 K (7 bytes a plane)   G = 64: 1.875 K (13)   G = 128: 1.75 K (26)   G =
//   256: 1.6875 K
// K = 2, G = 128 is 3.5 bpw, not the nominal 3.45 = 2 (1.6 + 16/128): 128 trits need 25.6 bytes,
// and a plane's last byte carries 3 trits and 2 padding digits. Packing across the planes of a
// group gains nothing (2 x 128 trits still need 52 bytes); reaching 3.45 needs packing across groups
// (5 groups of 128 trits end on a byte boundary), which would save 0.05 bits per weight and cost
// every kernel an unaligned decode that straddles groups, so we do not.
// Validation rejects non-finite scales, trit bytes >= 243 and non-canonical padding digits. Scales
// may be any finite fp16 (ptqtp stores them nonnegative, but decoders must not rely on that).
#ifndef TRITIUM_FORMATS_TRIT_PLANES_H_
#define TRITIUM_FORMATS_TRIT_PLANES_H_

#include <cstddef>
#include <cstdint>

namespace tritium {

constexpr int kTritsPerByte = 5;
constexpr int kTritMaxPlanes = 4;
constexpr int kTritValidBytes = 243;  // 3^5

// Bytes of one plane of a group of n weights.
constexpr int TritPlaneBytes(int n) { return (n + kTritsPerByte - 1) / kTritsPerByte; }
// Bytes of a whole group of n weights with K planes (scales included).
constexpr size_t TritGroupBytes(int n, int planes) {
  return static_cast<size_t>(planes) * (2 + TritPlaneBytes(n));
}
// Offsets inside a group of n weights.
constexpr size_t TritScaleOffset(int plane) { return 2 * static_cast<size_t>(plane); }
constexpr size_t TritPlaneOffset(int n, int planes, int plane) {
  return 2 * static_cast<size_t>(planes) + static_cast<size_t>(plane) * TritPlaneBytes(n);
}
// Bytes of a row of `cols` weights (full groups plus the shorter last one).
constexpr size_t TritRowBytes(int64_t cols, int group, int planes) {
  return static_cast<size_t>(cols / group) * TritGroupBytes(group, planes) +
         (cols % group != 0 ? TritGroupBytes(static_cast<int>(cols % group), planes) : 0);
}

// Packs n trits (each in {-1, 0, 1}) of one plane of one group into TritPlaneBytes(n) bytes.
void PackTritGroup(const int8_t* trits, int n, uint8_t* out);
// Inverse of PackTritGroup. Bytes >= 243 decode to unspecified trits: call TritGroupValid first on
// untrusted data.
void UnpackTritGroup(const uint8_t* in, int n, int8_t* trits);
// True iff every byte is < 243 and the padding digits of the last byte are 1.
bool TritGroupValid(const uint8_t* in, int n);
// TritDecodeTable()[b][i] is the trit of digit i of byte b, for b < 243; a lookup table kernels can
// use to decode 5 trits at once.
const int8_t (&TritDecodeTable())[kTritValidBytes][kTritsPerByte];

}  // namespace tritium

#endif  // TRITIUM_FORMATS_TRIT_PLANES_H_
