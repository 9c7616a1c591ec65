// The per-token arithmetic of a transformer layer that more than one driver runs: the CPU forward
// pass (forward.cc), layer-by-layer calibration (calibration.cc) and, for the RoPE tables, the GPU
// session. One definition keeps them bit-identical to each other (calibration must see exactly the
// activations the forward pass computes).
#ifndef TRITIUM_MODEL_LAYER_MATH_H_
#define TRITIUM_MODEL_LAYER_MATH_H_

#include <cmath>
#include <cstdint>
#include <vector>

#include "src/model/model.h"

namespace tritium {

// out = w * x / rms(x), the sum of squares in double.
void RmsNorm(const float* x, const float* w, int64_t d, float eps, float* out);
// RmsNorm of n rows of d floats.
void RmsNormRows(const float* x, const float* w, int64_t n, int64_t d, float eps, float* out);

inline float Silu(float x) { return x / (1.0f + std::exp(-x)); }

// cos and sin of position * frequency for positions [0, positions), [pos][head_dim / 2], computed
// in double and rounded once (position * frequency loses no precision this way).
void RopeTables(const Model& model, int64_t positions, std::vector<float>* cos,
                std::vector<float>* sin);

// One token's q [q_dim], k and v [kv_dim] after the projections: biases (Qwen2), q/k norms
// (Qwen3), then RoPE with that position's rows of the tables.
void PrepareQkv(const ModelConfig& c, const LayerWeights& w, const float* cos, const float* sin,
                float* q, float* k, float* v);

}  // namespace tritium

#endif  // TRITIUM_MODEL_LAYER_MATH_H_
