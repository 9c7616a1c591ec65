// Weight formats: how a row-major [rows x cols] matrix is laid out in bytes. Every format packs each
// row independently into row_bytes(cols) bytes, so a matrix is rows * row_bytes bytes and any row can
// be located without an index. The layout never depends on SIMD width; kernels may repack at load.
//
// A Format is the bits only. The algorithm that chooses them is a Method (src/quant), and which tensor
// gets which format is a Recipe (src/quant/recipe.h).
#ifndef TRITIUM_FORMATS_FORMAT_H_
#define TRITIUM_FORMATS_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "src/base/status.h"

namespace tritium {

// Explicit, never-reused ids. Ids < 1000 are ggml's own type ids, used for formats that are
// byte-identical to ggml's (so llama.cpp reads those tensors); ids in [1000, 2000) are tritium's
// own, a range no ggml type uses, so other GGUF readers refuse our tensors instead of misreading them.
enum class FormatId : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,  // ggml's block types, read as they are (src/formats/ggml_*.cc)
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,  // ggml's q8_0: blocks of 32, fp16 scale + 32 int8
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kIQ4_NL = 20,
  kIQ4_XS = 23,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kTritPlanes = 1000,
  kIntG = 1001,
};

// Parameters a format needs beyond its id (stored per tensor in the file's tritium.* metadata).
struct FormatParams {
  int planes = 0;  // TRIT_PLANES: K in 1..4
  int group = 0;   // TRIT_PLANES, INT_G: group size G (32, 64, 128, 256)
  int bits = 0;    // INT_G: B in {2, 3, 4, 8}
  bool operator==(const FormatParams&) const = default;
};

// A format whose rows are small integer codes with a scale and an offset per sub-block of `sub`
// weights: x[j] = s[j / sub] * code[j] + m[j / sub]. Kernels that run integer codes repack such a
// format without going through floats (src/kernels/prepared_weight.cc).
struct AffineCodes {
  int sub;                 // weights per (s, m) pair
  int code_min, code_max;  // every code lies in [code_min, code_max]
  // Decodes one row (cols a multiple of sub): codes[cols], s[cols / sub], m[cols / sub]. s and m
  // are the exact float products the reference decoder uses.
  void (*decode_row)(const uint8_t* src, int64_t cols, int8_t* codes, float* s, float* m);
};

struct Format {
  FormatId id;
  const char* name;  // "F32", "TRIT_PLANES", ...
  // Checks params (and that cols is acceptable); used before any other call. Fields of FormatParams
  // a format does not use must be 0, so each tensor's stored params have exactly one spelling.
  Status (*check_params)(int64_t cols, const FormatParams& p);
  // Bytes of one packed row of `cols` weights.
  size_t (*row_bytes)(int64_t cols, const FormatParams& p);
  // Decodes one packed row to floats (the reference decoder: kernels are tested against it).
  void (*dequantize_row)(const uint8_t* src, float* dst, int64_t cols, const FormatParams& p);
  // Screens one packed row from an untrusted file: non-finite scales, out-of-range codes.
  Status (*validate_row)(const uint8_t* src, int64_t cols, const FormatParams& p);
  // Encodes one float row directly, where the format has a canonical encoder (F32/F16/BF16/Q8_0 and
  // round-to-nearest for INT_G); nullptr where the bits come only from a Method (TRIT_PLANES).
  void (*quantize_row)(const float* src, uint8_t* dst, int64_t cols, const FormatParams& p);
  // The format's documented error bound for quantize_row: writes, for each finite src[i], the
  // largest |src[i] - dequantize(dst)[i]| the encoder allows, computed from src and the packed row
  // dst that quantize_row produced (bounds usually depend on the stored scales). nullptr iff
  // quantize_row is. Lets the conformance test check every format, including ones added later.
  void (*error_bound_row)(const float* src, const uint8_t* dst, float* bound, int64_t cols,
                          const FormatParams& p);
  // The format as integer codes (see AffineCodes), or nullptr. Only for parameterless formats.
  const AffineCodes* affine = nullptr;
};

// ggml's name of a ggml type id ("Q4_K", "IQ2_XXS"), for messages about types tritium cannot
// read; nullptr for an id ggml never used.
const char* GgmlTypeName(uint32_t raw_id);

// The registry: every format tritium knows. Returns nullptr for an unknown id.
const Format* FindFormat(FormatId id);
const Format* FindFormatByRawId(uint32_t raw_id);
const Format* FindFormatByName(const std::string& name);  // case-insensitive
// All registered formats, for conformance tests.
const Format* const* AllFormats(size_t* count);

// Bits per weight of a [rows x cols] tensor in this format, everything counted (scales, zeros,
// padding): 8 * rows * row_bytes / (rows * cols).
double BitsPerWeight(const Format& f, int64_t cols, const FormatParams& p);

}  // namespace tritium

#endif  // TRITIUM_FORMATS_FORMAT_H_
