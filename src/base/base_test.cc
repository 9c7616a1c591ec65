#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "src/base/file.h"
#include "src/base/fp16.h"
#include "src/base/progress.h"
#include "src/base/threads.h"

namespace tritium {
namespace {

// Independent reference: the nearest half to x, ties to even, found by searching the sorted list
// of all finite halves in double arithmetic.
uint16_t NearestHalfSlow(float x) {
  if (std::isnan(x)) return 0x7e00;
  double best_d = INFINITY;
  uint16_t best = 0;
  // Rounding keeps the sign (a tiny negative value becomes -0), so search that sign's halves.
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    uint16_t hh = static_cast<uint16_t>(h | sign);
    double v = F16ToF32(hh);
    double d = std::fabs(v - x);
    if (d < best_d || (d == best_d && (hh & 1) == 0 && (best & 1) == 1)) {
      best_d = d;
      best = hh;
    }
  }
  // Beyond max half + half an ulp: infinity.
  if (std::fabs(x) >= 65520.0f) return static_cast<uint16_t>((x < 0 ? 0x8000 : 0) | 0x7c00);
  if (x == 0) return std::signbit(x) ? 0x8000 : 0;
  return best;
}

TEST(Fp16Test, DecodesKnownValues) {
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(F16ToF32(0x7c00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7e00)));
}

TEST(Fp16Test, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(F32ToF16(f), h) << std::hex << h;
  }
}

TEST(Fp16Test, RoundsToNearestEvenLikeExhaustiveSearch) {
  // Midpoints, neighbours of midpoints, subnormals, overflow boundary.
  std::vector<float> xs = {0.1f, -0.3333f, 1e-8f, 3e-8f, 6e-8f, 1.0001f, 65519.0f, 65520.0f,
                           70000.0f, -1e-5f, 2.0f + 1.0f / 1024, 1.0f + 1.0f / 2048,
                           1.0f + 3.0f / 2048, std::ldexp(1.0f, -25), std::ldexp(3.0f, -26)};
  uint32_t seed = 1;
  for (int i = 0; i < 300; ++i) {
    seed = seed * 1664525u + 1013904223u;
    float u = static_cast<float>(seed >> 8) / 16777216.0f;
    xs.push_back((u - 0.5f) * std::ldexp(1.0f, (i % 40) - 25));
  }
  for (float x : xs) EXPECT_EQ(F32ToF16(x), NearestHalfSlow(x)) << x;
}

TEST(Bf16Test, RoundsToNearestEven) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  float mid;  // exactly between 1.0 and the next bf16: ties to even (1.0)
  uint32_t u = 0x3f808000u;
  std::memcpy(&mid, &u, 4);
  EXPECT_EQ(F32ToBf16(mid), 0x3f80);
  u = 0x3f818000u;  // between 0x3f81 and 0x3f82: ties to even (0x3f82)
  std::memcpy(&mid, &u, 4);
  EXPECT_EQ(F32ToBf16(mid), 0x3f82);
  for (uint32_t h = 0; h < 65536; h += 7) {
    float f = Bf16ToF32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      EXPECT_EQ(F32ToBf16(f), h);
    }
  }
}

TEST(ThreadPoolTest, ParallelForCoversEachIndexOnceInGrainMultiples) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 5, 12, 100, 1001}) {
      std::vector<int> hits(static_cast<size_t>(n), 0);
      // A thread index is never in two calls at once (per-thread scratch relies on it).
      std::vector<std::atomic<int>> active(static_cast<size_t>(threads));
      pool.ParallelFor(
          n,
          [&](int64_t b, int64_t e, int t) {
            EXPECT_EQ(b % 4, 0);
            ASSERT_GE(t, 0);
            ASSERT_LT(t, threads);
            EXPECT_EQ(active[static_cast<size_t>(t)]++, 0);
            for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
            active[static_cast<size_t>(t)]--;
          },
          4);
      for (int h : hits) EXPECT_EQ(h, 1);
    }
  }
}

// A worker that stops in the middle of a region (as a descheduled one does) holds back only its
// own chunk: the caller takes the rest. With chunks assigned to threads in advance this would
// wait forever (the test would time out).
TEST(ThreadPoolTest, AStalledWorkerHoldsBackOnlyItsChunk) {
  ThreadPool pool(2);
  std::atomic<bool> worker_in{false};
  std::atomic<int> caller_chunks{0};
  std::atomic<int> total{0};
  auto wait_for = [](const std::function<bool()>& cond) {
    for (int i = 0; i < 10000 && !cond(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return cond();
  };
  pool.ParallelFor(8, [&](int64_t b, int64_t e, int t) {
    total += static_cast<int>(e - b);
    if (t == 0) {
      // The caller's first chunk waits until the worker holds one, so that the worker surely
      // takes part; then it goes on alone.
      if (caller_chunks++ == 0) {
        EXPECT_TRUE(wait_for([&] { return worker_in.load(); }));
      }
    } else if (!worker_in.exchange(true)) {
      // What a stalled thread holds back is at most half of an even share (8 / 2 threads)...
      EXPECT_LE(e - b, 2);
      // ...and every other index is started while it is held: by the caller, the only other
      // thread.
      EXPECT_TRUE(wait_for([&] { return total.load() == 8; }))
          << "the caller did not take the stalled worker's share";
    }
  });
  EXPECT_EQ(total.load(), 8);
}

TEST(ThreadPoolTest, ReusesThreadsAcrossManyCalls) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int i = 0; i < 2000; ++i) {
    pool.ParallelFor(10, [&](int64_t b, int64_t e, int) { sum += e - b; });
  }
  EXPECT_EQ(sum.load(), 20000);
}

// Workers spin briefly after a job and then sleep: jobs after a pause long enough for them to
// fall asleep, and jobs back to back while they spin, must all run every index once.
TEST(ThreadPoolTest, RunsJobsWhetherWorkersSpinOrSleep) {
  ThreadPool pool(3);
  for (int round = 0; round < 6; ++round) {
    if (round % 2 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::atomic<int> mask{0}, calls{0};
    pool.RunOnAll([&](int i) {
      mask |= 1 << i;
      ++calls;
    });
    EXPECT_EQ(mask.load(), 7) << "round " << round;
    EXPECT_EQ(calls.load(), 3) << "round " << round;
  }
}

TEST(AtomicFileWriterTest, LeavesNoFileWithoutCommit) {
  std::string path = ::testing::TempDir() + "/atomic_test.bin";
  std::remove(path.c_str());
  {
    auto w = AtomicFileWriter::Create(path);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write("half").ok());
  }
  EXPECT_FALSE(FileExists(path));
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  {
    auto w = AtomicFileWriter::Create(path);
    ASSERT_TRUE((*w)->Write("new but abandoned").ok());
  }
  EXPECT_EQ(ReadFileToString(path).value(), "old");
  ASSERT_TRUE(WriteFileAtomically(path, "new").ok());
  EXPECT_EQ(ReadFileToString(path).value(), "new");
}

TEST(MappedFileTest, ErrorsNameTheFile) {
  auto m = MappedFile::Open("/nonexistent/dir/file.bin");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("/nonexistent/dir/file.bin"), std::string::npos);
}

}  // namespace
}  // namespace tritium

namespace tritium {
namespace {

// Under ctest stderr is not a terminal: the bar becomes log lines from a heartbeat, even when the
// bar itself is disabled (--json), so a long step shows progress in a log.
TEST(ProgressBarTest, LogsLinesOnANonTerminal) {
  if (ProgressBar::StderrIsTerminal()) GTEST_SKIP() << "stderr is a terminal here";
  ::testing::internal::CaptureStderr();
  {
    ProgressBar bar("work", 4, /*enabled=*/false, std::chrono::milliseconds(20));
    bar.Update(1, "first");
    std::this_thread::sleep_for(std::chrono::milliseconds(70));
    bar.Update(3, "third");
    std::this_thread::sleep_for(std::chrono::milliseconds(70));
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("work: 1/4 (25%)"), std::string::npos) << err;
  EXPECT_NE(err.find("first"), std::string::npos) << err;
  EXPECT_NE(err.find("work: 3/4 (75%)"), std::string::npos) << err;
  EXPECT_NE(err.find("ETA"), std::string::npos) << err;
  EXPECT_NE(err.find(", done"), std::string::npos) << err;  // the closing line
}

TEST(ProgressBarTest, ShortRunsPrintNothing) {
  if (ProgressBar::StderrIsTerminal()) GTEST_SKIP() << "stderr is a terminal here";
  ::testing::internal::CaptureStderr();
  {
    ProgressBar bar("quick", 2, true);
    bar.Update(1);
    bar.Update(2);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace tritium
