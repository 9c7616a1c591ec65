// PTQTP: post-training quantization to trit-planes (docs/ptqtp.md), writing TRIT_PLANES
// (src/formats/trit_planes.h). The Method record is kPtqtpMethod; the pieces below are the segment
// steps it is built from, exposed for tests and for methods that reuse the segment quantizer (e.g.
// GPTQ-style error feedback).
//
// Choices the paper leaves open, fixed here (see ptqtp.md, research-papers.md section 1.8):
//  - Condition estimate for the adaptive ridge, any K: kappa(A) = ||A||_F ||A^-1||_F, which for
//    K = 2 equals ptqtp.md's ||A||_F^2 / |det A| (A^-1 = adj(A) / det A and ||adj A||_F = ||A||_F).
//  - When two planes have identical normal equations (same Gram rows and right-hand side, e.g. at
//    the sign init where every plane is sign(w)), the exact ridge solution gives them equal scales;
//    we copy the earlier plane's scale to the later so that rounding noise in the solver cannot
//    break the tie: the documented trit tie order does, which is what makes the planes diverge.
//  - Stopping: after each synchronized sweep (scale step then trit step, on every segment), stop
//    when the L2 norm of the change of all scales of the whole matrix is <= eps, or after max_iters
//    sweeps.
//  - Stored scales are |a_k| rounded to fp16 (saturating at 65504): the level set is symmetric in
//    the sign of each scale, and the final trit search against the rounded scales re-picks trits.
//  - Importance h (per input column): the scale step minimises sum_j h_j (w_j - sum_k a_k t_kj)^2,
//    with h normalized to mean 1 over each segment's finite weights so that the ridge lambda keeps
//    its meaning; a segment whose importances are all 0 is fitted unweighted.
#ifndef TRITIUM_QUANT_PTQTP_H_
#define TRITIUM_QUANT_PTQTP_H_

#include <cstdint>
#include <vector>

#include "src/quant/method.h"

namespace tritium {

extern const Method kPtqtpMethod;

namespace ptqtp {

constexpr int kMaxPlanes = 4;
constexpr int kMaxCombos = 81;  // 3^4

// A combination of K trits is coded as sum_k (t_k + 1) 3^k.
int NumCombos(int planes);
int ComboTrit(int code, int plane);  // t_plane of the combination, in {-1, 0, 1}
int ZeroCombo(int planes);           // the all-zero combination

// The tie order of the trit search: combination codes, most preferred first. Fewer non-zeros
// first; among equal counts, supports compare at the highest plane where they differ and the one
// non-zero there comes first (later planes before earlier ones); among equal supports, signs
// compare lexicographically from plane 0 with +1 before -1. For K = 2 this is ptqtp.md's list
// (0,0), (0,+1), (0,-1), (+1,0), (-1,0), (+1,+1), (+1,-1), (-1,+1), (-1,-1).
const std::vector<int>& TieOrder(int planes);
// Position of a combination in TieOrder (0 = most preferred).
int TieRank(int planes, int code);

// The level sum_k a_k t_k of a combination, summed in plane order (every search uses this).
double ComboLevel(int planes, int code, const double* scales);

// Reference trit search: evaluates (w - level)^2 for all 3^K combinations in tie order and keeps
// the first minimum.
int BruteForceTritSearch(double w, const double* scales, int planes);

// The same search, by the sorted distinct levels: finds the neighbours of w, then compares the same
// squared distances as the reference, so it returns exactly what BruteForceTritSearch returns.
class TritSearch {
 public:
  TritSearch(const double* scales, int planes);
  int Find(double w) const;

 private:
  // Levels live at v_[kFront .. kFront + num_levels_), with -inf before and +inf after (up to
  // kFront + size_ + 1), so the search and its neighbour checks need no bounds tests.
  static constexpr int kFront = 2;
  static constexpr int kSlots = kFront + 128 + 2;
  double Dist(double w, int i) const { return (w - v_[i]) * (w - v_[i]); }
  int Slow(double w, int lo, int hi) const;
  int num_levels_ = 0;
  int size_ = 1;       // power of two > num_levels_
  double v_[kSlots];   // ascending, distinct
  int codes_[kSlots];  // most preferred combination having each level
  int ranks_[kSlots];
};

// Adaptive-lambda ridge solve of (gram + lambda I) a = rhs for K x K (row-major gram). Returns the
// lambda used: 1e-8, multiplied by 10 while kappa(A) > 1e6, capped at 1.
double RidgeSolve(const double* gram, const double* rhs, int planes, double* scales);

// Scale step on one segment of n weights: fits the scales to the current trit combinations
// (codes[j]). importance may be nullptr (unweighted); non-finite weights are skipped.
void ScaleStep(const float* w, const float* importance, const uint8_t* codes, int n, int planes,
               double* scales);
// Trit step on one segment: the nearest level for every weight (tie order as above); non-finite
// weights get the zero combination. Returns whether any code changed.
// Picks the AVX2 twin for K <= 2 on CPUs that have it (TRITIUM_CPU=scalar turns it off).
bool TritStep(const float* w, int n, int planes, const double* scales, uint8_t* codes);
// The scalar twin (TritSearch) and, on x86, the AVX2 brute force over the combinations in tie
// order (K <= 2 only; callers check the CPU). Both give TritStep's exact codes.
bool TritStepScalar(const float* w, int n, int planes, const double* scales, uint8_t* codes);
#if defined(__x86_64__)
bool TritStepAvx2(const float* w, int n, int planes, const double* scales, uint8_t* codes);
#endif

// sum_j h_j (w_j - level(code_j))^2 over finite weights (h = 1 when importance is nullptr).
double SegmentObjective(const float* w, const float* importance, const uint8_t* codes, int n,
                        int planes, const double* scales);

}  // namespace ptqtp
}  // namespace tritium

#endif  // TRITIUM_QUANT_PTQTP_H_
