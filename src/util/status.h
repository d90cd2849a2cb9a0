// Status and Result<T>: errors as values. A Status carries a code (what kind
// of failure, for callers that act on it: IsNotFound(), IsDeadlineExceeded()
// ...) and one human-readable message with its context ("bind 0.0.0.0:8080:
// Address already in use") for people; callers never match message text.
// Result<T> is a T or the Status explaining why there is none. Both are
// [[nodiscard]] plain values, safe to copy between threads.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace corefork {

// The kinds of failure callers distinguish (a subset of absl's codes).
enum class StatusCode : uint8_t {
  kOk = 0,
  kUnknown,             // no better kind known
  kInvalidArgument,     // bad input: config, request, file contents
  kNotFound,            // ENOENT, no such job or run
  kAlreadyExists,       // EEXIST, EADDRINUSE
  kPermissionDenied,    // EACCES, EPERM
  kResourceExhausted,   // EMFILE, ENOMEM, a full queue
  kDeadlineExceeded,    // ETIMEDOUT, nobody answered in time
  kUnavailable,         // ECONNREFUSED, nothing listens, shutting down
  kFailedPrecondition,  // the state does not allow it (unsafe directory)
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    return Error(StatusCode::kUnknown, std::move(message));
  }
  static Status Error(StatusCode code, std::string message) {
    Status s;
    s.code_ = code == StatusCode::kOk ? StatusCode::kUnknown : code;
    s.message_ = std::move(message);
    return s;
  }
  static Status InvalidArgument(std::string message) {
    return Error(StatusCode::kInvalidArgument, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Error(StatusCode::kNotFound, std::move(message));
  }
  static Status DeadlineExceeded(std::string message) {
    return Error(StatusCode::kDeadlineExceeded, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Error(StatusCode::kUnavailable, std::move(message));
  }
  static Status FailedPrecondition(std::string message) {
    return Error(StatusCode::kFailedPrecondition, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsInvalidArgument() const {
    return code_ == StatusCode::kInvalidArgument;
  }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsAlreadyExists() const { return code_ == StatusCode::kAlreadyExists; }
  bool IsPermissionDenied() const {
    return code_ == StatusCode::kPermissionDenied;
  }
  bool IsDeadlineExceeded() const {
    return code_ == StatusCode::kDeadlineExceeded;
  }
  bool IsUnavailable() const { return code_ == StatusCode::kUnavailable; }

  // Prepends context, keeps the code: "reading f" + "x" -> "reading f: x".
  Status Wrap(std::string_view context) const {
    if (ok()) return *this;
    return Error(code_, std::string(context) + ": " + message_);
  }

  // Explicitly drops a Status whose failure needs no handling (best-effort
  // cleanup); the reason belongs in a comment at the call.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// "context: strerror(err)", with the code that errno maps to. Pass errno
// explicitly when anything may have clobbered it since the failing call.
Status PosixError(std::string_view context, int err = errno);
StatusCode CodeOfErrno(int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error; an OK status when there is a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace corefork
