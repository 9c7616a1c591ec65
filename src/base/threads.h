// A persistent thread pool. Work is split into contiguous chunks whose bounds depend only on the
// problem size and the thread count (never on timing), so results are bit-identical for any thread
// count as long as each output element is computed by one call with a fixed reduction order.
//
// Which thread runs which chunk is decided at run time: the threads claim chunks from a shared
// counter, the calling thread too, and a parallel region ends when every chunk is done, not when
// every thread has checked in. On a shared machine a descheduled worker therefore costs at most the
// chunk it holds, instead of stalling every region until the scheduler runs it again (issue 14:
// with one busy competitor, -t 2 decoded 30x slower than -t 1).
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

  // Calls fn(begin, end, thread_index) over [0, n) split into contiguous chunks (a few per
  // thread), each a multiple of `grain` long (except the last). thread_index (0..num_threads-1)
  // names the thread running the call: per-thread scratch may be indexed by it, as no thread runs
  // two calls at once. Blocks until all chunks finish.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                   int64_t grain = 1);

  // Calls fn(i) once for each i in 0..num_threads-1, concurrently as far as threads are free (a
  // thread may run several). Blocks until all finish.
  void RunOnAll(const std::function<void(int)>& fn);

  // CPUs this process may run on (sched_getaffinity), at least 1.
  static int HardwareThreads();

 private:
  void WorkerLoop(int index);
  // Runs fn(chunk, thread) for chunk in [0, count) on the pool; returns when all are done.
  void Run(int64_t count, const std::function<void(int64_t, int)>& fn);
  // Claims and runs chunks of the current job until none is left.
  void Drain(int thread);

  int num_threads_;
  std::vector<std::thread> workers_;
  // Hand-off: a job is published by storing its function, then claim_ (job number << 32 | count
  // << 16 | next chunk), then bumping generation_ under mu_ (so a worker about to sleep cannot
  // miss it). A chunk is claimed by a compare-and-swap on claim_: a successful claim of a chunk
  // below the count proves the job is still running (its caller waits for that chunk), so job_ is
  // that job's. Waiting threads spin briefly, then yield (a competing process gets the core), then
  // sleep: a decode step runs ~100 regions a few microseconds apart, and a futex wake-up costs tens
  // of microseconds on a virtual machine.
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  // Each hot atomic on its own cache line: waiting threads poll generation_ and done_ while
  // chunks are being claimed.
  std::atomic<const std::function<void(int64_t, int)>*> job_{nullptr};
  uint32_t job_number_ = 0;  // caller only
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<int64_t> done_{0};
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace tritium

#endif  // TRITIUM_BASE_THREADS_H_
