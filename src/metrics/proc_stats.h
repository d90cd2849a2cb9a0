// Reads one process's resource use from /proc/PID (stat, fd/, limits; boot
// time from <proc_root>/stat) the way Prometheus's standard process collector
// does. Any thread; no state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace corefork {

struct ProcStats {
  double cpu_seconds = 0;         // utime + stime
  uint64_t resident_bytes = 0;    // RSS
  uint64_t virtual_bytes = 0;     // vsize
  int open_fds = 0;               // entries in /proc/PID/fd
  int64_t max_fds = -1;           // soft RLIMIT_NOFILE, -1 if unknown/unlimited
  double start_time_seconds = 0;  // since the Unix epoch
};

// nullopt when the process is gone or /proc is unreadable.
std::optional<ProcStats> ReadProcStats(pid_t pid,
                                       const std::string& proc_root = "/proc");

// The resident memory of a process and all its descendants (a worker that
// forks helpers, a `npm start` wrapper and its node), found through
// /proc/PID/task/TID/children. Cheap and bounded: one stat and one children
// file per thread, at most `max_processes` processes and kMaxTasksPerProcess
// threads each (threads past that are not searched for children). Pages
// shared between the processes (copy-on-write after fork) count once per
// process, like PM2's and `ps`'s sums. The event loop calls it every few
// seconds per worker.
struct TreeRss {
  uint64_t bytes = 0;
  int processes = 0;       // processes whose RSS was added
  bool truncated = false;  // a bound stopped the walk
};
constexpr int kMaxTasksPerProcess = 64;
// nullopt when `pid` itself is gone.
std::optional<TreeRss> ReadTreeRss(pid_t pid,
                                   const std::string& proc_root = "/proc",
                                   int max_processes = 256);

}  // namespace corefork
