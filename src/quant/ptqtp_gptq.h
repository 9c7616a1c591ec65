// Calibration-aware trit-planes (TRIT_PLANES, the format of ptqtp), each a Method:
//  - "ptqtp-w": ptqtp with the scale fit weighted by the importance matrix (QuantOptions::
//    importance, the mean squared input of each column); refuses to run without one.
//  - "ptqtp-gptq": GPTQ's error feedback (gptq.h) with the trit-plane segment quantizer in the
//    column loop: when the loop reaches a group, the group's trit-planes are fitted by ptqtp's
//    alternating steps to the row's current (error-updated) weights; then every column of the
//    group is rounded to the nearest level of that grid (ptqtp's trit search, fp16 scales) and its
//    error is pushed onto the columns not yet quantized.
//  - "ptqtp-gptq-w": the same, the in-group fit weighted by diag(H) (the importance matrix).
//  - "ptqtp-ls": data-free ptqtp's trits, then the scales of each row refitted by least squares on
//    the layer's outputs: min over a of (w - T a)^T H (w - T a), T the row's trit-planes (one
//    column per group and plane), with w the original row.
//  - "ptqtp-gptq-ls": ptqtp-gptq-w, then the same least-squares refit of the scales.
// The refit keeps the trits and may give a scale either sign (the format allows any finite fp16).
// A segment's fit stops at a fixed point of the trit step or after max_iters sweeps (per segment,
// not the whole-matrix eps rule of ptqtp: segments are fitted at different times here). Rows are
// independent, so the bytes do not depend on the thread count.
#ifndef TRITIUM_QUANT_PTQTP_GPTQ_H_
#define TRITIUM_QUANT_PTQTP_GPTQ_H_

#include <cstdint>

#include "src/quant/method.h"

namespace tritium {

extern const Method kPtqtpWMethod;
extern const Method kPtqtpGptqMethod;
extern const Method kPtqtpGptqWMethod;
extern const Method kPtqtpLsMethod;
extern const Method kPtqtpGptqLsMethod;

namespace ptqtp {

// Least-squares refit of one row's scales with its trits fixed: minimises (w - w_hat)^T H
// (w - w_hat) over the K scales of every group, H [cols x cols] row-major (damped: positive
// definite). codes[j] is column j's trit combination; scales [groups x K] are overwritten.
void RefitScalesOnHessian(const double* h, const float* w, const uint8_t* codes, int64_t cols,
                          int group, int planes, double* scales);

}  // namespace ptqtp
}  // namespace tritium

#endif  // TRITIUM_QUANT_PTQTP_GPTQ_H_
