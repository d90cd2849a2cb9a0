#include "metrics/proc_collector.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "metrics/families.h"
#include "metrics/proc_stats.h"

namespace corefork {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

// Families with no samples are left out, as the registry leaves out its own.
void AppendNonEmpty(std::vector<MetricFamily> from,
                    std::vector<MetricFamily>& to) {
  for (MetricFamily& family : from) {
    if (!family.metric.empty()) to.push_back(std::move(family));
  }
}

}  // namespace

ProcCollector::ProcCollector(std::vector<WorkerPid> workers, pid_t self,
                             std::string proc_root)
    : workers_(std::move(workers)),
      self_(self),
      proc_root_(std::move(proc_root)) {}

std::vector<MetricFamily> ProcCollector::Collect() const {
  std::vector<MetricFamily> families;
  AppendNonEmpty(CollectWorkers(), families);
  AppendNonEmpty(CollectSelf(), families);
  return families;
}

std::vector<MetricFamily> ProcCollector::CollectWorkers() const {
  MetricFamily cpu = MakeFamily(
      "corefork_worker_cpu_seconds_total",
      "User and system CPU time spent by the worker process, in seconds.",
      MetricType::Counter);
  MetricFamily resident =
      MakeFamily("corefork_worker_resident_memory_bytes",
                 "Resident memory size of the worker process, in bytes.",
                 MetricType::Gauge);
  MetricFamily fds = MakeFamily("corefork_worker_open_fds",
                                "Open file descriptors of the worker process.",
                                MetricType::Gauge);
  MetricFamily start = MakeFamily(
      "corefork_worker_start_time_seconds",
      "Start time of the worker process since the Unix epoch, in seconds.",
      MetricType::Gauge);
  for (const WorkerPid& worker : workers_) {
    std::optional<ProcStats> stats = ReadProcStats(worker.pid, proc_root_);
    if (!stats) continue;  // no process in the slot, or it is gone
    const prometheus::Labels labels = {
        {"worker", std::to_string(worker.worker)}};
    AddSample(cpu, labels, stats->cpu_seconds);
    AddSample(resident, labels, static_cast<double>(stats->resident_bytes));
    AddSample(fds, labels, stats->open_fds);
    AddSample(start, labels, stats->start_time_seconds);
  }
  return {std::move(cpu), std::move(resident), std::move(fds),
          std::move(start)};
}

// Same names and help texts as the Prometheus client libraries' process
// collectors, so standard dashboards work unchanged.
std::vector<MetricFamily> ProcCollector::CollectSelf() const {
  std::optional<ProcStats> stats = ReadProcStats(self_, proc_root_);
  if (!stats) return {};
  auto family = [](const char* name, const char* help, MetricType type,
                   double value) {
    MetricFamily f = MakeFamily(name, help, type);
    AddSample(f, {}, value);
    return f;
  };
  std::vector<MetricFamily> families = {
      family("process_cpu_seconds_total",
             "Total user and system CPU time spent in seconds.",
             MetricType::Counter, stats->cpu_seconds),
      family("process_resident_memory_bytes", "Resident memory size in bytes.",
             MetricType::Gauge, static_cast<double>(stats->resident_bytes)),
      family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
             MetricType::Gauge, static_cast<double>(stats->virtual_bytes)),
      family("process_open_fds", "Number of open file descriptors.",
             MetricType::Gauge, stats->open_fds),
      family("process_start_time_seconds",
             "Start time of the process since unix epoch in seconds.",
             MetricType::Gauge, stats->start_time_seconds),
  };
  if (stats->max_fds >= 0) {  // absent when unlimited or unknown
    families.push_back(
        family("process_max_fds", "Maximum number of open file descriptors.",
               MetricType::Gauge, static_cast<double>(stats->max_fds)));
  }
  return families;
}

}  // namespace corefork
