// A progress bar with ETA on stderr, drawn only when stderr is a terminal (and not with --json).
#ifndef TRITIUM_BASE_PROGRESS_H_
#define TRITIUM_BASE_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace tritium {

class ProgressBar {
 public:
  // enabled=false draws nothing (e.g. --json or a redirected stderr).
  ProgressBar(std::string label, int64_t total, bool enabled);
  ~ProgressBar();
  void Update(int64_t done, const std::string& note = "");
  void Finish();
  static bool StderrIsTerminal();

 private:
  std::string label_;
  int64_t total_;
  bool enabled_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tritium

#endif  // TRITIUM_BASE_PROGRESS_H_
