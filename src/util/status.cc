#include "util/status.h"

#include <cstring>

namespace corefork {

StatusCode CodeOfErrno(int err) {
  switch (err) {
    case ENOENT:
    case ESRCH:
      return StatusCode::kNotFound;
    case EEXIST:
    case EADDRINUSE:
      return StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
      return StatusCode::kPermissionDenied;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOSPC:
    case ENOBUFS:
      return StatusCode::kResourceExhausted;
    case ETIMEDOUT:
      return StatusCode::kDeadlineExceeded;
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case EAGAIN:
      return StatusCode::kUnavailable;
    case EINVAL:
    case ENOTDIR:
    case EISDIR:
    case ENOEXEC:
      return StatusCode::kInvalidArgument;
    default:
      return StatusCode::kUnknown;
  }
}

Status PosixError(std::string_view context, int err) {
  std::string message(context);
  message += ": ";
  message += std::strerror(err);
  return Status::Error(CodeOfErrno(err), std::move(message));
}

}  // namespace corefork
