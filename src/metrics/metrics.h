// Metrics: corefork's Prometheus registry (prometheus-cpp core) and its text
// exposition. The loop records events through the Count/Observe/Set calls
// (prometheus-cpp metrics are atomic, so any thread may call them); Scrape()
// runs on an HTTP thread and adds what is read at scrape time: each worker's
// /proc figures and corefork's own process_* metrics. Names: docs/metrics.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
}

namespace corefork {

struct WorkerPid {
  int worker = 0;  // slot id, the `worker` label
  pid_t pid = -1;
};

class Metrics {
 public:
  explicit Metrics(const std::string& version);
  ~Metrics();

  void SetLimits(std::optional<double> cpu_cores,
                 std::optional<uint64_t> memory_bytes);
  // counts_by_state: "starting", "ready", "stopping", "backoff" -> count
  // (every state always exported, 0 when absent).
  void SetWorkers(int desired,
                  const std::map<std::string, int>& counts_by_state);
  void SetReady(bool ready);
  void SetDraining(bool draining);
  // reason: "crash", "watchdog", "ready_timeout", "reload", "probe", and
  // the recycle reasons (max_rss, max_lifetime, schedule, memory_pressure).
  void CountRestart(const std::string& reason);
  // recycle: a worker's replacement started, reason "max_rss",
  // "max_lifetime", "schedule" or "memory_pressure". Its successor taking
  // over counts once more, as a restart with the same reason.
  void CountRecycle(const std::string& reason);
  // health.worker: a probe that failed (no answer in time, not 2xx/3xx).
  void CountProbeFailure();
  // sizing.follow saw the container's CPU or memory limit change.
  void CountLimitChange();
  // metrics.app left worker `slot` out of a scrape. Any thread.
  void CountAppMetricsSkipped(int slot);
  // A worker's end: kind "exited" (code_or_signal "0".."255") or "killed"
  // (code_or_signal "SIGKILL"...), from a wait status.
  void CountExit(int wait_status);
  void ObserveReadySeconds(double seconds);
  // logs.workers tagged/json: worker lines dropped because corefork's
  // stdout or stderr (stream "stdout", "stderr") did not keep up.
  void CountWorkerLogLinesDropped(const std::string& stream, uint64_t lines);

  // Jobs: gauges per job, a finished run (result: succeeded, failed,
  // timed_out, cancelled), a refused or skipped run (reason: queue_full,
  // not_on_demand, shutting_down, overlap).
  void SetJobCounts(const std::string& job, int running, int queued);
  void CountJobRun(const std::string& job, const std::string& result,
                   double seconds);
  void CountJobRejection(const std::string& job, const std::string& reason);
  // Job pools (docs/jobs.md "Pools"): processes by state (idle, busy,
  // retiring), and why one ended (max_runs, memory, idle, shutdown, timeout,
  // cancelled, crashed, protocol).
  void SetJobPoolProcesses(const std::string& job, int idle, int busy,
                           int retiring);
  void CountJobPoolExit(const std::string& job, const std::string& reason);
  // Every series of a pool at 0, so rate() and alerts work before its first
  // process starts or ends.
  void DeclareJobPool(const std::string& job);

  // Prometheus text format 0.0.4.
  std::string Scrape(const std::vector<WorkerPid>& workers) const;

  prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace corefork
