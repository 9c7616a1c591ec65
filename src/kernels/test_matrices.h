// Random weight matrices in the integer formats and random activations, for the kernel tests:
// src/kernels/trit_kernels_test.cc (GoogleTest, x86) and tests/neon/kernels_twin_main.cc (plain
// main, AArch64 under qemu). Header-only so both builds take it as it is.
#ifndef TRITIUM_KERNELS_TEST_MATRICES_H_
#define TRITIUM_KERNELS_TEST_MATRICES_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/matmul.h"

namespace tritium {
namespace test {

struct Packed {
  std::vector<uint8_t> data;
  WeightView view;
};

// A random TRIT_PLANES matrix (trits uniform in {-1,0,1}, scales in [0, 1), some negative).
inline Packed RandomTrit(int64_t rows, int64_t cols, int K, int G, uint32_t seed) {
  std::mt19937 rng(seed);
  const Format* f = FindFormat(FormatId::kTritPlanes);
  FormatParams p;
  p.planes = K;
  p.group = G;
  Packed m;
  const size_t rb = f->row_bytes(cols, p);
  m.data.resize(rb * rows);
  std::vector<int8_t> trits(G);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = m.data.data() + r * rb;
    for (int64_t c0 = 0; c0 < cols; c0 += G) {
      const int n = static_cast<int>(std::min<int64_t>(G, cols - c0));
      for (int k = 0; k < K; ++k) {
        uint16_t h = F32ToF16(std::uniform_real_distribution<float>(-0.2f, 1.0f)(rng));
        std::memcpy(row + TritScaleOffset(k), &h, 2);
        for (int j = 0; j < n; ++j) trits[j] = static_cast<int8_t>(rng() % 3) - 1;
        PackTritGroup(trits.data(), n, row + TritPlaneOffset(n, K, k));
      }
      row += TritGroupBytes(n, K);
    }
  }
  m.view = WeightView{f, p, rows, cols, rb, m.data.data()};
  return m;
}

// INT_G with `bits` (2, 3, 4, 8), or Q8_0 when bits == 0 (G must then be 32).
inline Packed RandomIntG(int64_t rows, int64_t cols, int G, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const Format* f = FindFormat(bits == 0 ? FormatId::kQ8_0 : FormatId::kIntG);
  FormatParams p;  // bits == 0: Q8_0 (G must be 32)
  if (bits != 0) {
    p.bits = bits;
    p.group = G;
  }
  Packed m;
  const size_t rb = f->row_bytes(cols, p);
  m.data.resize(rb * rows);
  std::vector<float> wf(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : wf) v = nd(rng);
    f->quantize_row(wf.data(), m.data.data() + r * rb, cols, p);
  }
  m.view = WeightView{f, p, rows, cols, rb, m.data.data()};
  return m;
}

// A random matrix in a format with AffineCodes (ggml's block types): each block's bytes are drawn
// at random until the format's validator accepts them and every decoded scale and offset is within
// [-4, 4] (random fp16 scales would reach 65504 and leave the kernels' fp16); TQ2_0's code bytes
// are drawn from its valid fields (random bytes almost never avoid its forbidden 3). Blocks are the
// smallest row length the format accepts (32 or 256).
inline Packed RandomAffine(const Format* f, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  int64_t block = 1;
  while (!f->check_params(block, {}).ok()) ++block;
  const size_t bb = f->row_bytes(block, {});
  const int sub = f->affine->sub;
  Packed m;
  const size_t rb = f->row_bytes(cols, {});
  m.data.resize(rb * rows);
  std::vector<int8_t> codes(static_cast<size_t>(block));
  std::vector<float> s(static_cast<size_t>(block / sub)), mins(s.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < cols / block; ++b) {
      uint8_t* blk = m.data.data() + r * rb + b * bb;
      for (;;) {
        for (size_t i = 0; i < bb; ++i) {
          // TQ2_0 forbids the 2-bit field 3, which random bytes would almost never avoid.
          blk[i] = f->id != FormatId::kTQ2_0
                       ? static_cast<uint8_t>(rng())
                       : static_cast<uint8_t>(rng() % 3 | rng() % 3 << 2 | rng() % 3 << 4 |
                                              rng() % 3 << 6);
        }
        if (!f->validate_row(blk, block, {}).ok()) continue;
        f->affine->decode_row(blk, block, codes.data(), s.data(), mins.data());
        bool small = true;
        for (size_t i = 0; i < s.size(); ++i) small &= std::fabs(s[i]) <= 4 && std::fabs(mins[i]) <= 4;
        if (small) break;
      }
    }
  }
  m.view = WeightView{f, {}, rows, cols, rb, m.data.data()};
  return m;
}

inline std::vector<float> RandomActs(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = nd(rng);
  if (n > 3) x[3] = 20.0f;  // an outlier, as real activations have
  return x;
}

}  // namespace test
}  // namespace tritium

#endif  // TRITIUM_KERNELS_TEST_MATRICES_H_
