// Turns cgroup findings plus the sizing config into a worker count, with a
// one-sentence reason that says where every number came from.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cgroup/cgroup.h"
#include "config/config.h"
#include "util/json.h"

namespace corefork {

struct SizingDecision {
  int workers = 1;
  double cpus_used = 1.0;  // the CPU figure that sizing multiplied
  std::string reason;      // one human sentence
};

// cpu_request_millicores: COREFORK_CPU_REQUEST when set (used only when the
// cgroup has no CPU quota).
SizingDecision DecideWorkers(const CgroupInfo& info, const SizingConfig& sizing,
                             std::optional<long> cpu_request_millicores);

// The detected limits as a JSON object, the version under `version_key`
// ("version" in /status, "cgroup_version" in detect --json).
Json CgroupJson(const CgroupInfo& info, std::string_view version_key);

// `corefork detect --json`: CgroupJson plus the sizing decision (fields in
// docs/cli.md).
std::string DetectionJson(const CgroupInfo& info,
                          const SizingDecision& decision);
// `corefork detect`: the same for people, several lines.
std::string DetectionText(const CgroupInfo& info,
                          const SizingDecision& decision);

}  // namespace corefork
