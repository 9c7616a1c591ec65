// RTN into INT_G. Rows are independent and each is encoded by one thread, so the bytes do not
// depend on the thread count. Non-finite weights are encoded as 0 would be and left out of the
// errors.
#include "src/quant/rtn.h"

#include <cmath>
#include <string>
#include <vector>

#include "src/formats/format.h"

namespace tritium {
namespace {

StatusOr<QuantResult> Quantize(const float* w, int64_t rows, int64_t cols, const QuantOptions& o,
                               ThreadPool* pool) {
  const Format& format = *FindFormat(FormatId::kIntG);
  const FormatParams params{0, o.group, o.bits};
  TRITIUM_RETURN_IF_ERROR(format.check_params(cols, params).WithPrefix("rtn: "));
  if (rows < 0) return InvalidArgumentError("rtn: rows must be >= 0");
  const size_t row_bytes = format.row_bytes(cols, params);
  QuantResult result;
  result.format = FormatId::kIntG;
  result.params = params;
  result.data.assign(static_cast<size_t>(rows) * row_bytes, 0);
  std::vector<RowError> row_errors(static_cast<size_t>(rows));
  auto work = [&](int64_t r0, int64_t r1, int) {
    std::vector<float> deq(cols);
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = w + r * cols;
      uint8_t* dst = result.data.data() + r * row_bytes;
      format.quantize_row(x, dst, cols, params);
      format.dequantize_row(dst, deq.data(), cols, params);
      row_errors[r] = MeasureRowError(x, deq.data(), cols);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(rows, work);
  } else {
    work(0, rows, 0);
  }
  AddRowErrors(row_errors, &result);
  return result;
}

}  // namespace

extern const Method kRtnMethod = {"rtn", Quantize, IntGOutput};

}  // namespace tritium
