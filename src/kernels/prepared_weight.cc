#include "src/kernels/prepared_weight.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "src/base/cpu_features.h"
#include "src/base/fp16.h"
#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/matmul.h"

namespace tritium {

namespace {
constexpr int kMaxGroup = 256;  // TRIT_PLANES' largest group
}  // namespace

namespace {

bool IsTernary(const AffineCodes& a) { return a.code_min >= -1 && a.code_max <= 1; }

// The kernel kind an AffineCodes format runs on (see Prepare).
QKind AffineKind(const AffineCodes& a) {
  if (IsTernary(a)) return QKind::kTrit;
  if (a.code_max - a.code_min <= 15) return QKind::kIntG4;
  return QKind::kInt8;
}

// fp16 bits of a finite float, or false when it does not fit.
bool ToF16(float v, uint8_t* dst) {
  const uint16_t h = F32ToF16(v);
  if ((h & 0x7c00) == 0x7c00) return false;
  std::memcpy(dst, &h, 2);
  return true;
}

// Writes the codes (0..2) of one row's plane k in group g, n of them, into a trit matrix of
// either layout (quant_kernels.h). Padding past n keeps the initial code 1.
void PutTritCodes(const QMatrix& m, int64_t row, int k, int g, const uint8_t* codes, int n) {
  const int rb = m.row_block(), r = static_cast<int>(row % rb);
  uint8_t* dst = const_cast<uint8_t*>(m.block_group(row / rb, g)) + m.scale_bytes() +
                 k * m.plane_bytes();
  if (m.kind == QKind::kTritB3) {
    // A byte is shared with the 4 other rows of its lane: each row adds its digit.
    const int weight = kTritB3Weight[r % 5];
    dst += 4 * (r / 5);
    for (int j = 0; j < n; ++j) {
      dst[64 * (j >> 2) + (j & 3)] += static_cast<uint8_t>((codes[j] - 1) * weight);
    }
    return;
  }
  // A byte belongs to this row alone: in each chunk of 16 trits, byte c holds trits c, c + 4,
  // c + 8, c + 12 in bits 0-1, 2-3, 4-5, 6-7, written whole.
  dst += 4 * r;
  for (int q = 0; q * 16 < n; ++q) {
    for (int c = 0; c < 4; ++c) {
      int byte = 0;
      for (int s = 0; s < 4; ++s) {
        const int j = 16 * q + 4 * s + c;
        byte |= (j < n ? codes[j] : 1) << (2 * s);
      }
      dst[32 * q + c] = static_cast<uint8_t>(byte);
    }
  }
}

// Repacks a matrix in an AffineCodes format (Prepare's comment has the mapping).
bool PrepareAffine(const WeightView& w, const AffineCodes& a, const QMatrix* m) {
  const int sub = a.sub;
  const int shift = m->kind == QKind::kIntG4 ? -a.code_min : 0;
  std::vector<int8_t> codes(static_cast<size_t>(w.cols));
  std::vector<float> s(static_cast<size_t>(w.cols / sub)), mins(s.size());
  for (int64_t row = 0; row < w.rows; ++row) {
    a.decode_row(w.data + static_cast<size_t>(row) * w.row_bytes, w.cols, codes.data(), s.data(),
                 mins.data());
    const int r = static_cast<int>(row % kQRowBlock);
    for (int g = 0; g < m->n_groups(); ++g) {
      uint8_t* bg = const_cast<uint8_t*>(m->block_group(row / m->row_block(), g));
      const int8_t* c = codes.data() + static_cast<size_t>(g) * sub;
      if (m->trit()) {
        if (mins[g] != 0.0f || !ToF16(s[g], QScalePtr(*m, row, g, 0))) return false;
        uint8_t tc[256];
        for (int j = 0; j < sub; ++j) tc[j] = static_cast<uint8_t>(c[j] + 1);
        PutTritCodes(*m, row, 0, g, tc, sub);
        continue;
      }
      // x = s c + m = s (c + shift) + (m - shift s): the 4-bit kind's codes start at 0.
      const float mm = mins[g] - static_cast<float>(shift) * s[g];
      if (!ToF16(s[g], bg + 2 * r) || !ToF16(mm, bg + 2 * (kQRowBlock + r))) return false;
      uint8_t* dst = bg + m->scale_bytes() + 4 * r;
      for (int j = 0; j < sub; ++j) {
        if (m->kind == QKind::kIntG4) {
          dst[32 * (j >> 3) + (j & 3)] |= static_cast<uint8_t>((c[j] + shift) << (4 * ((j >> 2) & 1)));
        } else {
          dst[32 * (j >> 2) + (j & 3)] = static_cast<uint8_t>(c[j]);
        }
      }
    }
  }
  return true;
}

}  // namespace

bool PreparedWeight::Supported(const WeightView& w) {
  if (w.format == nullptr || w.rows <= 0 || w.cols <= 0) return false;
  if (w.format->affine != nullptr) return w.cols % w.format->affine->sub == 0;
  switch (w.format->id) {
    case FormatId::kTritPlanes:
      return w.params.group % 16 == 0;
    case FormatId::kIntG:
      return w.params.group % 8 == 0;
    case FormatId::kQ8_0:
      return w.cols % 32 == 0;
    default:
      return false;
  }
}

bool PreparedWeight::Base3ByDefault() {
  static const bool base3 = [] {
    const char* env = std::getenv("TRITIUM_TRIT_LAYOUT");
    if (env != nullptr && std::strcmp(env, "2bit") == 0) return false;
#if defined(__x86_64__)
    return &BestQKernels() == &kQKernelsAvx512 && GetCpuFeatures().avx512_vbmi;
#else
    return false;  // only the AVX-512 VBMI kernels decode base 3 themselves
#endif
  }();
  return base3;
}

std::shared_ptr<const PreparedWeight> PreparedWeight::Prepare(const WeightView& w,
                                                              TritLayout layout) {
  if (!Supported(w)) return nullptr;
  std::shared_ptr<PreparedWeight> p(new PreparedWeight());
  QMatrix& m = p->m_;
  const FormatId id = w.format->id;
  const AffineCodes* affine = w.format->affine;
  const bool trit = id == FormatId::kTritPlanes || (affine != nullptr && IsTernary(*affine));
  const int bits = id == FormatId::kIntG ? w.params.bits : 8;
  m.kind = affine != nullptr ? AffineKind(*affine)
           : trit            ? QKind::kTrit
           : bits <= 4       ? QKind::kIntG4
                             : QKind::kInt8;
  const bool base3 = layout == TritLayout::kBase3 ||
                     (layout == TritLayout::kAuto && Base3ByDefault());
  if (trit && base3) m.kind = QKind::kTritB3;
  m.rows = w.rows;
  m.cols = w.cols;
  m.blocks = (w.rows + m.row_block() - 1) / m.row_block();
  m.group = affine != nullptr ? affine->sub : id == FormatId::kQ8_0 ? 32 : w.params.group;
  m.planes = id == FormatId::kTritPlanes ? w.params.planes : 1;
  m.offset = id == FormatId::kIntG && bits == 8 ? 128 : 0;
  p->size_ = QMatrixBytes(m.kind, m.rows, m.cols, m.group, m.planes) + kQOverread;
  // 64-byte alignment: a block-group's scales and every 32-byte chunk start on cache-line halves.
  p->buf_.reset(new uint8_t[p->size_ + 64]);
  uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p->buf_.get()) + 63) &
                                             ~uintptr_t{63});
  // Trit code 1 (0b01 in every field) is trit 0: padding columns and rows decode to zero. Scales
  // of padding rows stay 0 below.
  std::memset(base, m.kind == QKind::kTritB3 ? kTritB3Zero : trit ? 0x55 : 0, p->size_);
  m.data = base;
  const int ng = m.n_groups(), K = m.planes;
  const auto& table = TritDecodeTable();
  for (int64_t b = 0; b < m.blocks; ++b) {
    for (int g = 0; g < ng; ++g) {
      uint8_t* bg = base + (m.block_group(b, g) - base);
      std::memset(bg, 0, m.scale_bytes());
    }
  }
  if (affine != nullptr) return PrepareAffine(w, *affine, &m) ? p : nullptr;
  for (int64_t row = 0; row < w.rows; ++row) {
    const uint8_t* src = w.data + static_cast<size_t>(row) * w.row_bytes;
    const int r = static_cast<int>(row % kQRowBlock);
    for (int g = 0; g < ng; ++g) {
      const int n = m.group_len(g);
      uint8_t* bg = base + (m.block_group(row / m.row_block(), g) - base);
      if (trit) {
        for (int k = 0; k < K; ++k) {
          std::memcpy(QScalePtr(m, row, g, k), src + TritScaleOffset(k), 2);
          const uint8_t* plane = src + TritPlaneOffset(n, K, k);
          // Decode the group's trits to codes 0..2 (1 = trit 0) a packed byte at a time; padding
          // past n decodes to code 1 like the memset above.
          TRITIUM_CHECK(n <= kMaxGroup);
          uint8_t codes[kMaxGroup + 16];
          for (int b = 0; b * kTritsPerByte < n; ++b) {
            const auto& t = table[plane[b]];
            for (int i = 0; i < kTritsPerByte; ++i) {
              codes[b * kTritsPerByte + i] = static_cast<uint8_t>(t[i] + 1);
            }
          }
          PutTritCodes(m, row, k, g, codes, n);
        }
        src += TritGroupBytes(n, K);
      } else if (id == FormatId::kQ8_0) {
        std::memcpy(bg + 2 * r, src, 2);  // d; m stays 0
        int8_t* dst = reinterpret_cast<int8_t*>(bg + m.scale_bytes() + 4 * r);
        for (int j = 0; j < n; ++j) dst[32 * (j >> 2) + (j & 3)] = static_cast<int8_t>(src[2 + j]);
        src += 2 + n;
      } else {
        std::memcpy(bg + 2 * r, src, 2);                     // s
        std::memcpy(bg + 2 * (kQRowBlock + r), src + 2, 2);  // m
        uint8_t* dst = bg + m.scale_bytes() + 4 * r;
        const uint8_t* codes = src + kIntGHeaderBytes;
        if (m.kind == QKind::kInt8) {
          for (int j = 0; j < n; ++j) {
            dst[32 * (j >> 2) + (j & 3)] = static_cast<uint8_t>(codes[j] ^ 0x80);  // code - 128
          }
        } else {
          for (int j = 0; j < n; ++j) {
            const int code = IntGGetCode(codes, j, bits);
            dst[32 * (j >> 3) + (j & 3)] |= static_cast<uint8_t>(code << (4 * ((j >> 2) & 1)));
          }
        }
        src += IntGGroupBytes(n, bits);
      }
    }
  }
  return p;
}

}  // namespace tritium
