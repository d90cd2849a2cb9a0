#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "metrics/families.h"
#include "metrics/proc_collector.h"
#include "os/exit_codes.h"
#include "util/log.h"

namespace corefork {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Exported even at 0, so dashboards and rate() see every series from the
// first scrape on.
constexpr const char* kWorkerStates[] = {"starting", "ready", "stopping",
                                         "backoff"};
constexpr const char* kRecycleReasons[] = {"max_rss", "max_lifetime",
                                           "schedule", "memory_pressure"};
constexpr const char* kRestartReasons[] = {
    "crash",   "watchdog",     "ready_timeout", "reload",         "probe",
    "max_rss", "max_lifetime", "schedule",      "memory_pressure"};

// From a fast app (50 ms) to one that loads a large bundle (a minute).
Histogram::BucketBoundaries ReadyBuckets() {
  return {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

// (kind, code_or_signal) of a worker's end; kind is "" for a wait status
// that is no end (stopped, continued).
std::pair<std::string, std::string> ExitLabels(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return {"exited", std::to_string(WEXITSTATUS(wait_status))};
  }
  if (WIFSIGNALED(wait_status)) {
    return {"killed", SignalName(WTERMSIG(wait_status))};
  }
  return {"", ""};
}

}  // namespace

struct Metrics::Impl {
  explicit Impl(const std::string& version);

  // Sets a gauge that is exported only while its value is known.
  void SetOptionalGauge(Family<Gauge>& family, Gauge*& sample,
                        std::optional<double> value);

  prometheus::Registry registry;
  Family<Gauge>& cpu_limit;
  Family<Gauge>& memory_limit;
  Gauge& workers_desired;
  Family<Gauge>& workers;
  Gauge& ready;
  Gauge& draining;
  Family<Counter>& restarts;
  Family<Counter>& recycles;
  Counter& probe_failures;
  Counter& limit_changes;
  Family<Counter>& app_metrics_skipped;
  Family<Counter>& exits;
  Family<Counter>& worker_log_dropped;
  Histogram& ready_seconds;
  Family<Counter>& job_runs;
  Family<Histogram>& job_duration;
  Family<Gauge>& jobs_running;
  Family<Gauge>& jobs_queued;
  Family<Counter>& job_rejections;
  Family<Gauge>& job_pool_processes;
  Family<Counter>& job_pool_exits;

  std::mutex mu;  // guards the members below (the families lock themselves)
  Gauge* cpu_limit_sample = nullptr;     // null while the limit is unknown
  Gauge* memory_limit_sample = nullptr;  // null while the limit is unknown
  std::set<std::string> states;          // every state ever exported
};

Metrics::Impl::Impl(const std::string& version)
    : cpu_limit(RegisterGauge(
          registry, "corefork_cpu_limit_cores",
          "CPU limit from the cgroup quota, in cores; absent when none.")),
      memory_limit(RegisterGauge(
          registry, "corefork_memory_limit_bytes",
          "Memory limit from the cgroup, in bytes; absent when none.")),
      workers_desired(RegisterGauge(registry, "corefork_workers_desired",
                                    "Number of worker slots corefork keeps.")
                          .Add({})),
      workers(RegisterGauge(registry, "corefork_workers",
                            "Number of worker processes by state.")),
      ready(RegisterGauge(registry, "corefork_ready",
                          "1 when /readyz answers 200, else 0.")
                .Add({})),
      draining(RegisterGauge(registry, "corefork_draining",
                             "1 once shutdown has begun (SIGTERM), else 0.")
                   .Add({})),
      restarts(RegisterCounter(registry, "corefork_worker_restarts_total",
                               "Worker restarts by reason.")),
      recycles(RegisterCounter(
          registry, "corefork_worker_recycles_total",
          "Worker recycles started (recycle.*), by reason: max_rss, "
          "max_lifetime, schedule, memory_pressure.")),
      probe_failures(RegisterCounter(registry,
                                     "corefork_worker_probe_failures_total",
                                     "Worker probes (health.worker) that "
                                     "failed: no answer in time, or not "
                                     "2xx/3xx.")
                         .Add({})),
      limit_changes(RegisterCounter(registry, "corefork_limit_changes_total",
                                    "Changes of the container's CPU or "
                                    "memory limit seen while running "
                                    "(sizing.follow).")
                        .Add({})),
      app_metrics_skipped(RegisterCounter(
          registry, "corefork_app_metrics_skipped_total",
          "Scrapes that left a worker's own metrics out (metrics.app): no "
          "answer in time, or not a 200.")),
      exits(RegisterCounter(
          registry, "corefork_worker_exits_total",
          "Worker process ends by kind (exited, killed) and exit code or "
          "signal.")),
      worker_log_dropped(RegisterCounter(
          registry, "corefork_worker_log_lines_dropped_total",
          "Worker output lines dropped (logs.workers tagged or json) "
          "because corefork's stdout or stderr did not keep up, by stream.")),
      ready_seconds(
          RegisterHistogram(registry, "corefork_worker_ready_seconds",
                            "Time from a worker's start to its readiness, in "
                            "seconds.")
              .Add({}, ReadyBuckets())),
      job_runs(RegisterCounter(registry, "corefork_job_runs_total",
                               "Finished job runs by job and result "
                               "(succeeded, failed, timed_out, cancelled).")),
      job_duration(RegisterHistogram(
          registry, "corefork_job_duration_seconds",
          "Duration of finished job runs, start to exit, in seconds.")),
      jobs_running(RegisterGauge(registry, "corefork_jobs_running",
                                 "Job runs executing now, by job.")),
      jobs_queued(RegisterGauge(registry, "corefork_jobs_queued",
                                "Job runs waiting to start, by job.")),
      job_rejections(RegisterCounter(
          registry, "corefork_job_rejections_total",
          "Job runs refused or skipped, by job and reason (queue_full, "
          "not_on_demand, shutting_down, overlap).")),
      job_pool_processes(RegisterGauge(
          registry, "corefork_job_pool_processes",
          "A job pool's processes, by job and state (idle, busy, retiring).")),
      job_pool_exits(RegisterCounter(
          registry, "corefork_job_pool_process_exits_total",
          "Job pool processes ended, by job and reason (max_runs, memory, "
          "idle, shutdown, timeout, cancelled, crashed, protocol).")) {
  RegisterGauge(registry, "corefork_build_info",
                "Always 1; the labels describe the corefork build.")
      .Add({{"version", version}})
      .Set(1);
  for (const char* state : kWorkerStates) {
    workers.Add({{"state", state}});
    states.insert(state);
  }
  for (const char* reason : kRestartReasons) restarts.Add({{"reason", reason}});
  for (const char* reason : kRecycleReasons) recycles.Add({{"reason", reason}});
  for (const char* stream : {"stdout", "stderr"}) {
    worker_log_dropped.Add({{"stream", stream}});
  }
}

void Metrics::Impl::SetOptionalGauge(Family<Gauge>& family, Gauge*& sample,
                                     std::optional<double> value) {
  std::lock_guard<std::mutex> lock(mu);
  if (!value || !std::isfinite(*value)) {
    if (sample != nullptr) family.Remove(sample);
    sample = nullptr;
    return;
  }
  if (sample == nullptr) sample = &family.Add({});
  sample->Set(*value);
}

Metrics::Metrics(const std::string& version)
    : impl_(std::make_unique<Impl>(version)) {}

Metrics::~Metrics() = default;

void Metrics::SetLimits(std::optional<double> cpu_cores,
                        std::optional<uint64_t> memory_bytes) {
  impl_->SetOptionalGauge(impl_->cpu_limit, impl_->cpu_limit_sample, cpu_cores);
  std::optional<double> memory;
  if (memory_bytes) memory = static_cast<double>(*memory_bytes);
  impl_->SetOptionalGauge(impl_->memory_limit, impl_->memory_limit_sample,
                          memory);
}

void Metrics::SetWorkers(int desired,
                         const std::map<std::string, int>& counts_by_state) {
  impl_->workers_desired.Set(desired);
  std::lock_guard<std::mutex> lock(impl_->mu);
  // A state missing from the map is 0 workers, not a stale earlier count.
  for (const auto& [state, count] : counts_by_state) {
    impl_->states.insert(state);
  }
  for (const std::string& state : impl_->states) {
    auto it = counts_by_state.find(state);
    int count = it == counts_by_state.end() ? 0 : it->second;
    impl_->workers.Add({{"state", state}}).Set(count);
  }
}

void Metrics::SetReady(bool ready) { impl_->ready.Set(ready ? 1 : 0); }

void Metrics::SetDraining(bool draining) {
  impl_->draining.Set(draining ? 1 : 0);
}

void Metrics::CountRestart(const std::string& reason) {
  impl_->restarts.Add({{"reason", reason}}).Increment();
}

void Metrics::CountRecycle(const std::string& reason) {
  impl_->recycles.Add({{"reason", reason}}).Increment();
}

void Metrics::CountProbeFailure() { impl_->probe_failures.Increment(); }

void Metrics::CountWorkerLogLinesDropped(const std::string& stream,
                                         uint64_t lines) {
  impl_->worker_log_dropped.Add({{"stream", stream}})
      .Increment(static_cast<double>(lines));
}

void Metrics::CountLimitChange() { impl_->limit_changes.Increment(); }

void Metrics::CountAppMetricsSkipped(int slot) {
  impl_->app_metrics_skipped.Add({{"worker", std::to_string(slot)}})
      .Increment();
}

void Metrics::CountExit(int wait_status) {
  auto [kind, code_or_signal] = ExitLabels(wait_status);
  if (kind.empty()) return;
  impl_->exits.Add({{"kind", kind}, {"code_or_signal", code_or_signal}})
      .Increment();
}

void Metrics::SetJobCounts(const std::string& job, int running, int queued) {
  impl_->jobs_running.Add({{"job", job}}).Set(running);
  impl_->jobs_queued.Add({{"job", job}}).Set(queued);
}

void Metrics::CountJobRun(const std::string& job, const std::string& result,
                          double seconds) {
  impl_->job_runs.Add({{"job", job}, {"result", result}}).Increment();
  impl_->job_duration
      .Add({{"job", job}},
           Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                       1, 2.5, 5, 10, 30, 60, 300, 1800})
      .Observe(seconds);
}

void Metrics::CountJobRejection(const std::string& job,
                                const std::string& reason) {
  impl_->job_rejections.Add({{"job", job}, {"reason", reason}}).Increment();
}

void Metrics::SetJobPoolProcesses(const std::string& job, int idle, int busy,
                                  int retiring) {
  impl_->job_pool_processes.Add({{"job", job}, {"state", "idle"}}).Set(idle);
  impl_->job_pool_processes.Add({{"job", job}, {"state", "busy"}}).Set(busy);
  impl_->job_pool_processes.Add({{"job", job}, {"state", "retiring"}})
      .Set(retiring);
}

void Metrics::DeclareJobPool(const std::string& job) {
  SetJobPoolProcesses(job, 0, 0, 0);
  for (const char* reason : {"max_runs", "memory", "idle", "shutdown",
                             "timeout", "cancelled", "crashed", "protocol"}) {
    impl_->job_pool_exits.Add({{"job", job}, {"reason", reason}});
  }
}

void Metrics::CountJobPoolExit(const std::string& job,
                               const std::string& reason) {
  impl_->job_pool_exits.Add({{"job", job}, {"reason", reason}}).Increment();
}

void Metrics::ObserveReadySeconds(double seconds) {
  impl_->ready_seconds.Observe(seconds);
}

std::string Metrics::Scrape(const std::vector<WorkerPid>& workers) const {
  std::vector<prometheus::MetricFamily> families = impl_->registry.Collect();
  SortSamplesByLabels(families);
  const ProcCollector scrape_time(workers, getpid());
  for (prometheus::MetricFamily& family : scrape_time.Collect()) {
    families.push_back(std::move(family));
  }
  // Kept by the logger itself (util/log.h), which knows nothing of metrics.
  prometheus::MetricFamily dropped = MakeFamily(
      "corefork_log_lines_dropped_total",
      "corefork's own log lines dropped because stderr did not keep up.",
      prometheus::MetricType::Counter);
  AddSample(dropped, {}, static_cast<double>(LogLinesDropped()));
  families.push_back(std::move(dropped));
  SortFamiliesByName(families);
  return prometheus::TextSerializer().Serialize(families);
}

prometheus::Registry& Metrics::registry() { return impl_->registry; }

}  // namespace corefork
