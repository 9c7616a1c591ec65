#include "src/base/file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

namespace tritium {

StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFoundError(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return IoError(path + ": cannot stat: " + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError(path + ": is a directory, expected a file");
  }
  auto mf = std::unique_ptr<MappedFile>(new MappedFile());
  mf->path_ = path;
  mf->size_ = static_cast<size_t>(st.st_size);
  if (mf->size_ > 0) {
    void* p = ::mmap(nullptr, mf->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return IoError(path + ": mmap failed: " + std::strerror(errno));
    }
    mf->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return mf;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return NotFoundError(path + ": cannot open: " + std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  bool err = std::ferror(f);
  std::fclose(f);
  if (err) return IoError(path + ": read error");
  return out;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out.push_back('/');
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out.append(b);
  return out;
}

namespace {

// Temporary files open for writing, for the signal handler. Fixed-size storage: the handler may
// only read plain memory and call async-signal-safe functions (unlink, signal, raise).
constexpr int kMaxTempFiles = 16;
constexpr size_t kMaxTempPath = 4096;
char g_temp_paths[kMaxTempFiles][kMaxTempPath];
std::atomic<bool> g_temp_used[kMaxTempFiles];
std::once_flag g_handlers_once;

void RemoveTempFilesAndDie(int sig) {
  for (int i = 0; i < kMaxTempFiles; ++i) {
    if (g_temp_used[i].load(std::memory_order_acquire)) ::unlink(g_temp_paths[i]);
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void InstallHandlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old;
    // A signal the parent set to be ignored (nohup) stays ignored.
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    struct sigaction sa = {};
    sa.sa_handler = RemoveTempFilesAndDie;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

int RegisterTemp(const std::string& path) {
  std::call_once(g_handlers_once, InstallHandlers);
  if (path.size() >= kMaxTempPath) return -1;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  for (int i = 0; i < kMaxTempFiles; ++i) {
    if (g_temp_used[i].load(std::memory_order_relaxed)) continue;
    std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
    g_temp_used[i].store(true, std::memory_order_release);
    return i;
  }
  return -1;  // more than kMaxTempFiles open at once: still removed on every non-signal path
}

void UnregisterTemp(int slot) {
  if (slot >= 0) g_temp_used[slot].store(false, std::memory_order_release);
}

Status WriteAll(int fd, const void* data, size_t n, uint64_t offset, const std::string& path) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, size_t{1} << 30);
    ssize_t w = ::pwrite(fd, p, chunk, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return IoError(path + ": write failed: " + std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return OkStatus();
}

}  // namespace

void ReleaseMappedPages(const void* p, size_t n) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (a + page - 1) & ~(page - 1);
  const uintptr_t end = (a + n) & ~(page - 1);
  if (end <= begin) return;
  // Read-only private file mappings: dropping the pages loses nothing.
  ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

uint64_t CurrentRssBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

uint64_t PeakRssBytes() {
  struct rusage ru;
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path) {
  auto w = std::unique_ptr<AtomicFileWriter>(new AtomicFileWriter());
  w->path_ = path;
  w->tmp_path_ = path + ".tmp." + std::to_string(::getpid());
  // Registered before the file exists, so no window leaves it behind on a signal.
  w->slot_ = RegisterTemp(w->tmp_path_);
  w->fd_ = ::open(w->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) {
    UnregisterTemp(w->slot_);
    w->slot_ = -1;
    return IoError(path + ": cannot create output file: " + std::strerror(errno));
  }
  return w;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
  UnregisterTemp(slot_);
}

Status AtomicFileWriter::Write(const void* data, size_t n) {
  if (fd_ < 0) return InternalError(path_ + ": write after commit");
  TRITIUM_RETURN_IF_ERROR(WriteAll(fd_, data, n, offset_, path_));
  offset_ += n;
  return OkStatus();
}

Status AtomicFileWriter::WriteAt(uint64_t offset, const void* data, size_t n) {
  if (fd_ < 0) return InternalError(path_ + ": write after commit");
  return WriteAll(fd_, data, n, offset, path_);
}

Status AtomicFileWriter::Truncate(uint64_t size) {
  if (fd_ < 0) return InternalError(path_ + ": truncate after commit");
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return IoError(path_ + ": cannot set the file size: " + std::strerror(errno));
  }
  return OkStatus();
}

Status AtomicFileWriter::PadTo(size_t alignment) {
  static const char zeros[256] = {};
  while (offset_ % alignment != 0) {
    size_t n = alignment - offset_ % alignment;
    if (n > sizeof(zeros)) n = sizeof(zeros);
    TRITIUM_RETURN_IF_ERROR(Write(zeros, n));
  }
  return OkStatus();
}

Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return InternalError(path_ + ": double commit");
  bool ok = ::fsync(fd_) == 0;
  ok = (::close(fd_) == 0) && ok;
  fd_ = -1;
  if (!ok) return IoError(path_ + ": flush failed: " + std::strerror(errno));
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return IoError(path_ + ": rename failed: " + std::strerror(errno));
  }
  committed_ = true;
  UnregisterTemp(slot_);
  slot_ = -1;
  // The rename itself is durable only once the directory is synced.
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return OkStatus();
}

Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  TRITIUM_ASSIGN_OR_RETURN(auto w, AtomicFileWriter::Create(path));
  TRITIUM_RETURN_IF_ERROR(w->Write(contents));
  return w->Commit();
}

}  // namespace tritium
