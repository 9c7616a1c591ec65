// AVX-512 VNNI instance of the x86 integer-format kernels (quant_kernels_x86-inl.h): vpdpbusd
// multiplies u8 x s8 and adds groups of 4 straight into int32, so there is no int16 stage and no
// widening step. 256-bit vectors (AVX512VL) keep the tile shapes, and the arithmetic, of the AVX2
// instance; the integers are exact in both, so the results are identical.
#define QDOT(acc, u, s) _mm256_dpbusd_epi32((acc), (u), (s))
#define QWIDEN(acc, ones16) ((void)(ones16), (acc))
#define QKERNELS_NAME kQKernelsAvx512
#define QKERNELS_STR "avx512_vnni"
// The base-3 layout has its decoder in quant_kernels_avx512vbmi.cc; a CPU with VNNI but without
// VBMI (PreparedWeight does not build the layout there, but a caller may) expands it instead.
#define QTRITB3_GEMV(w, a, b0, b1, y)                                                        \
  (GetCpuFeatures().avx512_vbmi ? QTritB3GemvVbmi(w, a, b0, b1, y)                           \
                                : QTritB3Expand(kQKernelsAvx512, w, a, b0, b1, y, 0, true))
#define QTRITB3_GEMM(w, a, b0, b1, y, ys)                                                    \
  (GetCpuFeatures().avx512_vbmi ? QTritB3GemmVbmi(w, a, b0, b1, y, ys)                       \
                                : QTritB3Expand(kQKernelsAvx512, w, a, b0, b1, y, ys, false))
#include "src/base/cpu_features.h"
#include "src/kernels/cpu/quant_kernels_x86-inl.h"
