// Multiplication-free kernels for the integer weight formats (TRIT_PLANES, INT_G with B = 4) on
// repacked weights (src/kernels/prepared_weight.h), with their scalar twins.
//
// Arithmetic (the same in every target, so that SIMD results equal the scalar twin bit for bit):
//  * Activations are quantized per token and per weight group g (the G columns the group covers):
//    d = amax / 127, q_j = round-half-away(x_j * (127 / amax)) in [-127, 127], Q = sum_j q_j.
//  * TRIT_PLANES: trits are stored as codes c = t + 1 in {0, 1, 2}, so u8 x s8 instructions
//    (maddubs, dpbusd, sdot) apply; the integer I_k = sum_j c_kj q_j - Q = sum_j t_kj q_j is exact.
//    Per group and plane one float step: acc = fma(float(I_k), a_k * d, acc).
//  * INT_G (B = 4): C = sum_j code_j q_j, then acc = fma(float(C), s * d, acc),
//    acc = fma(float(Q), m * d, acc).
//  * Columns are cut into blocks of kColBlockCols (rounded to whole groups); acc starts at 0 in
//    every block and y += acc at the end of each block, blocks in order. GEMV and GEMM both follow
//    this order, so a token's output does not depend on the batch it came in, nor on the thread
//    split.
#ifndef TRITIUM_KERNELS_CPU_QUANT_KERNELS_H_
#define TRITIUM_KERNELS_CPU_QUANT_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tritium {

// Rows are interleaved in blocks of this many (the GEMV register tile).
constexpr int kQRowBlock = 4;
// Column blocking shared by every target (see above).
constexpr int64_t kColBlockCols = 2048;
// Bytes a kernel may read past the end of the packed data (unaligned 32-byte loads).
constexpr size_t kQOverread = 64;

enum class QKind { kTrit, kIntG4 };

// A repacked matrix. Rows are padded to a multiple of kQRowBlock (padding rows have zero scales).
// Block b (rows 4b..4b+3), group g, with n = length of group g:
//   [scales: TRIT: K x 4 fp16 (plane-major: a[k][r]); INT_G: 4 x (s, m) fp16]
//   [row 0 payload][row 1 payload][row 2 payload][row 3 payload]
// TRIT payload: K planes of TritPlaneBytes(n) bytes, each byte in the fixed-point form below.
// INT_G payload: the n/2 code bytes as stored (element 2i low nibble, 2i+1 high nibble).
// A block-group occupies 4 * (on-disk group bytes), so a block is 4 * row_bytes long.
struct QMatrix {
  QKind kind = QKind::kTrit;
  int64_t rows = 0, cols = 0;  // logical rows
  int64_t blocks = 0;          // ceil(rows / 4)
  int group = 0, planes = 0;   // planes = 1 for INT_G
  size_t row_bytes = 0;        // on-disk bytes of one row
  const uint8_t* data = nullptr;
  int n_groups() const { return static_cast<int>((cols + group - 1) / group); }
  int group_len(int g) const {
    return g + 1 < n_groups() || cols % group == 0 ? group : static_cast<int>(cols % group);
  }
  int groups_per_col_block() const {
    return static_cast<int>((kColBlockCols + group - 1) / group);
  }
};

// Fixed-point trit bytes: the 5 trits of an on-disk byte b (element 5i least significant) become
// codes c0..c4 (c = t + 1, c0 for element 5i) and m = ceil((81 c0 + 27 c1 + 9 c2 + 3 c3 + c4) *
// 256 / 243). Then c0 = floor(3 m / 256), and the next digit comes from m' = 3 m mod 256: a digit
// costs two compares and a shift-free x3, instead of a division by 3. Stored as m ^ 0x80 (signed
// compares work directly; x3 commutes with the ^ 0x80 offset modulo 256).
uint8_t TritFixedPointByte(uint8_t base3);
// The 5 codes of a fixed-point byte, by the same digit recurrence the SIMD kernels use.
void TritFixedPointCodes(uint8_t fp, uint8_t codes[5]);

// Activations of n tokens quantized per weight group, in two layouts:
//  natural: per token and group a slot of `group` int8 (zero past the group's end);
//  lanes:   the GEMV layout. TRIT: per group, for each 32-byte chunk of a plane's fixed-point
//           bytes, 5 vectors of 32 int8, vector n lane i = q of element 5 (32 chunk + i) + n
//           (0 past the end); INT_G: per 64-element chunk, 32 even elements then 32 odd ones.
struct QActs {
  int64_t n_tokens = 0;
  int n_groups = 0;
  size_t nat_stride = 0, lane_stride = 0, lane_slot = 0;  // bytes per token / per group
  std::vector<int8_t> nat, lanes;
  std::vector<float> d;      // [token][group]
  std::vector<int32_t> sum;  // [token][group]
};
// Bytes of a group's slot in the lanes layout.
size_t QLaneSlot(const QMatrix& w);
// Quantizes tokens [t0, t1) of x ([n x cols]) into `a` (already sized by QActsResize).
void QActsResize(const QMatrix& w, int64_t n_tokens, bool lanes, QActs* a);
void QuantizeActs(const QMatrix& w, const float* x, int64_t t0, int64_t t1, bool lanes, QActs* a);

// Kernel entry points for row blocks [b0, b1). y[t * y_stride + r] for logical rows only.
// Scratch is per thread and reused (GEMM decodes weight codes into it).
struct QKernels {
  void (*gemv)(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y);
  void (*gemm)(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
               int64_t y_stride, std::vector<uint8_t>* scratch);
  const char* name;
};
extern const QKernels kQKernelsScalar;
extern const QKernels kQKernelsAvx2;
extern const QKernels kQKernelsAvx512;
extern const QKernels kQKernelsNeon;
// The best kernels for this CPU (honours TRITIUM_CPU).
const QKernels& BestQKernels();

// Shared by the GEMM paths of every target: unpacks block b's codes for groups [g0, g1) into
// `codes` laid out [row 0..3][group g0..g1-1][plane][group slot of `group` bytes], codes in natural
// element order (c in {0,1,2} for trits, 0..15 for INT_G), and the float scales
// [group][plane][row] (TRIT: a; INT_G: s then m as planes 0 and 1) into `scales`.
void QDecodeBlock(const QMatrix& w, int64_t b, int g0, int g1, uint8_t* codes, float* scales);
size_t QDecodeBytes(const QMatrix& w);  // bytes `codes` needs for one column block

}  // namespace tritium

#endif  // TRITIUM_KERNELS_CPU_QUANT_KERNELS_H_
