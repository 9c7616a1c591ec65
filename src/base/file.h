// Files: read-only memory maps, whole-file reads, and atomic writes (temporary file + rename), so
// an interrupted run never leaves a half-written file under the output name.
#ifndef TRITIUM_BASE_FILE_H_
#define TRITIUM_BASE_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "src/base/status.h"

namespace tritium {

// A read-only mapping of a whole file. Movable, not copyable. An empty file maps to size 0.
class MappedFile {
 public:
  static StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Drops this process's resident pages of [p, p + n) inside a read-only file mapping (the whole
// pages the range covers; partial pages at either end stay). The bytes stay readable: a later
// access faults them back in from the page cache. Streaming passes call it on input they have
// consumed so that resident memory does not grow with the model.
void ReleaseMappedPages(const void* p, size_t n);

// Resident set of this process now, and its peak so far, in bytes (from /proc and getrusage).
uint64_t CurrentRssBytes();
uint64_t PeakRssBytes();

StatusOr<std::string> ReadFileToString(const std::string& path);
bool FileExists(const std::string& path);
bool IsDirectory(const std::string& path);
// True if both paths exist and name the same file (same device and inode).
bool SameFile(const std::string& a, const std::string& b);
// Joins with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

// Writes to "<path>.tmp.<pid>" and renames onto `path` in Commit() (after fsync). If the writer is
// destroyed without Commit() (error path, early return), the temporary file is removed; so it is
// when the process gets SIGINT, SIGTERM or SIGHUP while the writer is open (a handler installed on
// first use unlinks every open temporary file, then lets the signal take its default action).
class AtomicFileWriter {
 public:
  static StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);
  ~AtomicFileWriter();
  // Appends at offset().
  Status Write(const void* data, size_t n);
  Status Write(std::string_view s) { return Write(s.data(), s.size()); }
  // Writes at an absolute offset (before or after offset(), which it does not move): streaming
  // writers lay out a file first and fill it in any order.
  Status WriteAt(uint64_t offset, const void* data, size_t n);
  // Pads with zero bytes up to a multiple of `alignment`.
  Status PadTo(size_t alignment);
  // Sets the file's length (bytes past the old end read as zeros).
  Status Truncate(uint64_t size);
  uint64_t offset() const { return offset_; }
  const std::string& path() const { return path_; }
  const std::string& tmp_path() const { return tmp_path_; }
  Status Commit();

 private:
  AtomicFileWriter() = default;
  std::string path_, tmp_path_;
  int fd_ = -1;
  int slot_ = -1;  // in the signal handler's table of temporary files
  uint64_t offset_ = 0;
  bool committed_ = false;
};

// Writes a whole file atomically.
Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace tritium

#endif  // TRITIUM_BASE_FILE_H_
