// Merging the workers' own /metrics (Prometheus text format 0.0.4) into
// corefork's scrape: every worker sample gets a worker="N" label (an app's
// own `worker` label becomes `exported_worker`, as Prometheus renames
// clashing labels), and all samples are regrouped by family so that each
// family has one HELP and one TYPE line and its samples together, as the
// format requires, whatever order the workers exposed them in. A family
// corefork has too (process_cpu_seconds_total, which prom-client and
// prometheus_client also export) keeps corefork's HELP and TYPE and gains
// the workers' labelled samples next to corefork's own unlabelled one.
// Pure functions over strings; any thread.
#pragma once

#include <cstdint>
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

// corefork's own exposition `own` (unchanged, first) merged with the
// workers' (in the order given). A worker's sample of a family whose TYPE
// differs from the one declared first is left out and counted.
std::string MergeAppMetrics(std::string_view own,
                            const std::vector<WorkerMetrics>& workers,
                            MergeCounts* counts);

}  // namespace corefork
