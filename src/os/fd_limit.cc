#include "os/fd_limit.h"

namespace corefork {
namespace {

// Written once by RaiseFdLimit in main before any thread exists.
rlim_t original_soft = RLIM_INFINITY;

}  // namespace

rlim_t RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur >= limit.rlim_max) return limit.rlim_cur;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return before;
  original_soft = before;
  return limit.rlim_cur;
}

rlim_t OriginalFdLimit() { return original_soft; }

}  // namespace corefork
