// A weight matrix repacked once, at load, for the fast CPU kernels. The file layout stays as it
// is (formats are portable); this is the kernels' private, local layout (quant_kernels.h has it):
// rows interleaved in blocks of 8, 2-bit trit codes (4-bit INT_G codes) arranged so that one
// masked vector gives 4 columns of 8 rows.
#ifndef TRITIUM_KERNELS_PREPARED_WEIGHT_H_
#define TRITIUM_KERNELS_PREPARED_WEIGHT_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "src/kernels/cpu/quant_kernels.h"

namespace tritium {

struct WeightView;

class PreparedWeight {
 public:
  // Repacks `w` when its format has a fast kernel (TRIT_PLANES; INT_G with 4 bits); returns nullptr
  // for every other format, which MatMul runs as before. `w` is not referenced afterwards.
  static std::shared_ptr<const PreparedWeight> Prepare(const WeightView& w);
  // True if Prepare would repack this format.
  static bool Supported(const WeightView& w);

  const QMatrix& matrix() const { return m_; }
  size_t bytes() const { return size_; }

 private:
  PreparedWeight() = default;
  std::unique_ptr<uint8_t[]> buf_;
  size_t size_ = 0;
  QMatrix m_;
};

}  // namespace tritium

#endif  // TRITIUM_KERNELS_PREPARED_WEIGHT_H_
