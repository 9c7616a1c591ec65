// Quantization throughput of data-free PTQTP (parameters per second) on a 7B-shaped matrix of
// N(0, 0.02) weights, the statistics of the synthetic checkpoints (tritium synth): 4096 x 4096
// (attn_q of Llama-2-7B) at K = 2, G = 128, on 1 and 2 threads. A 7B model is about 6.5e9 such
// parameters, so the 7B wall time is 6.5e9 / items_per_second.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "src/base/threads.h"
#include "src/quant/method.h"

namespace tritium {
namespace {

const std::vector<float>& Weights(int64_t rows, int64_t cols) {
  static std::vector<float> w;
  if (static_cast<int64_t>(w.size()) != rows * cols) {
    std::mt19937_64 rng(7);
    std::normal_distribution<float> n(0.0f, 0.02f);
    w.resize(static_cast<size_t>(rows * cols));
    for (float& x : w) x = n(rng);
  }
  return w;
}

void BM_PtqtpQuantize(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const std::vector<float>& w = Weights(rows, cols);
  ThreadPool pool(threads);
  QuantOptions q;
  q.planes = 2;
  q.group = 128;
  int iterations = 0;
  for (auto _ : state) {
    auto r = FindMethod("ptqtp")->quantize(w.data(), rows, cols, q, &pool);
    benchmark::DoNotOptimize(r);
    iterations = r.ok() ? r->iterations : -1;
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
  state.counters["sweeps"] = iterations;
}
BENCHMARK(BM_PtqtpQuantize)
    ->Args({4096, 4096, 1})
    ->Args({4096, 4096, 2})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

}  // namespace
}  // namespace tritium
