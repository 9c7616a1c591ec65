// AVX2 instance of the x86 integer-format kernels (quant_kernels_x86-inl.h): maddubs accumulates
// u8 x s8 pairs in int16 (at most 5 x 508 per lane within a group plane), madd by 1 widens.
#define QDOT(acc, u, s) _mm256_add_epi16((acc), _mm256_maddubs_epi16((u), (s)))
#define QWIDEN(acc, ones16) _mm256_madd_epi16((acc), (ones16))
#define QKERNELS_NAME kQKernelsAvx2
#define QKERNELS_STR "avx2"
// No byte permutes in AVX2: the base-3 layout is expanded to the 2-bit one (PreparedWeight builds
// it only for VBMI CPUs; this path serves tests and TRITIUM_CPU=avx2 on such a file).
#define QTRITB3_GEMV(w, a, b0, b1, y) QTritB3Expand(kQKernelsAvx2, w, a, b0, b1, y, 0, true)
#define QTRITB3_GEMM(w, a, b0, b1, y, ys) QTritB3Expand(kQKernelsAvx2, w, a, b0, b1, y, ys, false)
#include "src/kernels/cpu/quant_kernels_x86-inl.h"
