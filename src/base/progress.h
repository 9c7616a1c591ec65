// Progress of long work on stderr. On a terminal: a bar with ETA, redrawn in place (not with
// --json). Otherwise (a log file, a pipe, CI): one line at least every 10 seconds, from a heartbeat
// thread, so a step that takes minutes still shows it is alive: "label: i/n (p%), 40s elapsed,
// ETA 120s, note". Short runs print nothing.
#ifndef TRITIUM_BASE_PROGRESS_H_
#define TRITIUM_BASE_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace tritium {

class ProgressBar {
 public:
  // enabled=false draws no bar (e.g. --json); log lines still go to a non-terminal stderr.
  // `interval` is the log-line period (tests shorten it).
  ProgressBar(std::string label, int64_t total, bool enabled,
              std::chrono::milliseconds interval = std::chrono::seconds(10));
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  void Update(int64_t done, const std::string& note = "");
  void Finish();
  static bool StderrIsTerminal();

 private:
  std::string Line(int64_t done, const std::string& note) const;
  void Heartbeat();

  std::string label_;
  int64_t total_;
  bool bar_, lines_;
  bool finished_ = false;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  // Log-line mode: the latest state, printed by the heartbeat thread.
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t done_ = 0;
  std::string note_;
  bool stop_ = false;
  bool printed_ = false;
  std::thread heartbeat_;
};

}  // namespace tritium

#endif  // TRITIUM_BASE_PROGRESS_H_
