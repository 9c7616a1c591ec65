// Status and StatusOr: how errors cross library boundaries (no exceptions in the API).
#ifndef TRITIUM_BASE_STATUS_H_
#define TRITIUM_BASE_STATUS_H_

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace tritium {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad flag or value from the caller
  kNotFound,         // missing file, key or tensor
  kDataLoss,         // truncated or corrupted file
  kUnimplemented,    // valid input we do not support (unknown architecture, dtype)
  kInternal,
  kIoError,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "message" for errors; "OK" otherwise.
  std::string ToString() const { return ok() ? "OK" : message_; }
  // Prepends context, e.g. the file name: "model.safetensors: " + message.
  Status WithPrefix(const std::string& prefix) const {
    return ok() ? *this : Status(code_, prefix + message_);
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status DataLossError(std::string m) { return Status(StatusCode::kDataLoss, std::move(m)); }
inline Status UnimplementedError(std::string m) {
  return Status(StatusCode::kUnimplemented, std::move(m));
}
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
inline Status IoError(std::string m) { return Status(StatusCode::kIoError, std::move(m)); }

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const Status& s) : status_(s) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = InternalError("StatusOr constructed from OK status without value");
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { Check(); return *value_; }
  const T& value() const& { Check(); return *value_; }
  T&& value() && { Check(); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const {
    if (!status_.ok()) {
      std::fprintf(stderr, "StatusOr::value() on error: %s\n", status_.message().c_str());
      std::abort();
    }
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace tritium

#define TRITIUM_CONCAT_INNER(a, b) a##b
#define TRITIUM_CONCAT(a, b) TRITIUM_CONCAT_INNER(a, b)

#define TRITIUM_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::tritium::Status _st = (expr);              \
    if (!_st.ok()) return _st;                   \
  } while (0)

#define TRITIUM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define TRITIUM_ASSIGN_OR_RETURN(lhs, expr) \
  TRITIUM_ASSIGN_OR_RETURN_IMPL(TRITIUM_CONCAT(_statusor_, __LINE__), lhs, expr)

// CHECK is for programmer errors only; never for data from files or users.
#define TRITIUM_CHECK(cond)                                                           \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

#endif  // TRITIUM_BASE_STATUS_H_
