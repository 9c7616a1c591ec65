#include "src/base/progress.h"

#include <unistd.h>

#include <cstdio>

namespace tritium {

bool ProgressBar::StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled,
                         std::chrono::milliseconds interval)
    : label_(std::move(label)), total_(total), interval_(interval) {
  const bool tty = StderrIsTerminal();
  bar_ = enabled && tty;
  lines_ = !tty;
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (lines_) heartbeat_ = std::thread([this] { Heartbeat(); });
}

ProgressBar::~ProgressBar() { Finish(); }

std::string ProgressBar::Line(int64_t done, const std::string& note) const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ > 0 ? static_cast<double>(done) / total_ : 1.0;
  char buf[256];
  if (done > 0 && done < total_) {
    std::snprintf(buf, sizeof(buf), "%s: %lld/%lld (%d%%), %.0fs elapsed, ETA %.0fs",
                  label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                  static_cast<int>(frac * 100), elapsed, elapsed * (total_ - done) / done);
  } else {
    std::snprintf(buf, sizeof(buf), "%s: %lld/%lld (%d%%), %.0fs elapsed", label_.c_str(),
                  static_cast<long long>(done), static_cast<long long>(total_),
                  static_cast<int>(frac * 100), elapsed);
  }
  std::string s = buf;
  if (!note.empty()) s += ", " + note;
  return s;
}

void ProgressBar::Heartbeat() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (cv_.wait_for(lock, interval_, [this] { return stop_; })) break;
    std::fprintf(stderr, "%s\n", Line(done_, note_).c_str());
    std::fflush(stderr);
    printed_ = true;
  }
}

void ProgressBar::Update(int64_t done, const std::string& note) {
  if (finished_) return;
  if (lines_) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = done;
    note_ = note;
    return;
  }
  if (!bar_) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double frac = total_ > 0 ? static_cast<double>(done) / total_ : 1.0;
  double eta = done > 0 ? elapsed * (total_ - done) / done : 0;
  constexpr int kWidth = 30;
  int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '=');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld  %.0fs elapsed, ETA %.0fs %s\x1b[K",
               label_.c_str(), bar.c_str(), static_cast<int>(frac * 100),
               static_cast<long long>(done), static_cast<long long>(total_), elapsed, eta,
               note.c_str());
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  if (lines_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (heartbeat_.joinable()) heartbeat_.join();
    // A run long enough to have logged progress also logs where it ended.
    if (printed_) std::fprintf(stderr, "%s\n", Line(done_, "done").c_str());
    return;
  }
  if (bar_) std::fprintf(stderr, "\n");
}

}  // namespace tritium
