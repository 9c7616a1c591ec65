// A persistent thread pool. Work is split into contiguous, statically assigned ranges that depend only
// on the problem size (never on timing), so results are bit-identical for any thread count as long as
// each output element is computed by one thread with a fixed reduction order.
#ifndef TRITIUM_BASE_THREADS_H_
#define TRITIUM_BASE_THREADS_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tritium {

class ThreadPool {
 public:
  // num_threads <= 0 means all hardware threads. The calling thread counts as one worker.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(begin, end, thread_index) over [0, n) split into at most num_threads contiguous chunks,
  // each a multiple of `grain` long (except the last). Blocks until all chunks finish.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                   int64_t grain = 1);

  // Runs fn(thread_index) once on every thread (0..num_threads-1).
  void RunOnAll(const std::function<void(int)>& fn);

  static int HardwareThreads();

 private:
  void WorkerLoop(int index);

  int num_threads_;
  std::vector<std::thread> workers_;
  // Hand-off: a job is published by bumping generation_ (under mu_, so a worker about to sleep
  // cannot miss it). Workers and the caller first spin on the atomics for a short while and only
  // then sleep on the condition variables: a decode step runs ~100 parallel regions a few
  // microseconds apart, and a futex wake-up costs tens of microseconds on a virtual machine.
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  std::atomic<const std::function<void(int)>*> job_{nullptr};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace tritium

#endif  // TRITIUM_BASE_THREADS_H_
