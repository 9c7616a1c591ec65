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
  // Repacks `w` when its format has a fast kernel (TRIT_PLANES, INT_G, Q8_0, and the formats with
  // AffineCodes: ggml's block types); returns nullptr for every other format, which MatMul runs
  // from the file's bytes. `w` is not referenced afterwards.
  //
  // AffineCodes formats go to the kernel kind their code range fits: trits with a zero offset to
  // TRIT_PLANES K = 1 (TQ1_0, TQ2_0), at most 16 levels to the 4-bit kind (codes shifted to
  // 0..15, the shift folded into m: Q4_0, Q4_1, Q2_K, Q3_K, Q4_K), everything else to the int8
  // kind (Q5_*, Q6_K, IQ4_*). The kernels keep s and m as fp16: where the format's s and m are
  // fp16 already this is exact; where they are an fp16 times a sub-block integer (k-quants,
  // IQ4_XS) they are rounded to fp16 (relative error <= 2^-11). A scale beyond fp16's range makes
  // Prepare return nullptr even though Supported() said yes.
  //
  // Trits take the base-3 layout (QKind::kTritB3, 1.6 bits a trit) where the kernels decode it
  // (AVX-512 VBMI), else 2-bit codes; TRITIUM_TRIT_LAYOUT=2bit keeps 2-bit codes everywhere (for
  // A/B measurements). Both give the same bits.
  enum class TritLayout { kAuto, kTwoBit, kBase3 };
  static std::shared_ptr<const PreparedWeight> Prepare(const WeightView& w,
                                                       TritLayout layout = TritLayout::kAuto);
  // What kAuto picks on this machine.
  static bool Base3ByDefault();
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
