#include "src/base/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out.push_back('/');
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out.append(b);
  return out;
}

StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path) {
  auto w = std::unique_ptr<AtomicFileWriter>(new AtomicFileWriter());
  w->path_ = path;
  w->tmp_path_ = path + ".tmp." + std::to_string(::getpid());
  w->f_ = std::fopen(w->tmp_path_.c_str(), "wb");
  if (w->f_ == nullptr) {
    return IoError(path + ": cannot create output file: " + std::strerror(errno));
  }
  return w;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (f_ != nullptr) std::fclose(f_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

Status AtomicFileWriter::Write(const void* data, size_t n) {
  if (f_ == nullptr) return InternalError(path_ + ": write after commit");
  if (n > 0 && std::fwrite(data, 1, n, f_) != n) {
    return IoError(path_ + ": write failed: " + std::strerror(errno));
  }
  offset_ += n;
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
  if (f_ == nullptr) return InternalError(path_ + ": double commit");
  bool ok = std::fflush(f_) == 0;
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok) return IoError(path_ + ": flush failed: " + std::strerror(errno));
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return IoError(path_ + ": rename failed: " + std::strerror(errno));
  }
  committed_ = true;
  return OkStatus();
}

Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  TRITIUM_ASSIGN_OR_RETURN(auto w, AtomicFileWriter::Create(path));
  TRITIUM_RETURN_IF_ERROR(w->Write(contents));
  return w->Commit();
}

}  // namespace tritium
