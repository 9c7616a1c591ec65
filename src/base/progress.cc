#include "src/base/progress.h"

#include <unistd.h>

#include <cstdio>

namespace tritium {

bool ProgressBar::StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && StderrIsTerminal()) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(int64_t done, const std::string& note) {
  if (!enabled_ || finished_) return;
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
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\n");
}

}  // namespace tritium
