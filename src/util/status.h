// Status and Result<T>: errors as values. A Status carries one human-readable
// message with its context ("bind 0.0.0.0:8080: Address already in use");
// Result<T> is a T or the Status explaining why there is none. Both are plain
// values, safe to copy between threads.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace corefork {

class Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    return s;
  }

  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }

  // Prepends context: Status("x").Wrap("reading f") -> "reading f: x".
  Status Wrap(std::string_view context) const {
    if (ok_) return *this;
    return Error(std::string(context) + ": " + message_);
  }

 private:
  bool ok_ = true;
  std::string message_;
};

// "context: strerror(err)". Pass errno explicitly when anything may have
// clobbered it since the failing call.
Status PosixError(std::string_view context, int err = errno);

template <typename T>
class Result {
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
