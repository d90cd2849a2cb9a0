// Merging the workers' own /metrics (Prometheus text format 0.0.4) into
// corefork's scrape: every sample gets a worker="N" label (an app's own
// `worker` label becomes `exported_worker`, as Prometheus renames clashing
// labels), and the samples are regrouped by family so that each family has
// one HELP and one TYPE line and its samples together, as the format
// requires, whatever order the workers exposed them in. Pure functions over
// strings; any thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace corefork {

struct WorkerMetrics {
  int slot = 0;
  std::string_view text;  // the worker's response body
};

struct MergeCounts {
  uint64_t samples = 0;
  uint64_t families = 0;
  uint64_t dropped_lines = 0;  // malformed, or a family clashing with ours
};

// The merged exposition of `workers` (in the order given), leaving out the
// families named in `reserved` (corefork's own), each ending in "\n".
std::string MergeAppMetrics(const std::vector<WorkerMetrics>& workers,
                            const std::set<std::string>& reserved,
                            MergeCounts* counts);

// The family names an exposition declares (# TYPE / # HELP) or samples use:
// what `reserved` is made of.
std::set<std::string> FamilyNames(std::string_view exposition);

}  // namespace corefork
