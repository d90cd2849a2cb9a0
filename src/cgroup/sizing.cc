#include "cgroup/sizing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "util/json.h"

namespace corefork {
namespace {

// Products like 0.3 * 10 land a hair off the integer; do not let that flip a
// floor or a ceil.
constexpr double kRoundingSlack = 1e-9;

// A CPU figure and the words that say where it came from.
struct CpuFigure {
  double cpus;
  std::string origin;  // "CPU quota 1.5 cores (/sys/fs/cgroup/...)"
};

std::string Plural(double n, const char* one, const char* many) {
  return n == 1.0 ? one : many;
}

std::string Cpus(int n) {
  return fmt::format("{} {}", n, n == 1 ? "CPU" : "CPUs");
}

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.4g} {}", value, units[unit]);
}

// The limits that bound the CPU count besides a quota: cpuset, then
// affinity (or, without affinity, the host's online CPUs).
std::vector<CpuFigure> CpuCaps(const CgroupInfo& info) {
  std::vector<CpuFigure> caps;
  if (info.cpuset_cpus) {
    caps.push_back({static_cast<double>(*info.cpuset_cpus),
                    fmt::format("cpuset {} ({})", Cpus(*info.cpuset_cpus),
                                info.cpuset_source)});
  }
  if (info.affinity_cpus > 0) {
    caps.push_back({static_cast<double>(info.affinity_cpus),
                    fmt::format("CPU affinity {} (Cpus_allowed_list)",
                                Cpus(info.affinity_cpus))});
  } else {
    caps.push_back({static_cast<double>(info.host_cpus),
                    fmt::format("{} online", Cpus(info.host_cpus))});
  }
  return caps;
}

// The smallest figure; the first one wins a tie.
CpuFigure Smallest(const std::vector<CpuFigure>& figures) {
  return *std::min_element(
      figures.begin(), figures.end(),
      [](const CpuFigure& a, const CpuFigure& b) { return a.cpus < b.cpus; });
}

// What sizing multiplies: the cgroup's effective CPUs, or the pod's CPU
// request when the cgroup sets no quota (Kubernetes requests without limits).
CpuFigure BaseCpus(const CgroupInfo& info, std::optional<long> request) {
  std::vector<CpuFigure> caps = CpuCaps(info);
  if (!info.cpu_quota_cores && request && *request > 0) {
    double cores = static_cast<double>(*request) / 1000.0;
    CpuFigure capped = Smallest(caps);
    std::string origin = fmt::format(
        "CPU request {:g} cores (COREFORK_CPU_REQUEST={}m, no CPU quota)",
        cores, *request);
    if (capped.cpus < cores) {
      return {capped.cpus, origin + " capped by " + capped.origin};
    }
    return {cores, origin};
  }
  if (info.cpu_quota_cores) {
    caps.insert(caps.begin(),
                {*info.cpu_quota_cores,
                 fmt::format("CPU quota {:g} cores ({})", *info.cpu_quota_cores,
                             info.quota_source)});
  }
  CpuFigure base = Smallest(caps);
  // Hand-built or clamped findings: trust effective_cpus, say so.
  if (std::abs(base.cpus - info.effective_cpus) > kRoundingSlack) {
    return {info.effective_cpus,
            fmt::format("{:g} effective CPUs", info.effective_cpus)};
  }
  return base;
}

int Round(double value, Rounding rounding, std::string* how) {
  double rounded = 0;
  switch (rounding) {
    case Rounding::kFloor:
      rounded = std::floor(value + kRoundingSlack);
      *how = "rounded down";
      break;
    case Rounding::kCeil:
      rounded = std::ceil(value - kRoundingSlack);
      *how = "rounded up";
      break;
    case Rounding::kNearest:
      rounded = std::round(value);
      *how = "rounded to nearest";
      break;
  }
  if (std::abs(rounded - value) <= kRoundingSlack) how->clear();
  return static_cast<int>(std::min(rounded, 1e9));
}

// Applies min, max and the floor of one worker; appends what changed.
int Clamp(int workers, const SizingConfig& sizing, std::string* why) {
  if (workers < sizing.min) {
    workers = sizing.min;
    *why += fmt::format(", raised to min {}", sizing.min);
  }
  if (workers > sizing.max) {
    workers = sizing.max;
    *why += fmt::format(", lowered to max {}", sizing.max);
  }
  if (workers < 1) {
    workers = 1;
    *why += ", raised to 1";
  }
  return workers;
}

int CapByMemory(int workers, const CgroupInfo& info, const SizingConfig& sizing,
                std::string* why) {
  if (!sizing.memory_per_worker || *sizing.memory_per_worker == 0) {
    return workers;
  }
  if (!info.memory_limit_bytes) {
    *why += ", no memory limit to cap it";
    return workers;
  }
  uint64_t fit = *info.memory_limit_bytes / *sizing.memory_per_worker;
  int allowed = static_cast<int>(std::clamp<uint64_t>(fit, 1, 1'000'000'000));
  std::string memory =
      fmt::format("memory limit {} ({}) / {} per worker",
                  FormatBytes(*info.memory_limit_bytes), info.memory_source,
                  FormatBytes(*sizing.memory_per_worker));
  if (workers > allowed) {
    *why += fmt::format(", capped at {} by {}", allowed, memory);
    return allowed;
  }
  *why += fmt::format(", within {} (allows {})", memory, allowed);
  return workers;
}

}  // namespace

SizingDecision DecideWorkers(const CgroupInfo& info, const SizingConfig& sizing,
                             std::optional<long> cpu_request_millicores) {
  SizingDecision decision;
  if (sizing.count) {
    decision.workers = std::max(*sizing.count, 1);
    decision.cpus_used = info.effective_cpus;
    decision.reason = fmt::format(
        "{} {}: set explicitly (workers: {})", decision.workers,
        Plural(decision.workers, "worker", "workers"), *sizing.count);
    return decision;
  }
  CpuFigure base = BaseCpus(info, cpu_request_millicores);
  double raw = base.cpus * sizing.per_cpu;
  std::string how;
  std::string why =
      fmt::format("{} x {:g} per CPU", base.origin, sizing.per_cpu);
  int workers = Round(raw, sizing.rounding, &how);
  if (!how.empty()) why += fmt::format(" = {:g}, {}", raw, how);
  workers = Clamp(workers, sizing, &why);
  workers = CapByMemory(workers, info, sizing, &why);
  decision.workers = workers;
  decision.cpus_used = base.cpus;
  decision.reason = fmt::format("{} {}: {}", workers,
                                Plural(workers, "worker", "workers"), why);
  return decision;
}

Json CgroupJson(const CgroupInfo& info, std::string_view version_key) {
  Json json;
  json[std::string(version_key)] = info.version;
  json["cpu_cgroup_path"] = info.cpu_cgroup_path;
  json["cpu_quota_cores"] =
      info.cpu_quota_cores ? JsonNumber(*info.cpu_quota_cores) : nullptr;
  json["quota_source"] = info.quota_source;
  json["cpuset_cpus"] = JsonOptional(info.cpuset_cpus);
  json["cpuset_source"] = info.cpuset_source;
  json["affinity_cpus"] = info.affinity_cpus;
  json["host_cpus"] = info.host_cpus;
  json["memory_limit_bytes"] = JsonOptional(info.memory_limit_bytes);
  json["memory_source"] = info.memory_source;
  json["effective_cpus"] = JsonNumber(info.effective_cpus);
  json["notes"] = info.notes;
  return json;
}

std::string DetectionJson(const CgroupInfo& info,
                          const SizingDecision& decision) {
  Json json = CgroupJson(info, "cgroup_version");
  json["workers"] = decision.workers;
  json["cpus_used"] = JsonNumber(decision.cpus_used);
  json["reason"] = decision.reason;
  return JsonDump(json);
}

std::string DetectionText(const CgroupInfo& info,
                          const SizingDecision& decision) {
  auto with_source = [](std::string value, const std::string& source) {
    return source.empty() ? value : value + " (" + source + ")";
  };
  std::string quota =
      info.cpu_quota_cores
          ? with_source(fmt::format("{:g} cores", *info.cpu_quota_cores),
                        info.quota_source)
          : "none";
  std::string cpuset = info.cpuset_cpus ? with_source(Cpus(*info.cpuset_cpus),
                                                      info.cpuset_source)
                                        : "none";
  std::string memory = info.memory_limit_bytes
                           ? with_source(FormatBytes(*info.memory_limit_bytes),
                                         info.memory_source)
                           : "none";
  std::string text = fmt::format(
      "cgroup version:  {}\n"
      "cpu cgroup:      {}\n"
      "cpu quota:       {}\n"
      "cpuset:          {}\n"
      "affinity:        {}\n"
      "host:            {}\n"
      "effective CPUs:  {:g}\n"
      "memory limit:    {}\n"
      "workers:         {}\n"
      "reason:          {}\n",
      info.version, info.cpu_cgroup_path.empty() ? "-" : info.cpu_cgroup_path,
      quota, cpuset, Cpus(info.affinity_cpus), Cpus(info.host_cpus),
      info.effective_cpus, memory, decision.workers, decision.reason);
  for (const std::string& note : info.notes) {
    text += "note:            " + note + "\n";
  }
  return text;
}

}  // namespace corefork
