// Scalar twins of the integer-format kernels, plus what every target shares: the layout accessors
// and activation quantization (quant_kernels.h).
#include "src/kernels/cpu/quant_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "src/base/cpu_features.h"
#include "src/base/fp16.h"
#include "src/base/status.h"

namespace tritium {

namespace {

int32_t QuantizeValue(float v) {
  // Round half away from zero: one fixed rule every target reproduces.
  int32_t q = static_cast<int32_t>(v + (v >= 0.0f ? 0.5f : -0.5f));
  return std::clamp(q, -127, 127);
}

// Byte and shift of (row, k, col) inside the repacked data.
size_t CodeByte(const QMatrix& w, int64_t row, int k, int64_t col, int* shift) {
  const int g = static_cast<int>(col / w.group), c = static_cast<int>(col % w.group);
  const int rb = w.row_block(), r = static_cast<int>(row % rb);
  size_t off = static_cast<size_t>(w.block_group(row / rb, g) - w.data) + w.scale_bytes() +
               k * w.plane_bytes();
  if (w.kind == QKind::kTritB3) {
    *shift = r % 5;  // the digit
    return off + 64 * (c / 4) + 4 * (r / 5) + c % 4;
  }
  if (w.kind == QKind::kTrit) {
    *shift = 2 * ((c % 16) / 4);
    return off + 32 * (c / 16) + 4 * r + c % 4;
  }
  if (w.kind == QKind::kInt8) {
    *shift = 0;
    return off + 32 * (c / 4) + 4 * r + c % 4;
  }
  *shift = 4 * ((c % 8) / 4);
  return off + 32 * (c / 8) + 4 * r + c % 4;
}

// One row of one token, in the order of operations every target follows (see the header).
float ScalarRowToken(const QMatrix& w, const QActs& a, int64_t row, int64_t t) {
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const int8_t* qn = a.nat.data() + static_cast<size_t>(t) * a.nat_stride;
  const float* d = a.d.data() + static_cast<size_t>(t) * ng;
  const int32_t* qs = a.sum.data() + static_cast<size_t>(t) * ng;
  float y = 0.0f;
  for (int g0 = 0; g0 < ng; g0 += gpb) {
    float acc = 0.0f;
    for (int g = g0; g < std::min(ng, g0 + gpb); ++g) {
      const int n = w.group_len(g);
      const int64_t c0 = static_cast<int64_t>(g) * w.group;
      const int8_t* q = qn + c0;
      if (w.trit()) {
        for (int k = 0; k < w.planes; ++k) {
          int32_t s = -qs[g];
          for (int j = 0; j < n; ++j) s += QGetCode(w, row, k, c0 + j) * q[j];
          acc = std::fma(static_cast<float>(s), QGetScale(w, row, g, k) * d[g], acc);
        }
      } else {
        int32_t s = w.offset * qs[g];
        for (int j = 0; j < n; ++j) s += QGetCode(w, row, 0, c0 + j) * q[j];
        acc = std::fma(static_cast<float>(s), QGetScale(w, row, g, 0) * d[g], acc);
        acc = std::fma(static_cast<float>(qs[g]), QGetScale(w, row, g, 1) * d[g], acc);
      }
    }
    y += acc;
  }
  return y;
}

void GemvScalar(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y) {
  const int rb = w.row_block();
  for (int64_t row = b0 * rb; row < std::min(w.rows, b1 * rb); ++row) {
    y[row] = ScalarRowToken(w, a, row, 0);
  }
}

void GemmScalar(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
                int64_t y_stride) {
  const int rb = w.row_block();
  for (int64_t row = b0 * rb; row < std::min(w.rows, b1 * rb); ++row) {
    for (int64_t t = 0; t < a.n_tokens; ++t) y[t * y_stride + row] = ScalarRowToken(w, a, row, t);
  }
}

}  // namespace

size_t QMatrixBytes(QKind kind, int64_t rows, int64_t cols, int group, int planes) {
  QMatrix m;
  m.kind = kind;
  m.cols = cols;
  m.group = group;
  m.planes = planes;
  const int64_t blocks = (rows + m.row_block() - 1) / m.row_block();
  return static_cast<size_t>(blocks) * m.n_groups() * m.block_group_bytes();
}

int QGetCode(const QMatrix& w, int64_t row, int k, int64_t col) {
  int shift;
  const size_t byte = CodeByte(w, row, k, col, &shift);
  if (w.kind == QKind::kInt8) return static_cast<int8_t>(w.data[byte]);
  if (w.kind == QKind::kTritB3) {
    const int v = w.data[byte], top = (v >> 2) / (kTritB3Weight[4] / 4);
    return shift == 4 ? top : (v - kTritB3Weight[4] * top) / kTritB3Weight[shift] % 3;
  }
  return (w.data[byte] >> shift) & (w.kind == QKind::kTrit ? 3 : 15);
}

void QSetTritCode(const QMatrix& w, int64_t row, int k, int64_t col, int code) {
  TRITIUM_CHECK(w.trit() && code >= 0 && code <= 2);
  int shift;
  const size_t byte = CodeByte(w, row, k, col, &shift);
  uint8_t* p = const_cast<uint8_t*>(w.data) + byte;
  if (w.kind == QKind::kTritB3) {
    *p = static_cast<uint8_t>(*p + (code - 1) * kTritB3Weight[shift]);
  } else {
    *p = static_cast<uint8_t>((*p & ~(3 << shift)) | code << shift);
  }
}

uint8_t* QScalePtr(const QMatrix& w, int64_t row, int g, int which) {
  const int rb = w.row_block(), r = static_cast<int>(row % rb);
  // kTritB3 keeps the scales of rows 5 l + s at 16 s + l, the lanes of decoded digit s.
  const int slot = w.kind == QKind::kTritB3 ? 16 * (r % 5) + r / 5 : r;
  return const_cast<uint8_t*>(w.block_group(row / rb, g)) + 2 * (which * rb + slot);
}

float QGetScale(const QMatrix& w, int64_t row, int g, int which) {
  uint16_t h;
  std::memcpy(&h, QScalePtr(w, row, g, which), 2);
  return F16ToF32(h);
}

void QTritB3Expand(const QKernels& k, const QMatrix& w, const QActs& a, int64_t b0, int64_t b1,
                   float* y, int64_t y_stride, bool gemv) {
  TRITIUM_CHECK(w.kind == QKind::kTritB3);
  thread_local std::vector<uint8_t> buf;
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t row0 = b * kQRowBlockB3;
    QMatrix e;
    e.kind = QKind::kTrit;
    e.rows = std::min<int64_t>(kQRowBlockB3, w.rows - row0);
    e.cols = w.cols;
    e.blocks = (e.rows + kQRowBlock - 1) / kQRowBlock;
    e.group = w.group;
    e.planes = w.planes;
    buf.assign(QMatrixBytes(e.kind, e.rows, e.cols, e.group, e.planes) + kQOverread, 0x55);
    e.data = buf.data();
    const int ng = w.n_groups();
    for (int64_t r = 0; r < e.rows; ++r) {
      for (int g = 0; g < ng; ++g) {
        for (int p = 0; p < w.planes; ++p) {
          std::memcpy(QScalePtr(e, r, g, p), QScalePtr(w, row0 + r, g, p), 2);
        }
      }
      for (int p = 0; p < w.planes; ++p) {
        for (int64_t c = 0; c < w.cols; ++c) QSetTritCode(e, r, p, c, QGetCode(w, row0 + r, p, c));
      }
    }
    if (gemv) {
      k.gemv(e, a, 0, e.blocks, y + row0);
    } else {
      k.gemm(e, a, 0, e.blocks, y + row0, y_stride);
    }
  }
}

void QActsResize(const QMatrix& w, int64_t n_tokens, QActs* a) {
  a->n_tokens = n_tokens;
  a->n_groups = w.n_groups();
  a->nat_stride = static_cast<size_t>(a->n_groups) * w.group;
  // Slots past a group's end must read as zero: assign, not resize, so no stale values remain.
  a->nat.assign(a->nat_stride * n_tokens + kQOverread, 0);
  a->tiled.assign(n_tokens > 1 ? a->nat_stride * n_tokens + kQOverread : 0, 0);
  a->d.assign(static_cast<size_t>(a->n_groups) * n_tokens, 0.0f);
  a->sum.assign(a->d.size(), 0);
}

void QuantizeActs(const QMatrix& w, const float* x, int64_t t0, int64_t t1, QActs* a) {
  const int ng = a->n_groups;
  for (int64_t t = t0; t < t1; ++t) {
    const float* xt = x + t * w.cols;
    int8_t* qn = a->nat.data() + static_cast<size_t>(t) * a->nat_stride;
    for (int g = 0; g < ng; ++g) {
      const int n = w.group_len(g);
      const float* xg = xt + static_cast<int64_t>(g) * w.group;
      float amax = 0.0f;
      for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(xg[j]));
      const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
      int8_t* q = qn + static_cast<size_t>(g) * w.group;
      int32_t sum = 0;
      for (int j = 0; j < n; ++j) {
        q[j] = static_cast<int8_t>(QuantizeValue(xg[j] * id));
        sum += q[j];
      }
      a->d[t * ng + g] = amax / 127.0f;
      a->sum[t * ng + g] = sum;
    }
    if (a->n_tokens > 1) {
      const int64_t tile0 = t / kQTokenTile * kQTokenTile;
      const int64_t T = std::min<int64_t>(kQTokenTile, a->n_tokens - tile0);
      int8_t* dst = a->tiled.data() + tile0 * a->nat_stride + 4 * (t - tile0);
      for (size_t p = 0; p < a->nat_stride / 4; ++p) std::memcpy(dst + 4 * p * T, qn + 4 * p, 4);
    }
  }
}

void QGemmTiles(const QMatrix& w, const QActs& a, int64_t b0, int64_t b1, float* y,
                int64_t y_stride, const int* sizes, const QTileFn* fns) {
  constexpr int64_t kRowBlocksPerPass = 16;
  const int ng = w.n_groups(), gpb = w.groups_per_col_block();
  const int64_t nt = a.n_tokens;
  alignas(32) float fa[kQTokenTile * kQRowBlock];
  for (int g0 = 0; g0 < ng; g0 += gpb) {
    const int g1 = std::min(ng, g0 + gpb);
    for (int64_t bp = b0; bp < b1; bp += kRowBlocksPerPass) {
      for (int64_t u0 = 0; u0 < nt; u0 += kQTokenTile) {
        const int64_t tile_n = std::min<int64_t>(kQTokenTile, nt - u0);
        const size_t qstride = 4 * static_cast<size_t>(tile_n);
        for (int64_t b = bp; b < std::min(b1, bp + kRowBlocksPerPass); ++b) {
          const int64_t row0 = b * kQRowBlock;
          const int nr = static_cast<int>(std::min<int64_t>(kQRowBlock, w.rows - row0));
          int si = 0;
          for (int64_t t = u0; t < u0 + tile_n;) {
            while (sizes[si] > u0 + tile_n - t) ++si;
            const int T = sizes[si];
            std::memset(fa, 0, sizeof(float) * kQRowBlock * T);
            fns[si](w, a, b, g0, g1, a.tile(u0) + 4 * (t - u0), qstride, t, fa);
            for (int tt = 0; tt < T; ++tt) {
              float* yr = y + (t + tt) * y_stride + row0;
              for (int r = 0; r < nr; ++r) yr[r] = (g0 == 0 ? 0.0f : yr[r]) + fa[8 * tt + r];
            }
            t += T;
          }
        }
      }
    }
  }
}

const QKernels kQKernelsScalar = {GemvScalar, GemmScalar, "scalar"};

const QKernels& BestQKernels() {
  const CpuFeatures& f = GetCpuFeatures();
#if defined(__x86_64__)
  if (f.avx512_vnni) return kQKernelsAvx512;
  if (f.avx2_fma) return kQKernelsAvx2;
#elif defined(__aarch64__)
  if (f.neon_dotprod) return kQKernelsNeon;
#endif
  (void)f;
  return kQKernelsScalar;
}

}  // namespace tritium
