// The GPU layouts, checked on the CPU: repacking then decoding the GPU layout must give exactly the
// format's reference decoder's floats, for every K, G and awkward column count. Runs without a GPU.
#include "src/kernels/cuda/repack.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "src/base/fp16.h"
#include "src/formats/format.h"
#include "src/formats/trit_planes.h"

namespace tritium::cuda {
namespace {

// A random TRIT_PLANES matrix in the on-disk layout (scales of both signs, some zero).
std::vector<uint8_t> RandomTritMatrix(int64_t rows, int64_t cols, int K, int G, std::mt19937* rng) {
  const size_t rb = TritRowBytes(cols, G, K);
  std::vector<uint8_t> data(static_cast<size_t>(rows) * rb);
  std::uniform_real_distribution<float> scale(-0.5f, 1.0f);
  std::uniform_int_distribution<int> trit(-1, 1);
  std::vector<int8_t> t(static_cast<size_t>(G));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* p = data.data() + r * rb;
    for (int64_t c0 = 0; c0 < cols; c0 += G) {
      const int n = static_cast<int>(std::min<int64_t>(G, cols - c0));
      for (int k = 0; k < K; ++k) {
        const float a = (*rng)() % 7 == 0 ? 0.0f : scale(*rng);
        const uint16_t h = F32ToF16(a);
        p[TritScaleOffset(k)] = static_cast<uint8_t>(h);
        p[TritScaleOffset(k) + 1] = static_cast<uint8_t>(h >> 8);
        for (int j = 0; j < n; ++j) t[j] = static_cast<int8_t>(trit(*rng));
        PackTritGroup(t.data(), n, p + TritPlaneOffset(n, K, k));
      }
      p += TritGroupBytes(n, K);
    }
  }
  return data;
}

WeightView View(const Format* f, const FormatParams& p, int64_t rows, int64_t cols,
                const std::vector<uint8_t>& data) {
  WeightView w;
  w.format = f;
  w.params = p;
  w.rows = rows;
  w.cols = cols;
  w.row_bytes = f->row_bytes(cols, p);
  w.data = data.data();
  return w;
}

void ExpectRowsEqual(const WeightView& w, const std::vector<float>& got_all, int64_t row) {
  std::vector<float> want(static_cast<size_t>(w.cols));
  w.format->dequantize_row(w.data + row * w.row_bytes, want.data(), w.cols, w.params);
  for (int64_t c = 0; c < w.cols; ++c) {
    // Bitwise: same sums in the same order.
    ASSERT_EQ(std::memcmp(&got_all[c], &want[c], 4), 0)
        << "row " << row << " col " << c << ": " << got_all[c] << " vs " << want[c];
  }
}

constexpr int64_t kCols[] = {1, 5, 16, 31, 64, 65, 127, 128, 130, 384, 1000, 2053};

TEST(RepackTest, TritPlanesMatchesReferenceDecoder) {
  const Format* f = FindFormat(FormatId::kTritPlanes);
  ASSERT_NE(f, nullptr);
  std::mt19937 rng(7);
  for (int K = 1; K <= 4; ++K) {
    for (int G : {32, 64, 128, 256}) {
      for (int64_t cols : kCols) {
        const int64_t rows = 3;
        FormatParams p;
        p.planes = K;
        p.group = G;
        auto data = RandomTritMatrix(rows, cols, K, G, &rng);
        WeightView w = View(f, p, rows, cols, data);
        auto m = RepackTritPlanes(w);
        ASSERT_TRUE(m.ok()) << m.status().message();
        EXPECT_EQ(m->cols_p % kGpuColAlign, 0);
        EXPECT_GE(m->cols_p, cols);
        EXPECT_EQ(m->codes.size(), static_cast<size_t>(rows * K * m->cols_p / 16));
        EXPECT_EQ(m->groups_p * G >= m->cols_p, true);
        std::vector<float> got(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
          DequantizeGpuRow(*m, r, got.data());
          SCOPED_TRACE("K=" + std::to_string(K) + " G=" + std::to_string(G) +
                       " cols=" + std::to_string(cols));
          ExpectRowsEqual(w, got, r);
          // Padding columns hold code 1 (trit 0) in every plane.
          for (int k = 0; k < K; ++k) {
            const uint32_t* plane = &m->codes[(r * K + k) * m->words_per_plane()];
            for (int64_t c = cols; c < m->cols_p; ++c) {
              const int64_t iw = c % 16;
              const int shift = static_cast<int>(16 * (iw % 2) + 2 * (iw / 2));
              ASSERT_EQ((plane[c / 16] >> shift) & 3u, 1u) << "padding col " << c;
            }
          }
        }
      }
    }
  }
}

TEST(RepackTest, TritBitPositionsAreAsDocumented) {
  // One row of 32 columns, K = 1, G = 32: trit +1 at column 3 only, -1 at column 18.
  const Format* f = FindFormat(FormatId::kTritPlanes);
  FormatParams p;
  p.planes = 1;
  p.group = 32;
  std::vector<uint8_t> data(TritRowBytes(32, 32, 1));
  const uint16_t one = F32ToF16(1.0f);
  data[0] = static_cast<uint8_t>(one);
  data[1] = static_cast<uint8_t>(one >> 8);
  int8_t t[32] = {};
  t[3] = 1;
  t[18] = -1;
  PackTritGroup(t, 32, data.data() + TritPlaneOffset(32, 1, 0));
  auto m = RepackTritPlanes(View(f, p, 1, 32, data));
  ASSERT_TRUE(m.ok());
  // Column 3 = 2*1 + 1: high half-word, shift 16 + 2. Code 2 there, 1 everywhere else.
  EXPECT_EQ(m->codes[0], (0x55555555u & ~(3u << 18)) | (2u << 18));
  // Column 18 = 16 + 2*1 + 0: word 1, low half-word, shift 2. Code 0.
  EXPECT_EQ(m->codes[1], 0x55555555u & ~(3u << 2));
  EXPECT_EQ(m->scales[0], one);
}

TEST(RepackTest, Int4MatchesReferenceDecoder) {
  const Format* f = FindFormat(FormatId::kIntG);
  ASSERT_NE(f, nullptr);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int G : {32, 64, 128, 256}) {
    for (int64_t cols : kCols) {
      const int64_t rows = 3;
      FormatParams p;
      p.bits = 4;
      p.group = G;
      const size_t rb = f->row_bytes(cols, p);
      std::vector<uint8_t> data(rows * rb);
      std::vector<float> src(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        for (auto& v : src) v = nd(rng) * (r + 1);
        f->quantize_row(src.data(), data.data() + r * rb, cols, p);
      }
      WeightView w = View(f, p, rows, cols, data);
      auto m = RepackInt4(w);
      ASSERT_TRUE(m.ok()) << m.status().message();
      std::vector<float> got(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeGpuRow(*m, r, got.data());
        SCOPED_TRACE("G=" + std::to_string(G) + " cols=" + std::to_string(cols));
        ExpectRowsEqual(w, got, r);
      }
    }
  }
}

TEST(RepackTest, RefusesOtherFormats) {
  const Format* f = FindFormat(FormatId::kIntG);
  FormatParams p;
  p.bits = 3;
  p.group = 32;
  std::vector<uint8_t> data(f->row_bytes(64, p), 0);
  WeightView w = View(f, p, 1, 64, data);
  EXPECT_FALSE(HasGpuKernel(w));
  EXPECT_FALSE(RepackInt4(w).ok());
  EXPECT_FALSE(RepackTritPlanes(w).ok());
  const Format* f32 = FindFormat(FormatId::kF32);
  std::vector<uint8_t> d32(64 * 4, 0);
  WeightView w32 = View(f32, FormatParams{}, 1, 64, d32);
  EXPECT_FALSE(HasGpuKernel(w32));
  EXPECT_EQ(DequantizeToF32(w32).size(), 64u);
}

}  // namespace
}  // namespace tritium::cuda
