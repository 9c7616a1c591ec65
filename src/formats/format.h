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
  kQ8_0 = 8,  // ggml's q8_0: blocks of 32, fp16 scale + 32 int8
  kBF16 = 30,
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
};

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
