#include "src/base/threads.h"

#include <sched.h>

#include <algorithm>

#include "src/base/status.h"

namespace tritium {

int ThreadPool::HardwareThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(num_threads <= 0 ? HardwareThreads() : num_threads) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

namespace {

// A wait: kSpin pauses (a pause is ~10-100 cycles: a few tens of microseconds in all), then up to
// kYields sched_yield calls (free when the core is otherwise idle, and the core's to a competing
// process when it is not), then sleep on a condition variable.
constexpr int kSpin = 20000;
constexpr int kYields = 64;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

constexpr uint64_t kChunkMask = 0xffff;
inline uint64_t Claim(uint32_t job, uint64_t count, uint64_t next) {
  return (uint64_t{job} << 32) | (count << 16) | next;
}

}  // namespace

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Drain(int thread) {
  for (;;) {
    uint64_t s = claim_.load(std::memory_order_acquire);
    const uint64_t count = (s >> 16) & kChunkMask, next = s & kChunkMask;
    if (next >= count) return;
    const std::function<void(int64_t, int)>* fn = job_.load(std::memory_order_acquire);
    if (!claim_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
    (*fn)(static_cast<int64_t>(next), thread);
    // Sequentially consistent with the caller's store of caller_sleeping_ and its load of done_:
    // one of the two sees the other's write, so the last chunk never fails to wake a sleeper.
    if (done_.fetch_add(1) + 1 == static_cast<int64_t>(count) && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_done_.notify_one();
    }
  }
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int wait = 0; g == seen && !stop_.load(std::memory_order_acquire); ++wait) {
      if (wait < kSpin) {
        CpuRelax();
      } else if (wait < kSpin + kYields) {
        std::this_thread::yield();
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        cv_start_.wait(lock, [&] {
          return stop_.load(std::memory_order_acquire) ||
                 generation_.load(std::memory_order_acquire) != seen;
        });
      }
      g = generation_.load(std::memory_order_acquire);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = g;
    Drain(index);
  }
}

void ThreadPool::Run(int64_t count, const std::function<void(int64_t, int)>& fn) {
  TRITIUM_CHECK(count >= 0 && static_cast<uint64_t>(count) <= kChunkMask);
  if (count == 0) return;
  if (num_threads_ == 1 || count == 1) {
    for (int64_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
  done_.store(0, std::memory_order_relaxed);
  job_.store(&fn, std::memory_order_relaxed);
  claim_.store(Claim(++job_number_, static_cast<uint64_t>(count), 0), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  cv_start_.notify_all();
  Drain(0);
  for (int wait = 0; done_.load() != count; ++wait) {
    if (wait < kSpin) {
      CpuRelax();
    } else if (wait < kSpin + kYields) {
      std::this_thread::yield();
    } else {
      std::unique_lock<std::mutex> lock(mu_);
      caller_sleeping_.store(true);
      cv_done_.wait(lock, [&] { return done_.load() == count; });
      caller_sleeping_.store(false);
    }
  }
}

void ThreadPool::RunOnAll(const std::function<void(int)>& fn) {
  Run(num_threads_, [&](int64_t i, int) { fn(static_cast<int>(i)); });
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                             int64_t grain) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  // A few chunks per thread, so that a descheduled thread holds back little of the work. The
  // bounds depend only on n, grain and the thread count.
  constexpr int64_t kChunksPerThread = 2;
  const int64_t units = (n + grain - 1) / grain;
  const int64_t chunks =
      num_threads_ == 1 ? 1 : std::min<int64_t>(units, num_threads_ * kChunksPerThread);
  if (chunks <= 1) {
    fn(0, n, 0);
    return;
  }
  Run(chunks, [&](int64_t c, int t) {
    const int64_t u0 = units * c / chunks, u1 = units * (c + 1) / chunks;
    const int64_t b = u0 * grain, e = std::min(n, u1 * grain);
    if (b < e) fn(b, e, t);
  });
}

}  // namespace tritium
