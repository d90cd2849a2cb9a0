// ReadFileBounded: reads a whole small file (a config file, a /proc or
// cgroup interface file) without ever blocking or reading without bound.
// FIFOs, devices (/dev/zero), sockets and directories are refused, and a file
// longer than the cap is an error rather than a partial read. Stateless and
// safe from any thread; the fd it opens is closed before it returns.
#pragma once

#include <cstddef>
#include <string>

#include "util/status.h"

namespace corefork {

struct ReadFileOptions {
  // Refuse a symlink as the last path component (O_NOFOLLOW). Off by
  // default: Kubernetes mounts ConfigMap files as symlinks.
  bool no_follow = false;
};

// The file's bytes, at most `max_bytes` of them. Errors (no path in them;
// callers add it): "No such file or directory" (open's strerror), "is a FIFO,
// not a regular file", "larger than 1048576 bytes". /proc and /sys files are
// regular files that report size 0: the cap, not st_size, bounds the read.
Result<std::string> ReadFileBounded(const std::string& path, size_t max_bytes,
                                    ReadFileOptions options = {});

}  // namespace corefork
