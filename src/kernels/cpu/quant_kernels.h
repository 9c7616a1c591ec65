// Multiplication-free kernels for the integer weight formats (TRIT_PLANES, INT_G with B = 4) on
// repacked weights (src/kernels/prepared_weight.h), with their scalar twins.
//
// Repacked layout (private to the kernels; the file keeps the portable format). Rows are taken in
// blocks of kQRowBlock = 8; every group gets a slot of G columns (a ragged last group is padded
// with code 1 = trit 0, and padding rows have zero scales). Block b, group g occupies
// BlockGroupBytes() bytes at (b * n_groups + g) * BlockGroupBytes():
//   TRIT_PLANES K planes:  [K x 8 fp16 scales a[k][r]]  [plane 0: G/16 chunks of 32 bytes] ...
//     byte 4 r + i of chunk j holds, in bits 2 s .. 2 s + 1, the code t + 1 (0, 1, 2) of row r,
//     column 16 j + 4 s + i of the group. 2 bits a trit: K (16 + 2 G) bytes per 8 rows, e.g.
//     4.25 bits per weight at K = 2, G = 128 (the file's base-3 packing has 3.5; docs/kernels.md
//     explains why the kernels stream the larger form).
//   INT_G B = 2, 3, 4 (kIntG4): [8 fp16 scales s[r]][8 fp16 minimums m[r]]  [G/8 chunks of 32
//     bytes]; byte 4 r + i of chunk j: low nibble = code of row r, column 8 j + i; high nibble =
//     column 8 j + 4 + i. (B = 2 and 3 take the 4-bit layout too: one kernel, B = 4's speed.)
//   Q8_0 and INT_G B = 8 (kInt8): [8 fp16 s[r]][8 fp16 m[r]]  [G/4 chunks of 32 bytes]; byte
//     4 r + i of chunk j = int8 value v of row r, column 4 j + i. Q8_0: v is the stored value,
//     m = 0, G = 32; INT_G B = 8: v = code - 128 (offset 128).
// So one 32-byte vector, masked (and shifted), gives 4 columns of 8 rows, and an activation
// quadruple broadcast to all lanes meets it in one u8 x s8 dot step (maddubs / dpbusd / sdot
// by lane): every lane ends as one row's sum, with no horizontal reductions.
//   TRIT_PLANES in base 3 (kTritB3, the dense layout: 1.6 bits a trit, 3.45 bits per weight at
//     K = 2, G = 128; built only for CPUs with AVX-512 VBMI, see PreparedWeight). Rows go in
//     blocks of kQRowBlockB3 = 80: [K x 80 fp16 scales, plane k's of row 5 l + s at 2 (80 k + 16 s
//     + l)]  [plane 0: G/4 vectors of 64 bytes] ... Byte 4 l + i of vector p holds the codes of
//     rows 5 l + s, s = 0..4, at column 4 p + i of the group, as v = c0 + 3 c1 + 9 c2 + 27 c3 +
//     84 c4 (84 = 4 x 21 rather than 81, so that the top digit is a function of v >> 2 alone and
//     one 64-entry byte permute finds it). A 64-byte vector thus decodes to five vectors of codes,
//     one per s, each holding 4 columns of 16 rows (lane l = row 5 l + s), which meet a broadcast
//     activation quadruple in one dpbusd each. Kernels without a decoder of their own run it by
//     expanding one 80-row block at a time to the 2-bit layout (QTritB3Expand).
//
// Arithmetic (the same in every target, so that SIMD results equal the scalar twin bit for bit):
//  * Activations are quantized per token and per weight group g: d = amax / 127,
//    q_j = round-half-away(x_j * (127 / amax)) in [-127, 127], Q = sum_j q_j.
//  * TRIT_PLANES: I_k = sum_j c_kj q_j - Q = sum_j t_kj q_j, exact in integers; per group and plane
//    one float step acc = fma(float(I_k), a_k * d, acc), planes in order.
//  * INT_G, Q8_0: C = sum_j code_j q_j (kInt8: sum_j v_j q_j + offset Q), then
//    acc = fma(float(C), s * d, acc), acc = fma(float(Q), m * d, acc). x86 multiplies the signed
//    int8 values as |v| (u8) x sign(q, v) (s8).
//  * Columns are cut into blocks of kColBlockCols (rounded to whole groups); acc starts at 0 in
//    every block and y += acc at the end of each block, blocks in order. GEMV and GEMM both follow
//    this order, so a token's output depends neither on the batch it came in nor on the threads.
#ifndef TRITIUM_KERNELS_CPU_QUANT_KERNELS_H_
#define TRITIUM_KERNELS_CPU_QUANT_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tritium {

// Rows per block: one 32-byte vector holds 4 columns of this many rows.
constexpr int kQRowBlock = 8;
// Rows per block of the base-3 layout (16 lanes x 5 digits).
constexpr int kQRowBlockB3 = 80;
// Column blocking shared by every target (see above).
constexpr int64_t kColBlockCols = 2048;
// Tokens per GEMM tile (the activations of a tile are stored interleaved, see QActs).
constexpr int kQTokenTile = 12;
// Bytes a kernel may read past the end of packed data or activations.
constexpr size_t kQOverread = 64;

enum class QKind { kTrit, kIntG4, kInt8, kTritB3 };

// A repacked matrix (layout above).
struct QMatrix {
  QKind kind = QKind::kTrit;
  int64_t rows = 0, cols = 0;  // logical rows
  int64_t blocks = 0;          // ceil(rows / row_block())
  int group = 0, planes = 0;   // planes = 1 except for kTrit
  int offset = 0;              // kInt8: 128 for INT_G B = 8 (v = code - 128), 0 for Q8_0
  const uint8_t* data = nullptr;
  int n_groups() const { return static_cast<int>((cols + group - 1) / group); }
  int group_len(int g) const {
    return g + 1 < n_groups() || cols % group == 0 ? group : static_cast<int>(cols % group);
  }
  int groups_per_col_block() const {
    return static_cast<int>((kColBlockCols + group - 1) / group);
  }
  bool trit() const { return kind == QKind::kTrit || kind == QKind::kTritB3; }
  int row_block() const { return kind == QKind::kTritB3 ? kQRowBlockB3 : kQRowBlock; }
  size_t scale_bytes() const {
    return kind == QKind::kTritB3 ? 2 * kQRowBlockB3 * planes : kind == QKind::kTrit ? 16 * planes : 32;
  }
  size_t plane_bytes() const {  // code bytes of one plane of a block-group: row_block() rows x G
    return static_cast<size_t>(group) * (kind == QKind::kTritB3 ? 16
                                         : kind == QKind::kTrit ? 2
                                         : kind == QKind::kIntG4 ? 4
                                                                 : 8);
  }
  size_t block_group_bytes() const { return scale_bytes() + planes * plane_bytes(); }
  const uint8_t* block_group(int64_t b, int g) const {
    return data + (static_cast<size_t>(b) * n_groups() + g) * block_group_bytes();
  }
};
// Bytes of the repacked form of a rows x cols matrix (without the overread margin).
size_t QMatrixBytes(QKind kind, int64_t rows, int64_t cols, int group, int planes);

// Readers of the layout, for the scalar twin and tests: the code (trit + 1, the INT_G code, or
// kInt8's signed value v) of (row, col) in plane k, and a scale of (row, group) as float (TRIT:
// which = plane; otherwise 0 = s, 1 = m).
int QGetCode(const QMatrix& w, int64_t row, int k, int64_t col);
float QGetScale(const QMatrix& w, int64_t row, int g, int which);
// Where plane k's scale of (row, group) lives in the repacked data (a writer's view).
uint8_t* QScalePtr(const QMatrix& w, int64_t row, int g, int which);
// Place values of a kTritB3 byte's digits s = 0..4 (layout above).
constexpr int kTritB3Weight[5] = {1, 3, 9, 27, 84};
// Writes a trit code (0, 1, 2) into a kTrit or kTritB3 matrix. A kTritB3 byte must start at
// kTritB3Zero (every digit code 1, trit 0); each call adds its digit's share.
constexpr uint8_t kTritB3Zero = 1 + 3 + 9 + 27 + 84;
static_assert(kTritB3Zero == kTritB3Weight[0] + kTritB3Weight[1] + kTritB3Weight[2] +
                                 kTritB3Weight[3] + kTritB3Weight[4]);
void QSetTritCode(const QMatrix& w, int64_t row, int k, int64_t col, int code);

// Activations of n tokens quantized per weight group.
//  nat:   per token a row of n_groups slots of `group` int8 (zero past a group's end);
//  tiled: the GEMM layout (only for n_tokens > 1). Tokens are cut into tiles of kQTokenTile (the
//         last one shorter); tile u of T tokens starts at byte 12 u * nat_stride and holds, for
//         each column quadruple p (column 4 p .. 4 p + 3 of the nat row), T x 4 bytes: token t's
//         quadruple at 4 (p T + t). A kernel broadcasts one token's quadruple with one load.
struct QActs {
  int64_t n_tokens = 0;
  int n_groups = 0;
  size_t nat_stride = 0;  // bytes per token
  std::vector<int8_t> nat, tiled;
  std::vector<float> d;      // [token][group]
  std::vector<int32_t> sum;  // [token][group]
  const int8_t* tile(int64_t t0) const { return tiled.data() + t0 * nat_stride; }
};
// Sizes `a` for n_tokens (tiled only when n_tokens > 1).
void QActsResize(const QMatrix& w, int64_t n_tokens, QActs* a);
// Quantizes tokens [t0, t1) of x ([n x cols]) into `a`; disjoint ranges may run in parallel.
void QuantizeActs(const QMatrix& w, const float* x, int64_t t0, int64_t t1, QActs* a);

// Kernel entry points for row blocks [b0, b1); y[t * y_stride + r] for logical rows only. gemm
// reads QActs::tiled, so it needs n_tokens > 1 (MatMul sends one token to gemv).
struct QKernels {
  void (*gemv)(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y);
  void (*gemm)(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
               int64_t y_stride);
  const char* name;
};
// The GEMM loop every SIMD target shares. Per column block, row blocks go in passes of 16 (their
// weights stay in L2 while every token tile streams past them); each tile of QActs::tiled is cut
// into sub-tiles of sizes[] tokens (largest first, the last size 1). fns[i] runs sizes[i] tokens x
// 8 rows of block b over groups [g0, g1): tq = the sub-tile's first token in the tile, qstride =
// bytes per column quadruple of the tile, t0 = that token's index; it adds into fa[t][8], zeroed
// here. Then y = (earlier column blocks, or 0) + fa, as the GEMV and the scalar twin do.
using QTileFn = void (*)(const QMatrix& w, const QActs& a, int64_t b, int g0, int g1,
                         const int8_t* tq, size_t qstride, int64_t t0, float* fa);
void QGemmTiles(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
                int64_t y_stride, const int* sizes, const QTileFn* fns);

// kTritB3 for kernels that have no base-3 decoder: each 80-row block is expanded to the 2-bit
// layout in a thread-local buffer and run by `k` (same arithmetic, so the same bits).
void QTritB3Expand(const QKernels& k, const QMatrix& w, const QActs& a, int64_t b0, int64_t b1,
                   float* y, int64_t y_stride, bool gemv);
// The AVX-512 VBMI decoders of kTritB3 (quant_kernels_avx512vbmi.cc); only for CPUs with VBMI.
void QTritB3GemvVbmi(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y);
void QTritB3GemmVbmi(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
                     int64_t y_stride);

extern const QKernels kQKernelsScalar;
extern const QKernels kQKernelsAvx2;
extern const QKernels kQKernelsAvx512;
extern const QKernels kQKernelsNeon;
// The best kernels for this CPU (honours TRITIUM_CPU).
const QKernels& BestQKernels();

}  // namespace tritium

#endif  // TRITIUM_KERNELS_CPU_QUANT_KERNELS_H_
