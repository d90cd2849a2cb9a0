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

}  // namespace corefork
