// INT_G (tritium id 1001): asymmetric B-bit integers with an fp16 scale and an fp16 offset per
// group.
//
// Params: B = bits in {2, 3, 4, 8}, G = group in {32, 64, 128, 256}; any cols >= 1. A row is cut
// into groups of G weights, the last one shorter (n = cols mod G) when G does not divide cols. Each
// group of n weights is stored as
//
//   [s: fp16 scale, LE][m: fp16 minimum, LE][codes: ceil(B n / 8) bytes]     x_i ~ m + s * q_i
//
// The zero is a float offset (the group minimum m, stored in fp16), not an integer zero-point: it
// costs the same 16 bits and represents the group minimum without rounding it to a step of s.
// Codes are a little-endian bit stream: code i occupies bits B i .. B i + B - 1 of the group's code
// bytes, bit 0 being the least significant bit of the first byte, so B = 4 puts element 0 in the
// low nibble. The unused high bits of a short last group's final byte are 0 (validate_row checks
// it). Bits per weight for full groups: B + 32 / G (every G here makes B G / 8 whole bytes).
//
// Encoder (quantize_row, round-to-nearest): over the finite inputs, m = fp16 of min rounded toward
// -inf, s = fp16 of (max - m) / (2^B - 1) rounded toward +inf, q = round((x - m) / s) clamped to
// [0, 2^B - 1]; non-finite inputs are encoded as 0 would be. Rounding m down and s up keeps every
// finite input inside [m, m + (2^B - 1) s], so no code is clamped and the documented bound is
// |x - x_hat| <= s / 2 (+ 2^-21 (|m| + (2^B - 1) s) for float arithmetic), for the stored s.
// Validation rejects non-finite s or m and non-zero padding bits.
#ifndef TRITIUM_FORMATS_INT_G_H_
#define TRITIUM_FORMATS_INT_G_H_

#include <cstddef>
#include <cstdint>

namespace tritium {

constexpr size_t kIntGHeaderBytes = 4;  // fp16 scale, fp16 minimum

constexpr size_t IntGCodeBytes(int n, int bits) { return (static_cast<size_t>(n) * bits + 7) / 8; }
constexpr size_t IntGGroupBytes(int n, int bits) {
  return kIntGHeaderBytes + IntGCodeBytes(n, bits);
}
constexpr size_t IntGRowBytes(int64_t cols, int group, int bits) {
  return static_cast<size_t>(cols / group) * IntGGroupBytes(group, bits) +
         (cols % group != 0 ? IntGGroupBytes(static_cast<int>(cols % group), bits) : 0);
}

// Reads code i from a group's code bytes (B <= 8, so a code spans at most 2 bytes).
inline int IntGGetCode(const uint8_t* codes, int i, int bits) {
  const size_t bit = static_cast<size_t>(i) * bits;
  const size_t byte = bit / 8;
  const int shift = static_cast<int>(bit % 8);
  unsigned v = codes[byte] >> shift;
  if (shift + bits > 8) v |= static_cast<unsigned>(codes[byte + 1]) << (8 - shift);
  return static_cast<int>(v & ((1u << bits) - 1));
}

}  // namespace tritium

#endif  // TRITIUM_FORMATS_INT_G_H_
