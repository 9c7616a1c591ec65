// Shared machinery of ggml's block types (src/formats/ggml_*.cc): every one of them is a row of
// fixed-size blocks, and every one decodes to integer codes with a scale and an offset per
// sub-block (format.h's AffineCodes), so one template turns a block description into a Format.
// Only the registry and the ggml_*.cc files include this header.
#ifndef TRITIUM_FORMATS_GGML_COMMON_H_
#define TRITIUM_FORMATS_GGML_COMMON_H_

#include <cstdint>
#include <string>

#include "src/base/fp16.h"
#include "src/formats/format.h"

namespace tritium::formats_internal {

struct GgmlBlockType {
  const char* name;
  int block;           // weights per block
  size_t block_bytes;  // bytes per block
  int sub;             // weights per (s, m)
  int code_min, code_max;
  // Decodes one block: codes[block], s[block / sub], m[block / sub].
  void (*decode_block)(const uint8_t* blk, int8_t* codes, float* s, float* m);
  // Byte offsets of the block's fp16 fields (scales and minimums), which must be finite.
  int n_f16;
  int f16_offset[2];
  // Further checks of untrusted bytes, or nullptr: returns a description of the fault, or nullptr.
  const char* (*check_block)(const uint8_t* blk);
};

inline uint16_t GgmlLoad16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline float GgmlLoadF16(const uint8_t* p) { return F16ToF32(GgmlLoad16(p)); }

template <const GgmlBlockType& T>
Status GgmlCheckParams(int64_t cols, const FormatParams& p) {
  if (cols < 1) return InvalidArgumentError(std::string(T.name) + ": cols must be >= 1");
  if (p.planes != 0 || p.group != 0 || p.bits != 0) {
    return InvalidArgumentError(std::string(T.name) + ": takes no planes/group/bits parameters");
  }
  if (cols % T.block != 0) {
    return InvalidArgumentError(std::string(T.name) + ": cols (" + std::to_string(cols) +
                                ") must be a multiple of " + std::to_string(T.block));
  }
  return OkStatus();
}

template <const GgmlBlockType& T>
size_t GgmlRowBytes(int64_t cols, const FormatParams&) {
  return static_cast<size_t>(cols / T.block) * T.block_bytes;
}

template <const GgmlBlockType& T>
void GgmlDecodeRow(const uint8_t* src, int64_t cols, int8_t* codes, float* s, float* m) {
  for (int64_t b = 0; b < cols / T.block; ++b) {
    T.decode_block(src + b * T.block_bytes, codes + b * T.block, s + b * (T.block / T.sub),
                   m + b * (T.block / T.sub));
  }
}

template <const GgmlBlockType& T>
void GgmlDequantize(const uint8_t* src, float* dst, int64_t cols, const FormatParams&) {
  int8_t codes[256];
  float s[16], m[16];
  for (int64_t b = 0; b < cols / T.block; ++b) {
    T.decode_block(src + b * T.block_bytes, codes, s, m);
    float* y = dst + b * T.block;
    for (int j = 0; j < T.block; ++j) {
      y[j] = s[j / T.sub] * static_cast<float>(codes[j]) + m[j / T.sub];
    }
  }
}

template <const GgmlBlockType& T>
Status GgmlValidate(const uint8_t* src, int64_t cols, const FormatParams&) {
  for (int64_t b = 0; b < cols / T.block; ++b) {
    const uint8_t* blk = src + b * T.block_bytes;
    for (int i = 0; i < T.n_f16; ++i) {
      if ((GgmlLoad16(blk + T.f16_offset[i]) & 0x7c00) == 0x7c00) {
        return DataLossError(std::string(T.name) + ": non-finite scale in block " +
                             std::to_string(b));
      }
    }
    if (T.check_block != nullptr) {
      if (const char* fault = T.check_block(blk); fault != nullptr) {
        return DataLossError(std::string(T.name) + ": " + fault + " in block " +
                             std::to_string(b));
      }
    }
  }
  return OkStatus();
}

template <const GgmlBlockType& T>
inline constexpr AffineCodes kGgmlAffine = {T.sub, T.code_min, T.code_max, GgmlDecodeRow<T>};

// The Format of a block type: ggml's files are read, never written, so there is no encoder.
template <const GgmlBlockType& T>
constexpr Format GgmlFormat(FormatId id) {
  return {id,      T.name,  GgmlCheckParams<T>, GgmlRowBytes<T>, GgmlDequantize<T>, GgmlValidate<T>,
          nullptr, nullptr, &kGgmlAffine<T>};
}

// The k-quants' 12-byte field of eight 6-bit scales and eight 6-bit minimums (Q4_K, Q5_K):
// entries 0-3 are the low 6 bits of bytes 0-3 (scales) and 4-7 (minimums); entries 4-7 take their
// low 4 bits from the nibbles of bytes 8-11 and their top 2 bits from the top bits of bytes 0-7.
inline void GgmlScaleMinK4(int j, const uint8_t* q, int* sc, int* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace tritium::formats_internal

#endif  // TRITIUM_FORMATS_GGML_COMMON_H_
