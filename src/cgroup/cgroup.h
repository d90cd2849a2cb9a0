// Reads the container's CPU and memory limits from the cgroup filesystem.
// Pure functions over a root directory: every file (/proc/self/cgroup,
// /proc/self/mountinfo, /proc/self/status, /sys/fs/cgroup/...) is read under
// `root`, so tests point it at fixture trees. Safe to call from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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

}  // namespace corefork
