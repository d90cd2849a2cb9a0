// Reads the container's CPU and memory limits from the cgroup filesystem.
// Pure functions over a root directory: every file (/proc/self/cgroup,
// /proc/self/mountinfo, /proc/self/status, /sys/fs/cgroup/...) is read under
// `root`, so tests point it at fixture trees. Safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corefork {

struct CgroupInfo {
  std::string version = "none";  // "v1", "v2" or "none"
  // Directory of our cpu cgroup as read (under root), empty when none found.
  std::string cpu_cgroup_path;
  // Tightest quota/period along the path up to the mount point; nullopt when
  // no level is limited. quota_source names the file that set it.
  std::optional<double> cpu_quota_cores;
  std::string quota_source;
  std::optional<int> cpuset_cpus;  // CPUs in cpuset.cpus(.effective)
  std::string cpuset_source;
  int affinity_cpus = 0;  // Cpus_allowed_list of /proc/self/status
  int host_cpus = 0;      // /sys/devices/system/cpu/online (or affinity)
  std::optional<uint64_t> memory_limit_bytes;  // tightest along the path
  std::string memory_source;
  // min(quota, cpuset, affinity), as a fraction of CPUs (e.g. 1.5).
  double effective_cpus = 1.0;
  // Things worth telling the user (unreadable files, odd values), in order.
  std::vector<std::string> notes;
};

CgroupInfo DetectCgroup(const std::string& root);

// The memory use of the cgroup whose limit is the tightest along our path
// (the one whose limit the OOM killer enforces), as the kernel's own
// reclaim sees it: usage minus the inactive file cache it can drop at once.
// v2: memory.current - inactive_file (memory.stat); v1:
// memory.usage_in_bytes - total_inactive_file (memory.stat, hierarchical).
// A few small bounded reads; called by the loop every recycle.check_interval.
struct MemoryUsage {
  uint64_t limit_bytes = 0;
  uint64_t current_bytes = 0;        // memory.current / usage_in_bytes
  uint64_t inactive_file_bytes = 0;  // 0 when memory.stat lacks it
  uint64_t used_bytes = 0;           // current - inactive_file (never below 0)
  std::string dir;                   // the cgroup directory read (under root)
};
// nullopt when there is no memory limit or its usage cannot be read.
std::optional<MemoryUsage> ReadMemoryUsage(const std::string& root);

// `key value` of a memory.stat text; nullopt when the key is missing.
std::optional<uint64_t> MemoryStatField(std::string_view stat,
                                        std::string_view key);

}  // namespace corefork
