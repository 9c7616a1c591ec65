// RTN: round-to-nearest into INT_G (src/formats/int_g.h), B = QuantOptions::bits, G = group. The
// baseline every other method must beat; it is INT_G's canonical encoder applied row by row.
#ifndef TRITIUM_QUANT_RTN_H_
#define TRITIUM_QUANT_RTN_H_

#include "src/quant/method.h"

namespace tritium {

extern const Method kRtnMethod;

}  // namespace tritium

#endif  // TRITIUM_QUANT_RTN_H_
