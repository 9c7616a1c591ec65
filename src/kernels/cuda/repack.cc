// Host-side repacking into the GPU layouts described in repack.h.
#include "src/kernels/cuda/repack.h"

#include <algorithm>
#include <string>

#include "src/base/fp16.h"
#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"

namespace tritium::cuda {
namespace {

uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

Status CheckView(const WeightView& w, FormatId id, const char* what) {
  if (w.format == nullptr || w.format->id != id) {
    return InvalidArgumentError(std::string("repack: not a ") + what + " matrix");
  }
  if (w.rows < 1 || w.cols < 1 || w.data == nullptr) {
    return InvalidArgumentError(std::string("repack: empty ") + what + " matrix");
  }
  TRITIUM_RETURN_IF_ERROR(w.format->check_params(w.cols, w.params));
  if (w.row_bytes != w.format->row_bytes(w.cols, w.params)) {
    return InvalidArgumentError(std::string("repack: row_bytes does not match the ") + what +
                                " params");
  }
  return OkStatus();
}

}  // namespace

bool HasGpuKernel(const WeightView& w) {
  if (w.format == nullptr) return false;
  if (w.format->id == FormatId::kTritPlanes) return true;
  return w.format->id == FormatId::kIntG && w.params.bits == 4;
}

StatusOr<GpuTritMatrix> RepackTritPlanes(const WeightView& w) {
  TRITIUM_RETURN_IF_ERROR(CheckView(w, FormatId::kTritPlanes, "TRIT_PLANES"));
  GpuTritMatrix m;
  m.rows = w.rows;
  m.cols = w.cols;
  m.cols_p = GpuPaddedCols(w.cols);
  m.planes = w.params.planes;
  m.group = w.params.group;
  m.groups_p = (m.cols_p + m.group - 1) / m.group;
  const int K = m.planes;
  const int64_t wpp = m.words_per_plane();
  // Code 1 is trit 0: padding decodes to zero.
  m.codes.assign(static_cast<size_t>(m.rows * K * wpp), 0x55555555u);
  m.scales.assign(static_cast<size_t>(m.rows * K * m.groups_p), 0);
  std::vector<int8_t> trits(static_cast<size_t>(m.group));
  for (int64_t r = 0; r < m.rows; ++r) {
    const uint8_t* src = w.data + static_cast<size_t>(r) * w.row_bytes;
    uint32_t* row_codes = &m.codes[static_cast<size_t>(r * K * wpp)];
    uint16_t* row_scales = &m.scales[static_cast<size_t>(r * K * m.groups_p)];
    for (int64_t c0 = 0, g = 0; c0 < m.cols; c0 += m.group, ++g) {
      const int n = static_cast<int>(std::min<int64_t>(m.group, m.cols - c0));
      for (int k = 0; k < K; ++k) {
        row_scales[k * m.groups_p + g] = Load16(src + TritScaleOffset(k));
        UnpackTritGroup(src + TritPlaneOffset(n, K, k), n, trits.data());
        uint32_t* plane = row_codes + k * wpp;
        for (int j = 0; j < n; ++j) {
          const int64_t c = c0 + j;
          const int64_t in_word = c % 16;
          const int shift = static_cast<int>(16 * (in_word % 2) + 2 * (in_word / 2));
          uint32_t& word = plane[c / 16];
          word = (word & ~(3u << shift)) | static_cast<uint32_t>(trits[j] + 1) << shift;
        }
      }
      src += TritGroupBytes(n, K);
    }
  }
  return m;
}

StatusOr<GpuInt4Matrix> RepackInt4(const WeightView& w) {
  TRITIUM_RETURN_IF_ERROR(CheckView(w, FormatId::kIntG, "INT_G"));
  if (w.params.bits != 4) return InvalidArgumentError("repack: INT_G kernels need bits = 4");
  GpuInt4Matrix m;
  m.rows = w.rows;
  m.cols = w.cols;
  m.cols_p = GpuPaddedCols(w.cols);
  m.group = w.params.group;
  m.groups_p = (m.cols_p + m.group - 1) / m.group;
  const int64_t wpr = m.words_per_row();
  m.codes.assign(static_cast<size_t>(m.rows * wpr), 0);
  m.params.assign(static_cast<size_t>(m.rows * m.groups_p * 2), 0);
  for (int64_t r = 0; r < m.rows; ++r) {
    const uint8_t* src = w.data + static_cast<size_t>(r) * w.row_bytes;
    uint32_t* row_codes = &m.codes[static_cast<size_t>(r * wpr)];
    uint16_t* row_params = &m.params[static_cast<size_t>(r * m.groups_p * 2)];
    for (int64_t c0 = 0, g = 0; c0 < m.cols; c0 += m.group, ++g) {
      const int n = static_cast<int>(std::min<int64_t>(m.group, m.cols - c0));
      row_params[2 * g] = Load16(src);
      row_params[2 * g + 1] = Load16(src + 2);
      const uint8_t* codes = src + kIntGHeaderBytes;
      for (int j = 0; j < n; ++j) {
        const int64_t c = c0 + j;
        const int64_t in_word = c % 8;
        const int shift = static_cast<int>(16 * (in_word % 2) + 4 * (in_word / 2));
        row_codes[c / 8] |= static_cast<uint32_t>(IntGGetCode(codes, j, 4)) << shift;
      }
      src += IntGGroupBytes(n, 4);
    }
  }
  return m;
}

void DequantizeGpuRow(const GpuTritMatrix& m, int64_t row, float* dst) {
  const int64_t wpp = m.words_per_plane();
  for (int64_t c = 0; c < m.cols; ++c) dst[c] = 0.0f;
  // Plane by plane, like the reference decoder, so the float sums round identically.
  for (int k = 0; k < m.planes; ++k) {
    const uint32_t* plane = &m.codes[static_cast<size_t>((row * m.planes + k) * wpp)];
    const uint16_t* scales = &m.scales[static_cast<size_t>((row * m.planes + k) * m.groups_p)];
    for (int64_t c = 0; c < m.cols; ++c) {
      const int64_t in_word = c % 16;
      const int shift = static_cast<int>(16 * (in_word % 2) + 2 * (in_word / 2));
      const int t = static_cast<int>((plane[c / 16] >> shift) & 3u) - 1;
      dst[c] += F16ToF32(scales[c / m.group]) * static_cast<float>(t);
    }
  }
}

void DequantizeGpuRow(const GpuInt4Matrix& m, int64_t row, float* dst) {
  const uint32_t* codes = &m.codes[static_cast<size_t>(row * m.words_per_row())];
  const uint16_t* params = &m.params[static_cast<size_t>(row * m.groups_p * 2)];
  for (int64_t c = 0; c < m.cols; ++c) {
    const int64_t in_word = c % 8;
    const int shift = static_cast<int>(16 * (in_word % 2) + 4 * (in_word / 2));
    const int q = static_cast<int>((codes[c / 8] >> shift) & 15u);
    const int64_t g = c / m.group;
    dst[c] = F16ToF32(params[2 * g + 1]) + F16ToF32(params[2 * g]) * static_cast<float>(q);
  }
}

std::vector<float> DequantizeToF32(const WeightView& w) {
  std::vector<float> out(static_cast<size_t>(w.rows * w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    w.format->dequantize_row(w.data + static_cast<size_t>(r) * w.row_bytes,
                             &out[static_cast<size_t>(r * w.cols)], w.cols, w.params);
  }
  return out;
}

}  // namespace tritium::cuda
