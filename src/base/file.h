// Files: read-only memory maps, whole-file reads, and atomic writes (temporary file + rename), so an
// interrupted run never leaves a half-written file under the output name.
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

StatusOr<std::string> ReadFileToString(const std::string& path);
bool FileExists(const std::string& path);
bool IsDirectory(const std::string& path);
// Joins with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

// Writes to "<path>.tmp.<pid>" and renames onto `path` in Commit(). If the writer is destroyed without
// Commit() (error path, exception, early return), the temporary file is removed.
class AtomicFileWriter {
 public:
  static StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);
  ~AtomicFileWriter();
  Status Write(const void* data, size_t n);
  Status Write(std::string_view s) { return Write(s.data(), s.size()); }
  // Pads with zero bytes up to a multiple of `alignment`.
  Status PadTo(size_t alignment);
  uint64_t offset() const { return offset_; }
  Status Commit();

 private:
  AtomicFileWriter() = default;
  std::string path_, tmp_path_;
  std::FILE* f_ = nullptr;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

// Writes a whole file atomically.
Status WriteFileAtomically(const std::string& path, std::string_view contents);

}  // namespace tritium

#endif  // TRITIUM_BASE_FILE_H_
