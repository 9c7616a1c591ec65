#include "src/base/cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace tritium {

namespace {

CpuFeatures Detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // F16C from CPUID leaf 1 (ECX bit 29): clang's __builtin_cpu_supports does not know "f16c".
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  f.avx512_vnni = f.avx2_fma && __builtin_cpu_supports("avx512f") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
  f.avx512_vbmi = f.avx512_vnni && __builtin_cpu_supports("avx512vbmi");
#elif defined(__aarch64__) && defined(__linux__)
  // Asked of the kernel at run time: this file is built for baseline armv8-a, so the compiler's
  // __ARM_FEATURE_DOTPROD says nothing about the CPU the binary runs on.
  f.neon_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
  f.neon_dotprod = true;  // other systems: only when the whole build targets dotprod
#endif
  if (const char* cap = std::getenv("TRITIUM_CPU"); cap != nullptr) {
    if (std::strcmp(cap, "scalar") == 0) {
      f = CpuFeatures();
    } else if (std::strcmp(cap, "avx2") == 0) {
      f.avx512_vnni = false;
      f.avx512_vbmi = false;
    }
  }
  return f;
}

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

std::string CpuFeaturesString() {
  const CpuFeatures& f = GetCpuFeatures();
  if (f.avx512_vbmi) return "AVX512_VNNI+VBMI";
  if (f.avx512_vnni) return "AVX512_VNNI";
  if (f.avx2_fma) return "AVX2";
  if (f.neon_dotprod) return "NEON_DOTPROD";
  return "SCALAR";
}

}  // namespace tritium
