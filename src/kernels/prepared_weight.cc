#include "src/kernels/prepared_weight.h"

#include <cstring>

#include "src/formats/int_g.h"
#include "src/formats/trit_planes.h"
#include "src/kernels/matmul.h"

namespace tritium {

bool PreparedWeight::Supported(const WeightView& w) {
  if (w.format == nullptr || w.rows <= 0 || w.cols <= 0) return false;
  if (w.format->id == FormatId::kTritPlanes) return true;
  return w.format->id == FormatId::kIntG && w.params.bits == 4;
}

std::shared_ptr<const PreparedWeight> PreparedWeight::Prepare(const WeightView& w) {
  if (!Supported(w)) return nullptr;
  std::shared_ptr<PreparedWeight> p(new PreparedWeight());
  QMatrix& m = p->m_;
  const bool trit = w.format->id == FormatId::kTritPlanes;
  m.kind = trit ? QKind::kTrit : QKind::kIntG4;
  m.rows = w.rows;
  m.cols = w.cols;
  m.blocks = (w.rows + kQRowBlock - 1) / kQRowBlock;
  m.group = w.params.group;
  m.planes = trit ? w.params.planes : 1;
  m.row_bytes = w.row_bytes;
  p->size_ = static_cast<size_t>(m.blocks) * kQRowBlock * w.row_bytes + kQOverread;
  // 64-byte alignment so that 4 rows of a group start on a cache line when G allows.
  p->buf_.reset(new uint8_t[p->size_ + 64]);
  uint8_t* base = reinterpret_cast<uint8_t*>(
      (reinterpret_cast<uintptr_t>(p->buf_.get()) + 63) & ~uintptr_t{63});
  std::memset(base, 0, p->size_);
  const int ng = m.n_groups(), K = m.planes;
  const uint8_t zero_trits = TritFixedPointByte(121);  // five zero trits
  for (int64_t b = 0; b < m.blocks; ++b) {
    uint8_t* blk = base + static_cast<size_t>(b) * kQRowBlock * w.row_bytes;
    size_t src_off = 0;  // offset of group g inside a file row
    for (int g = 0; g < ng; ++g) {
      const int n = m.group_len(g);
      const size_t gb = trit ? TritGroupBytes(n, K) : IntGGroupBytes(n, 4);
      uint8_t* dst = blk + kQRowBlock * src_off;
      for (int r = 0; r < kQRowBlock; ++r) {
        const int64_t row = b * kQRowBlock + r;
        const uint8_t* src =
            row < w.rows ? w.data + static_cast<size_t>(row) * w.row_bytes + src_off : nullptr;
        if (trit) {
          const int pb = TritPlaneBytes(n);
          uint8_t* pay = dst + 8 * K + static_cast<size_t>(r) * K * pb;
          for (int k = 0; k < K; ++k) {
            // Scales plane-major: a[k][r], so 4 rows' scales of a plane load as one vector.
            if (src != nullptr) std::memcpy(dst + 2 * (k * kQRowBlock + r), src + 2 * k, 2);
            for (int i = 0; i < pb; ++i) {
              pay[k * pb + i] = src != nullptr
                                    ? TritFixedPointByte(src[TritPlaneOffset(n, K, k) + i])
                                    : zero_trits;
            }
          }
        } else {
          const size_t cb = IntGCodeBytes(n, 4);
          if (src != nullptr) {
            std::memcpy(dst + 4 * r, src, 4);
            std::memcpy(dst + 16 + r * cb, src + kIntGHeaderBytes, cb);
          }
        }
      }
      src_off += gb;
    }
  }
  m.data = base;
  return p;
}

}  // namespace tritium
