// The Config value: everything corefork needs to run, after merging defaults,
// the YAML file, COREFORK_* environment variables and command-line flags
// (flags win, then environment, then file). A plain value; main() builds it
// once and hands copies to the modules. docs/configuration.md documents every
// key with its default.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "schedule/cron.h"
#include "schedule/zone.h"
#include "util/log.h"

namespace corefork {

using Duration = std::chrono::milliseconds;

// How a listener's socket is shared by the workers.
enum class ShareMode {
  kReusePort,  // one SO_REUSEPORT socket per worker slot (default)
  kShared,     // one socket inherited by every worker
};

struct ListenerConfig {
  std::string name = "http";     // LISTEN_FDNAMES entry
  std::string host = "0.0.0.0";  // "::" for IPv6 (dual-stack)
  int port = 8080;
  int backlog = 511;
  ShareMode mode = ShareMode::kReusePort;
};

enum class Rounding { kFloor, kCeil, kNearest };

// How many workers to run. `count` set means the user chose; otherwise the
// count comes from the cgroup findings (see cgroup/sizing.h).
struct SizingConfig {
  std::optional<int> count;  // `workers: N`; nullopt = `workers: auto`
  double per_cpu = 1.0;
  Rounding rounding = Rounding::kFloor;
  int min = 1;
  int max = 1024;
  std::optional<uint64_t> memory_per_worker;  // bytes
  // `workers: auto` only: re-read the limits every follow_interval and scale
  // to a changed count (in-place pod resize).
  bool follow = true;
  Duration follow_interval{2'000};
};

struct RestartConfig {
  Duration initial_delay{100};
  double factor = 2.0;
  Duration max_delay{30'000};
  // A worker that was ready this long had a good run: its exit resets its
  // slot's backoff and failures (PM2's min_uptime).
  Duration reset_after{1'000};
  // Consecutive failures of one slot that make corefork give up (0: never).
  int max_failures = 5;
};

struct ShutdownConfig {
  Duration drain_delay{5'000};
  Duration timeout{30'000};
  int stop_signal = 15;  // SIGTERM; config accepts "SIGTERM", "TERM", "15"
  // PM2's shutdown_with_message: a worker with a Node IPC channel gets the
  // message 'shutdown' instead of the stop signal (SIGKILL still follows
  // after `timeout`); workers without a channel get the signal.
  bool message = false;
};

// How a worker tells corefork it is ready to serve.
enum class ReadyMode {
  kAuto,    // kListen when the listen shim is loaded into workers, else kNone
  kNone,    // ready as soon as it is started
  kNotify,  // after READY=1 on NOTIFY_SOCKET or COREFORK_NOTIFY_FD ("fd"),
            // or process.send('ready') on the Node IPC channel
  kListen,  // once the app called listen() on its listener (the shim says so)
};

struct ReadyConfig {
  ReadyMode mode = ReadyMode::kAuto;
  // A worker not ready this long after it started is killed and restarted.
  Duration timeout{60'000};
  // Readiness of the pod: at least this many ready workers, or this
  // percentage of the desired count (rounded up) when min_workers_percent.
  int min_workers = 1;
  bool min_workers_percent = false;
};

struct WatchdogConfig {
  // 0: off. Otherwise each worker gets WATCHDOG_USEC and must send WATCHDOG=1
  // at least this often once ready.
  Duration timeout{0};
  // After the SIGABRT of a hung worker, SIGKILL this much later.
  Duration grace{5'000};
};

struct ControlConfig {
  // Unix socket of the control API; "" = $COREFORK_CONTROL_SOCKET, else
  // /run/corefork/control.sock (or $TMPDIR/corefork/control.sock when /run
  // is not writable).
  std::string socket;
};

// What a schedule does when the previous run of the job is still going
// (Kubernetes CronJob: skip = Forbid, allow = Allow; queue waits for it).
enum class Overlap { kSkip, kQueue, kAllow };

// jobs.NAME.pool (docs/jobs.md, "Pools"): instead of a process per run,
// up to `size` long-lived processes of the job's command, each taking runs
// one after another over a line protocol on its stdin and stdout.
struct JobPoolConfig {
  int size = 0;            // processes at most (= concurrency); 0: CPU count
  std::optional<int> min;  // kept running while idle; default: size if warm
  int max_runs = 0;        // runs per process, then it is replaced; 0: no limit
  Duration idle_timeout{300'000};  // an idle process above min stops; 0: never
  bool warm = false;       // start min processes at start, not on first use
  bool readiness = false;  // /readyz waits for a running process (implies warm)
  // Bytes of the process and its descendants, read after each run: above
  // it, the process is replaced.
  std::optional<uint64_t> max_rss;
  uint64_t max_answer = 1024 * 1024;  // bytes of one answer line
};

// One job: work offloaded to a child process (docs/jobs.md).
struct JobConfig {
  std::string name;                  // the key under `jobs:`
  std::vector<std::string> command;  // argv; with shell: {"/bin/sh","-c",s}
  bool shell = false;
  std::map<std::string, std::string> env;
  std::string workdir;
  std::string user;  // drop to this user/group when corefork runs as root
  std::string group;
  Duration timeout{0};         // 0: none. Then SIGTERM to the run's group...
  Duration kill_grace{5'000};  // ...and SIGKILL this much later
  int concurrency = 0;         // runs at once; 0 = the detected CPU count
  int queue = 100;             // waiting runs beyond which requests are refused
  int retries = 0;             // extra attempts for a failed run
  Duration retry_delay{1'000};        // doubled per attempt
  uint64_t max_output = 1024 * 1024;  // bytes kept per stream (stdout, stderr)
  // Triggers (at least one).
  bool at_start = false;
  bool required = true;  // at_start: a failure stops startup
  // Parsed once, by the config loader (jobs_config.cc), so a job that
  // loaded has a schedule that works.
  std::optional<CronSchedule> schedule;  // 5-field cron or @hourly...
  TimeZone timezone;                     // of `schedule`; default UTC
  Duration every{0};                     // 0 = none
  Overlap overlap = Overlap::kSkip;
  bool on_demand = false;
  std::optional<JobPoolConfig> pool;  // absent: a process per run
};

struct JobHistoryConfig {
  int max_runs = 1000;          // finished runs kept for GET /jobs/runs/{id}
  Duration max_age{3'600'000};  // ...and for at most this long
  // Captured output kept across all finished runs; past it the oldest runs'
  // output is dropped first (their records stay).
  uint64_t max_bytes = 8 * 1024 * 1024;
};

// Running apps that were never written for corefork (docs/configuration.md).
enum class CompatListen {
  kAuto,  // preload the listen shim into dynamically linked commands
  kOff,
};
enum class NodeIpc {
  kAuto,  // on when the command is node, npm, npx or yarn
  kOn,
  kOff,
};
struct CompatConfig {
  CompatListen listen = CompatListen::kAuto;
  NodeIpc node_ipc = NodeIpc::kAuto;
};

// How new connections are spread over a reuseport listener's slots (see
// net/steering.h): `auto` attaches corefork's program (ready slots only, and
// lines to each worker) and falls back to the kernel's hash if the kernel
// refuses it or the self-test fails; `off` leaves it to the kernel.
enum class SteeringMode { kAuto, kOff };
struct SteeringConfig {
  SteeringMode mode = SteeringMode::kAuto;
  // First source port of corefork's lines: base .. base + 4 x slots - 1,
  // below Linux's ephemeral range (32768+) so ordinary clients rarely match.
  int line_ports = 28000;
};

// metrics.app: corefork scrapes every ready worker's own metrics endpoint
// through its line when Prometheus scrapes corefork, and merges them.
struct AppMetricsConfig {
  std::string path;  // "" = off; else like "/metrics"
  Duration timeout{2'000};
  uint64_t max_bytes = 8 * 1024 * 1024;  // per worker answer
};

// health.worker: corefork GETs `path` on each ready worker through its line
// every `interval`; `failures` failures in a row replace the worker.
struct WorkerProbeConfig {
  std::string path;  // "" = off
  Duration interval{10'000};
  Duration timeout{2'000};
  int failures = 3;
};

// recycle: replace a worker, one slot at a time and readiness-gated (its
// successor is ready before it stops), when its process tree's RSS passes
// max_rss, when its lifetime is over, on a cron schedule (every worker, as a
// rolling reload), or, biggest first, when the container's memory use
// passes memory_pressure of its limit. Everything off by default.
struct RecycleConfig {
  std::optional<uint64_t> max_rss;  // bytes, of the worker and descendants
  // 0: off. Each worker's own lifetime is drawn uniformly from
  // [max_lifetime * (1 - jitter), max_lifetime * (1 + jitter)].
  Duration max_lifetime{0};
  double jitter = 0.1;                    // a fraction, 0..0.9
  std::optional<CronSchedule> schedule;   // a rolling restart of all
  TimeZone timezone;                      // of `schedule`; default UTC
  std::optional<double> memory_pressure;  // fraction of the limit, 0..1
  Duration check_interval{5'000};         // RSS and memory reads
  bool On() const {
    return max_rss || max_lifetime.count() > 0 || schedule || memory_pressure;
  }
};

// logs.workers: what becomes of the workers' stdout and stderr. kRaw: they
// are corefork's own (inherited, no copying); kTagged / kJson: pipes read by
// the loop, each line prefixed with the slot or turned into one JSON object
// (supervisor/worker_output.h).
enum class WorkerLogMode { kRaw, kTagged, kJson };

struct LogConfig {
  LogFormat format = LogFormat::kText;
  std::string level = "info";  // trace|debug|info|warn|error|critical|off
  WorkerLogMode workers = WorkerLogMode::kRaw;  // YAML logs.workers
};

struct Config {
  std::vector<std::string> command;  // argv of the worker app; never empty
  std::vector<ListenerConfig> listeners{ListenerConfig{}};
  SizingConfig workers;
  RestartConfig restart;
  ShutdownConfig shutdown;
  LogConfig log;
  ReadyConfig ready;
  WatchdogConfig watchdog;
  ControlConfig control;
  CompatConfig compat;
  SteeringConfig steering;
  AppMetricsConfig app_metrics;    // YAML metrics.app
  WorkerProbeConfig worker_probe;  // YAML health.worker
  RecycleConfig recycle;
  std::map<std::string, JobConfig> jobs;
  JobHistoryConfig job_history;
  std::map<std::string, std::string> env;  // extra environment for workers
  std::string cgroup_root = "/";  // where /proc and /sys are read (tests)
  // Admin HTTP server (read-only endpoints): "ADDR:PORT" or "[IPV6]:PORT",
  // already validated; port 0 asks the kernel for a free port.
  std::string admin = "0.0.0.0:9180";
  // The config file named by --config or COREFORK_CONFIG; "" = none.
  std::string config_file;
};

// A problem found while building a Config. `file` is the config file, or
// "environment" / "command line"; line and column are 1-based, 0 if unknown.
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;  // names the key and what was expected

  // "FILE:LINE:COL: message" (or "FILE: message" without a position).
  std::string ToString() const;
};

// What the command line asks for.
struct Invocation {
  enum class Mode { kRun, kDetect, kCheckConfig, kHelp, kVersion, kClient };
  Mode mode = Mode::kRun;
  std::string config_path;  // --config FILE, or check-config's FILE
  bool json = false;        // detect --json, status/jobs/run --json
  // A client command (`corefork status`, `reload`, `scale`, `jobs`, `run`,
  // `cancel`, `probe`; docs/cli.md): talks to a running corefork.
  struct Client {
    std::string name;      // "status", "reload", ...
    std::string argument;  // scale's N|+N|-N, run's JOB, cancel's RUN,
                           // probe's livez|readyz; "" when not given
    std::string socket;    // --socket PATH; "" = found as the server does
    bool wait = false;     // reload --wait, run --wait
    std::optional<std::string> input;  // run --input FILE, "-" = stdin
  };
  Client client;           // Mode::kClient
  std::string root = "/";  // detect --root DIR (also accepted for run)
  // Flag values not yet merged; applied last by LoadConfig.
  std::vector<std::pair<std::string, std::string>> flag_overrides;
  std::vector<std::string> command;  // after "--"
};

// Parses argv. Errors (unknown flag, missing value) come back as ConfigErrors
// with file "command line".
bool ParseCommandLine(int argc, char** argv, Invocation* out,
                      std::vector<ConfigError>* errors);

// Usage text for --help.
std::string UsageText();

// Merges defaults < file (if any) < environment < flags into *out (which it
// resets first). Requires a command only in Mode::kRun. Collects
// every problem it finds instead of stopping at the first; returns true when
// there were none. `environ_vars` is KEY=VALUE strings (e.g. from environ).
bool LoadConfig(const Invocation& invocation,
                const std::vector<std::string>& environ_vars, Config* out,
                std::vector<ConfigError>* errors);

// Parses one YAML document (file name used for messages) over *config.
// Used by LoadConfig and check-config; exposed for tests. Also runs the
// cross-field checks (duplicate listeners, sizing.max < min) but does not
// require `command:`, which may come from the command line.
bool ApplyYaml(const std::string& text, const std::string& file_name,
               Config* config, std::vector<ConfigError>* errors);

}  // namespace corefork
