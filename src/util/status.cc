#include "util/status.h"

#include <cstring>

namespace corefork {

Status PosixError(std::string_view context, int err) {
  std::string message(context);
  message += ": ";
  message += std::strerror(err);
  return Status::Error(std::move(message));
}

}  // namespace corefork
