// What the CPU running us can do, detected once. Kernels are chosen from this at the top of each
// public entry point; nothing below that branches on CPU features.
#ifndef TRITIUM_BASE_CPU_FEATURES_H_
#define TRITIUM_BASE_CPU_FEATURES_H_

#include <string>

namespace tritium {

struct CpuFeatures {
  bool avx2_fma = false;   // AVX2 + FMA + F16C
  bool avx512_vnni = false;  // AVX-512 F/BW/VL/DQ + VNNI
  bool avx512_vbmi = false;  // and VBMI (byte permutes: the base-3 trit decoder)
  bool neon_dotprod = false;
};

// Detected once; the TRITIUM_CPU environment variable ("scalar", "avx2", "avx512") caps the level,
// so tests and benchmarks can run every path the machine supports.
const CpuFeatures& GetCpuFeatures();
std::string CpuFeaturesString();

}  // namespace tritium

#endif  // TRITIUM_BASE_CPU_FEATURES_H_
