// ProcCollector: the metrics read from /proc at scrape time: one sample per
// worker (label `worker`) and corefork's own process_* metrics. Build one per
// scrape on the scraping thread; it holds only a copy of that scrape's inputs,
// so concurrent scrapes share nothing. Workers whose /proc is gone are skipped.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace corefork {

class ProcCollector : public prometheus::Collectable {
 public:
  // self: corefork's own pid, for the process_* metrics.
  ProcCollector(std::vector<WorkerPid> workers, pid_t self,
                std::string proc_root = "/proc");

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::vector<prometheus::MetricFamily> CollectWorkers() const;
  std::vector<prometheus::MetricFamily> CollectSelf() const;

  const std::vector<WorkerPid> workers_;
  const pid_t self_;
  const std::string proc_root_;
};

}  // namespace corefork
