// Microbenchmarks of MatMul on real layer shapes for every format, against the machine's memory
// bandwidth measured by the same binary (a STREAM-style triad, a[i] = b[i] + s c[i], over arrays
// far larger than the last-level cache). Each GEMV reports weight bytes per second counted in the
// file's bytes (GBps) and their fraction of the triad ("roofline");
// GEMM (512 tokens) reports GFLOP/s counted as 2 rows cols tokens. A second ceiling, the read-only
// bandwidth (BM_Read), is set against the bytes a GEMV actually streams (mem_MB, "of_read").
//
// GemvVsTriad pairs each GEMV measurement with a triad taken just before it (9 rounds, median
// ratio): on a shared host whose bandwidth drifts by the minute this is the steadier figure.
//
// Weights are cycled through enough copies to exceed 96 MiB, so a GEMV streams from DRAM as it does
// inside a model, instead of from a warm L3. Threads: TRITIUM_BENCH_THREADS (default: all cores).
//   ./build/tritium_microbench --benchmark_filter='Gemv/TRIT_PLANES_K2/4096x14336'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "src/base/fp16.h"
#include "src/base/threads.h"
#include "src/formats/trit_planes.h"
#include "src/base/cpu_features.h"
#include "src/kernels/matmul.h"
#include "src/kernels/prepared_weight.h"

namespace tritium {
namespace {

int BenchThreads() {
  const char* s = std::getenv("TRITIUM_BENCH_THREADS");
  return s != nullptr ? std::max(1, std::atoi(s)) : ThreadPool::HardwareThreads();
}

ThreadPool& Pool() {
  static ThreadPool pool(BenchThreads());
  return pool;
}

// STREAM-style triad a[i] = b[i] + s c[i] over 3 x 256 MiB of doubles (far beyond any L3), on the
// same threads the kernels use, each owning a contiguous slice. Bytes are counted as STREAM counts
// them: 3 x 8 per element (read b, read c, write a).
class Triad {
 public:
  Triad() : a_(new double[kN]), b_(new double[kN]), c_(new double[kN]) {
    Pool().ParallelFor(
        static_cast<int64_t>(kN),
        [&](int64_t i0, int64_t i1, int) {
          for (int64_t i = i0; i < i1; ++i) {
            a_[i] = 0;
            b_[i] = 1.0 + static_cast<double>(i % 7);
            c_[i] = 2.0;
          }
        },
        4096);
  }
  // Bytes/s of one pass.
  double Once() {
    const double s = 0.5 + static_cast<double>(++passes_ % 7);
    auto t0 = std::chrono::steady_clock::now();
    Pool().ParallelFor(
        static_cast<int64_t>(kN),
        [&](int64_t i0, int64_t i1, int) {
          double* __restrict pa = a_.get();
          const double* __restrict pb = b_.get();
          const double* __restrict pc = c_.get();
          for (int64_t i = i0; i < i1; ++i) pa[i] = pb[i] + s * pc[i];
        },
        4096);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(a_[kN / 2]);
    return 3.0 * 8.0 * static_cast<double>(kN) / sec;
  }
  // Best of `reps` passes, as STREAM reports.
  double Best(int reps) {
    double best = 0;
    for (int i = 0; i < reps; ++i) best = std::max(best, Once());
    return best;
  }

 private:
  static constexpr size_t kN = size_t{32} << 20;
  std::unique_ptr<double[]> a_, b_, c_;
  int passes_ = 0;
};

Triad& SharedTriad() {
  static Triad t;
  return t;
}

// Triad bandwidth in bytes/s, best of 5, measured once per process.
double TriadBandwidth() {
  static const double bw = SharedTriad().Best(5);
  return bw;
}

// Read-only bandwidth in bytes/s: each thread sums its slice as two interleaved sequential streams
// (what the GEMV kernels do: one stream per core leaves bandwidth unused on this class of machine).
// The ceiling for a kernel that only streams its weights; best of 5.
double ReadBandwidth() {
  static const double bw = [] {
    const size_t n = size_t{64} << 20;  // 512 MiB of uint64
    std::unique_ptr<uint64_t[]> a(new uint64_t[n]);
    ThreadPool& pool = Pool();
    pool.ParallelFor(
        static_cast<int64_t>(n),
        [&](int64_t i0, int64_t i1, int) {
          for (int64_t i = i0; i < i1; ++i) a[i] = static_cast<uint64_t>(i);
        },
        4096);
    double best = 0;
    std::vector<uint64_t> sink(static_cast<size_t>(pool.num_threads()) * 8);
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      pool.ParallelFor(
          static_cast<int64_t>(n),
          [&](int64_t i0, int64_t i1, int t) {
            const uint64_t* __restrict p = a.get();
            const int64_t half = (i1 - i0) / 2;
            uint64_t s0 = 0, s1 = 0;
            for (int64_t i = i0; i < i0 + half; ++i) {
              s0 += p[i];
              s1 += p[i + half];
            }
            sink[static_cast<size_t>(t) * 8] = s0 + s1;
          },
          4096);
      double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 8.0 * static_cast<double>(n) / sec);
      benchmark::DoNotOptimize(sink.data());
    }
    return best;
  }();
  return bw;
}

void BM_Read(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ReadBandwidth());
  state.counters["read_GBps"] = ReadBandwidth() / 1e9;
}
BENCHMARK(BM_Read)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_Triad(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(TriadBandwidth());
  state.counters["triad_GBps"] = TriadBandwidth() / 1e9;
}
BENCHMARK(BM_Triad)->Iterations(1)->Unit(benchmark::kMillisecond);

#if defined(__x86_64__)
// Issue rates of the instructions the AVX2 integer kernels are made of, per clock: the ceiling a
// u8 x s8 GEMM can reach on this core whatever its tiling. The clock is estimated with a chain of
// dependent adds (1 per cycle). Inline assembly so the compiler can neither fold nor reorder the
// independent operations; every block is 16 instructions on independent registers.
// Best of 3: a pass that shares its core with another tenant can only look slower.
double CyclesPerSecond() {
  constexpr int64_t kN = 20'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    int64_t x = 1;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < kN; ++i) {
      asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 4.0 * kN / sec);
  }
  return best;
}

#define TRITIUM_PAIR(a, b) \
  "vpmaddubsw %%ymm14, %%ymm15, %%ymm" #a "\n\tvpaddw %%ymm" #a ", %%ymm" #b ", %%ymm" #b "\n\t"
#define TRITIUM_BPAIR(a, b, off)                                                        \
  "vpbroadcastd " #off "(%0), %%ymm" #a "\n\tvpmaddubsw %%ymm" #a ", %%ymm15, %%ymm" #a \
  "\n\tvpaddw %%ymm" #a ", %%ymm" #b ", %%ymm" #b "\n\t"
#define TRITIUM_MADD(a) "vpmaddubsw %%ymm14, %%ymm15, %%ymm" #a "\n\t"
#define TRITIUM_CLOBBER                                                                    \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
      "xmm11", "xmm12", "xmm13"

// Per cycle: maddubs alone; maddubs + paddw pairs (the AVX2 dot step); broadcast-from-memory +
// maddubs + paddw (the GEMM tile's step). One thread. The per-cycle figures lean on the clock
// estimate; G_pairs_per_s and the ceiling do not.
void BM_DotIssueRate(benchmark::State& state) {
  if (!GetCpuFeatures().avx2_fma) {
    state.SkipWithError("no AVX2 on this CPU");
    return;
  }
  constexpr int64_t kN = 10'000'000;
  alignas(64) static int8_t buf[64] = {1};
  auto rate = [&](auto body, int ops) {
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < kN; ++i) body();
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, ops * static_cast<double>(kN) / sec);
    }
    return best;
  };
  double hz = 0, madd = 0, pair = 0, bpair = 0;
  for (auto _ : state) {
    hz = CyclesPerSecond();
    madd = rate(
        [] {
          asm volatile(TRITIUM_MADD(0) TRITIUM_MADD(1) TRITIUM_MADD(2) TRITIUM_MADD(3)
                           TRITIUM_MADD(4) TRITIUM_MADD(5) TRITIUM_MADD(6) TRITIUM_MADD(7)
                               TRITIUM_MADD(8) TRITIUM_MADD(9) TRITIUM_MADD(10) TRITIUM_MADD(11)
                                   TRITIUM_MADD(12) TRITIUM_MADD(13) TRITIUM_MADD(0)
                                       TRITIUM_MADD(1)::
                                           : TRITIUM_CLOBBER);
        },
        16);
    pair = rate(
        [] {
          asm volatile(TRITIUM_PAIR(0, 1) TRITIUM_PAIR(2, 3) TRITIUM_PAIR(4, 5) TRITIUM_PAIR(6, 7)
                           TRITIUM_PAIR(8, 9) TRITIUM_PAIR(10, 11) TRITIUM_PAIR(12, 13)
                               TRITIUM_PAIR(0, 1)::
                                   : TRITIUM_CLOBBER);
        },
        8);
    bpair = rate(
        [] {
          asm volatile(TRITIUM_BPAIR(0, 1, 0) TRITIUM_BPAIR(2, 3, 4) TRITIUM_BPAIR(4, 5, 8)
                           TRITIUM_BPAIR(6, 7, 12) TRITIUM_BPAIR(8, 9, 16) TRITIUM_BPAIR(10, 11, 20)
                               TRITIUM_BPAIR(12, 13, 24) TRITIUM_BPAIR(0, 1, 28)::"r"(buf)
                       : TRITIUM_CLOBBER);
        },
        8);
  }
  state.counters["GHz"] = hz / 1e9;
  state.counters["G_pairs_per_s"] = pair / 1e9;
  state.counters["maddubs_per_cycle"] = madd / hz;
  state.counters["pairs_per_cycle"] = pair / hz;
  state.counters["bcast_pairs_per_cycle"] = bpair / hz;
  // K = 2 trit-planes need 2 byte-products per weight, 2 FLOP per weight and token: the GEMM
  // ceiling on all the benchmark's threads from the pair rate.
  state.counters["k2_gemm_ceiling_GFLOPs"] = pair * 32 / 2 * 2 * Pool().num_threads() / 1e9;
}
BENCHMARK(BM_DotIssueRate)->Iterations(1)->Unit(benchmark::kMillisecond);
#undef TRITIUM_PAIR
#undef TRITIUM_BPAIR
#undef TRITIUM_MADD
#undef TRITIUM_CLOBBER
#endif  // __x86_64__

struct FormatCase {
  const char* label;
  FormatId id;
  FormatParams params;
};

FormatParams TritParams(int k) {
  FormatParams p;
  p.planes = k;
  p.group = 128;
  return p;
}

FormatParams IntGParams() {
  FormatParams p;
  p.bits = 4;
  p.group = 128;
  return p;
}

const FormatCase kCases[] = {
    {"F32", FormatId::kF32, {}},
    {"F16", FormatId::kF16, {}},
    {"BF16", FormatId::kBF16, {}},
    {"Q8_0", FormatId::kQ8_0, {}},
    {"INT_G4", FormatId::kIntG, IntGParams()},
    {"TRIT_PLANES_K1", FormatId::kTritPlanes, TritParams(1)},
    {"TRIT_PLANES_K2", FormatId::kTritPlanes, TritParams(2)},
    {"TRIT_PLANES_K3", FormatId::kTritPlanes, TritParams(3)},
};

struct Shape {
  int64_t rows, cols;
};
const Shape kShapes[] = {{4096, 4096}, {4096, 14336}, {14336, 4096}, {2048, 8192}};

// One packed copy of a random [rows x cols] matrix and its prepared form.
struct Matrix {
  std::vector<uint8_t> data;
  WeightView view;
  std::shared_ptr<const PreparedWeight> prepared;
};

std::unique_ptr<Matrix> MakeMatrix(const FormatCase& fc, const Shape& s, uint32_t seed) {
  auto m = std::make_unique<Matrix>();
  const Format* f = FindFormat(fc.id);
  const size_t rb = f->row_bytes(s.cols, fc.params);
  m->data.resize(rb * s.rows);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(s.cols));
  std::vector<int8_t> trits(128);
  for (int64_t r = 0; r < s.rows; ++r) {
    uint8_t* dst = m->data.data() + r * rb;
    if (fc.id == FormatId::kTritPlanes) {
      const int K = fc.params.planes;
      for (int64_t c0 = 0; c0 < s.cols; c0 += 128) {
        for (int k = 0; k < K; ++k) {
          uint16_t h = F32ToF16(0.01f / (k + 1));
          std::memcpy(dst + TritScaleOffset(k), &h, 2);
          for (auto& t : trits) t = static_cast<int8_t>(rng() % 3) - 1;
          PackTritGroup(trits.data(), 128, dst + TritPlaneOffset(128, K, k));
        }
        dst += TritGroupBytes(128, K);
      }
    } else {
      for (auto& v : row) v = nd(rng);
      f->quantize_row(row.data(), dst, s.cols, fc.params);
    }
  }
  m->view = WeightView{f, fc.params, s.rows, s.cols, rb, m->data.data()};
  m->prepared = PreparedWeight::Prepare(m->view);
  m->view.prepared = m->prepared.get();
  return m;
}

// Bytes of the matrix in its file format.
double FileBytes(const FormatCase& fc, const Shape& s) {
  return static_cast<double>(FindFormat(fc.id)->row_bytes(s.cols, fc.params)) * s.rows;
}

// Copies of the matrix to cycle through: enough to exceed 96 MiB when `dram`, so each call streams
// from DRAM as inside a model, else one.
std::vector<std::unique_ptr<Matrix>> MakeCopies(const FormatCase& fc, const Shape& s, bool dram) {
  const int copies =
      dram ? static_cast<int>(std::clamp((96.0 * (1 << 20)) / FileBytes(fc, s) + 1.0, 1.0, 8.0))
           : 1;
  std::vector<std::unique_ptr<Matrix>> ms;
  for (int i = 0; i < copies; ++i) ms.push_back(MakeMatrix(fc, s, 17 + i));
  return ms;
}

std::vector<float> RandomInputs(int64_t n) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = nd(rng);
  return x;
}

// hot: one copy only, small enough to stay in L2/L3: the kernel's compute speed without DRAM.
void RunMatMul(benchmark::State& state, const FormatCase& fc, const Shape& s, int64_t tokens,
               bool hot = false) {
  const double triad = TriadBandwidth();
  const double bytes = FileBytes(fc, s);
  // From DRAM for the GEMV only: the GEMM is compute-bound and reuses its weights.
  const auto ms = MakeCopies(fc, s, tokens == 1 && !hot);
  const std::vector<float> x = RandomInputs(tokens * s.cols);
  std::vector<float> y(static_cast<size_t>(tokens * s.rows));
  size_t i = 0;
  for (auto _ : state) {
    MatMul(ms[i]->view, x.data(), tokens, y.data(), &Pool());
    benchmark::DoNotOptimize(y.data());
    i = (i + 1) % ms.size();
  }
  const double iters = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes * iters));
  state.counters["weight_MB"] = bytes / 1e6;
  state.counters["threads"] = Pool().num_threads();
  if (tokens == 1) {
    state.counters["Gweights_per_s"] = benchmark::Counter(
        static_cast<double>(s.rows) * s.cols * iters / 1e9, benchmark::Counter::kIsRate);
    // What the kernel streams: the repacked form where there is one (trit-planes stream 2 bits a
    // trit, not the file's 1.6), else the file's rows.
    const double mem =
        ms[0]->prepared != nullptr ? static_cast<double>(ms[0]->prepared->bytes()) : bytes;
    state.counters["GBps"] = benchmark::Counter(bytes * iters / 1e9, benchmark::Counter::kIsRate);
    state.counters["roofline"] =
        benchmark::Counter(bytes * iters / triad, benchmark::Counter::kIsRate);
    state.counters["mem_MB"] = mem / 1e6;
    state.counters["of_read"] =
        benchmark::Counter(mem * iters / ReadBandwidth(), benchmark::Counter::kIsRate);
  } else {
    state.counters["GFLOPs"] = benchmark::Counter(2.0 * s.rows * s.cols * tokens * iters / 1e9,
                                                  benchmark::Counter::kIsRate);
  }
}

// The issue's ratio measured robustly on a host whose bandwidth drifts: rounds of (triad, best of
// 2 passes) immediately followed by ~30 ms of GEMV calls; each round gives a ratio of GEMV weight
// bytes/s (the file's bytes) to that round's triad. Reports the median ratio and its range, the
// median GEMV time and the median triad.
void RunGemvVsTriad(benchmark::State& state, const FormatCase& fc, const Shape& s) {
  const double bytes = FileBytes(fc, s);
  const auto ms = MakeCopies(fc, s, /*dram=*/true);
  const int64_t copies = static_cast<int64_t>(ms.size());
  const std::vector<float> x = RandomInputs(s.cols);
  std::vector<float> y(static_cast<size_t>(s.rows));
  Triad& triad = SharedTriad();
  std::vector<double> ratio, gemv_s, triad_bw;
  for (auto _ : state) {
    for (int round = 0; round < 9; ++round) {
      const double tb = triad.Best(2);
      int64_t calls = 0;
      const auto t0 = std::chrono::steady_clock::now();
      double sec = 0;
      do {
        MatMul(ms[calls % copies]->view, x.data(), 1, y.data(), &Pool());
        ++calls;
        sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      } while (sec < 0.03 || calls < copies);
      benchmark::DoNotOptimize(y.data());
      gemv_s.push_back(sec / static_cast<double>(calls));
      triad_bw.push_back(tb);
      ratio.push_back(bytes / gemv_s.back() / tb);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  state.counters["of_triad_median"] = median(ratio);
  state.counters["of_triad_min"] = *std::min_element(ratio.begin(), ratio.end());
  state.counters["of_triad_max"] = *std::max_element(ratio.begin(), ratio.end());
  state.counters["gemv_us_median"] = median(gemv_s) * 1e6;
  state.counters["triad_GBps_median"] = median(triad_bw) / 1e9;
  state.counters["weight_MB"] = bytes / 1e6;
}

const bool kRegistered = [] {
  for (const FormatCase& fc : kCases) {
    for (const Shape& s : kShapes) {
      const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.cols);
      benchmark::RegisterBenchmark(("Gemv/" + std::string(fc.label) + "/" + shape).c_str(),
                                   [fc, s](benchmark::State& st) { RunMatMul(st, fc, s, 1); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime()
          ->MinTime(0.5);
      benchmark::RegisterBenchmark(("Gemm512/" + std::string(fc.label) + "/" + shape).c_str(),
                                   [fc, s](benchmark::State& st) { RunMatMul(st, fc, s, 512); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(1.0);
    }
  }
  for (const FormatCase& fc : kCases) {
    benchmark::RegisterBenchmark(("GemvVsTriad/" + std::string(fc.label) + "/4096x14336").c_str(),
                                 [fc](benchmark::State& st) {
                                   RunGemvVsTriad(st, fc, Shape{4096, 14336});
                                 })
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  for (const FormatCase& fc : kCases) {
    benchmark::RegisterBenchmark(("GemvHot/" + std::string(fc.label) + "/1024x4096").c_str(),
                                 [fc](benchmark::State& st) {
                                   RunMatMul(st, fc, Shape{1024, 4096}, 1, /*hot=*/true);
                                 })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()
        ->MinTime(0.3);
  }
  return true;
}();

}  // namespace
}  // namespace tritium
