#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace corefork {
namespace {

const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symlink";
  return "not a plain file";
}

// Closes on every return path without pulling os/fd.h into util/.
struct CloseOnExit {
  int fd;
  ~CloseOnExit() { ::close(fd); }
};

}  // namespace

Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes,
                                    ReadFileOptions options) {
  // O_NONBLOCK: opening a FIFO with no writer (or some devices) would
  // otherwise wait forever; O_NOCTTY: a terminal must not become ours.
  int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (options.no_follow) flags |= O_NOFOLLOW;
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP && options.no_follow) {
      return Status::InvalidArgument("is a symlink, not a regular file");
    }
    if (err == ENXIO)
      return Status::InvalidArgument("is a socket, not a regular file");
    return Status::Error(CodeOfErrno(err), std::strerror(err));
  }
  CloseOnExit closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return PosixError("fstat");
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(std::string("is ") + KindOf(st.st_mode) +
                                   ", not a regular file");
  }
  // st_size is only a hint (0 for /proc and /sys); read until EOF but never
  // past max_bytes + 1, the one byte that proves the file is too long.
  std::string text;
  const size_t limit = max_bytes == SIZE_MAX ? max_bytes : max_bytes + 1;
  size_t reserve = st.st_size > 0 ? static_cast<size_t>(st.st_size) : 4096;
  text.reserve(std::min(reserve, limit));
  int interrupts = 0;
  while (text.size() < limit) {
    const size_t old_size = text.size();
    const size_t chunk = std::min<size_t>(limit - old_size, 65536);
    text.resize(old_size + chunk);
    ssize_t n = ::read(fd, text.data() + old_size, chunk);
    if (n < 0) {
      int err = errno;
      text.resize(old_size);
      if (err == EINTR && ++interrupts < 100) continue;
      return PosixError("read", err);
    }
    text.resize(old_size + static_cast<size_t>(n));
    if (n == 0) break;
  }
  if (text.size() > max_bytes) {
    return Status::InvalidArgument("larger than " + std::to_string(max_bytes) +
                                   " bytes");
  }
  return text;
}

}  // namespace corefork
