// corefork: a container-aware prefork launcher. main() only wires the
// modules together and reads top to bottom like a checklist: parse the
// command line, load the config, set up logging and signals, size the worker
// pool from the cgroup, bind the listeners, then hand over to the Supervisor.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "admin/app_scraper.h"
#include "admin/control_server.h"
#include "admin/job_routes.h"
#include "cgroup/cgroup.h"
#include "cgroup/sizing.h"
#include "client/commands.h"
#include "config/config.h"
#include "config/values.h"
#include "loop/commands.h"
#include "metrics/metrics.h"
#include "net/listener.h"
#include "os/executable.h"
#include "os/exit_codes.h"
#include "os/fd_limit.h"
#include "os/runtime_paths.h"
#include "os/signals.h"
#include "os/spawn.h"
#include "os/trim.h"
#include "supervisor/compat.h"
#include "supervisor/state.h"
#include "supervisor/supervisor.h"
#include "util/log.h"

extern char** environ;

namespace corefork {
namespace {

std::vector<std::string> EnvironmentStrings() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

int PrintErrors(const std::vector<ConfigError>& errors) {
  for (const ConfigError& e : errors) {
    std::fprintf(stderr, "%s\n", e.ToString().c_str());
  }
  return ToInt(ExitCode::kUsage);
}

// COREFORK_CPU_REQUEST: the pod's requests.cpu in millicores (Downward API,
// divisor 1m). Used only when the cgroup sets no CPU quota.
std::optional<long> CpuRequestMillicores() {
  const char* value = std::getenv("COREFORK_CPU_REQUEST");
  if (value == nullptr || *value == '\0') return std::nullopt;
  char* end = nullptr;
  long millis = std::strtol(value, &end, 10);
  if (*end != '\0' || millis <= 0) {
    spdlog::warn(
        "ignoring COREFORK_CPU_REQUEST=\"{}\": expected millicores > 0", value);
    return std::nullopt;
  }
  return millis;
}

int Detect(const Invocation& invocation, const Config& config) {
  CgroupInfo info = DetectCgroup(invocation.root);
  SizingDecision decision =
      DecideWorkers(info, config.workers, CpuRequestMillicores());
  std::string out = invocation.json ? DetectionJson(info, decision)
                                    : DetectionText(info, decision);
  std::cout << out << (out.ends_with('\n') ? "" : "\n");
  return 0;
}

int CheckConfig(const Invocation& invocation) {
  Config config;
  std::vector<ConfigError> errors;
  if (!LoadConfig(invocation, {}, &config, &errors)) return PrintErrors(errors);
  std::printf("%s: OK\n", invocation.config_path.c_str());
  return 0;
}

// How long a `?wait=true` job request may wait: the longest a run can take.
std::chrono::milliseconds LongestRun(const Config& config) {
  std::chrono::milliseconds longest{5'000};
  for (const auto& [name, job] : config.jobs) {
    auto run = job.timeout.count() > 0 ? job.timeout + job.kill_grace
                                       : std::chrono::milliseconds(3'600'000);
    longest = std::max(longest, run * (job.retries + 1));
  }
  return longest + std::chrono::milliseconds(5'000);
}

Result<std::unique_ptr<AdminServer>> StartAdmin(const Config& config,
                                                const StateBoard* board,
                                                CommandQueue* commands,
                                                const Metrics* metrics,
                                                AppScraper* app_scraper) {
  Result<HostPort> address = ParseHostPort(config.admin);
  if (!address.ok()) return address.status().Wrap("admin");
  AdminOptions options;
  options.host = address->host;
  options.port = address->port;
  auto admin = std::make_unique<AdminServer>(options, board, commands, metrics);
  admin->SetAppScraper(app_scraper);
  Status s = admin->Start();
  if (!s.ok()) return s;
  spdlog::info("admin (read-only) on {}:{}", options.host, admin->port());
  return admin;
}

Result<std::unique_ptr<ControlServer>> StartControl(const Config& config,
                                                    const std::string& path,
                                                    CommandQueue* commands) {
  ControlOptions options;
  options.path = path;
  auto control = std::make_unique<ControlServer>(options, commands);
  AddJobRoutes(*control, commands, options.command_timeout, LongestRun(config));
  Status s = control->Start();
  if (!s.ok()) return s;
  spdlog::info("control socket {}", path);
  return control;
}

// Whether the app gets the listen shim and a Node IPC channel; says so in
// the log, in one line, when the shim cannot reach the app.
CompatPlan PlanWorkerCompat(const Config& config, const std::string& executable,
                            const std::string& path_env) {
  CompatPlan plan = PlanCompat(config, executable, path_env, FindShim());
  if (plan.shim()) {
    spdlog::info(
        "compat.listen: workers that bind port {} get their slot's socket "
        "(listen shim {})",
        config.listeners.front().port, plan.shim_path);
  } else if (!plan.no_shim_reason.empty()) {
    // Info, not a warning: an app written for socket activation (fd 3) is
    // fine; one that binds PORT itself gets the cause again if it crashes.
    spdlog::info(
        "compat.listen: {}, so an LD_PRELOAD shim cannot reach it: it must "
        "serve the socket corefork passes as fd 3 (LISTEN_FDS) or bind PORT "
        "with SO_REUSEPORT, else it fails with EADDRINUSE",
        plan.no_shim_reason);
  }
  if (plan.node_ipc)
    spdlog::debug("compat.node_ipc: workers get NODE_CHANNEL_FD");
  return plan;
}

// Everything that can fail before the first worker starts, then the loop.
int Run(Config config) {
  // Thousands of admin connections need fds, not threads; children get the
  // original limit back (os/fd_limit.h).
  RaiseFdLimit();
  Status s = BlockHandledSignals();
  if (s.ok()) s = BecomeChildSubreaper();
  if (!s.ok()) {
    spdlog::critical("{}", s.message());
    return ToInt(ExitCode::kStartup);
  }

  CgroupInfo cgroup = DetectCgroup(config.cgroup_root);
  SizingDecision sizing =
      DecideWorkers(cgroup, config.workers, CpuRequestMillicores());
  spdlog::info("{}", sizing.reason);
  for (const std::string& note : cgroup.notes) spdlog::info("cgroup: {}", note);

  const char* path = std::getenv("PATH");
  const std::string path_env = path ? path : "/usr/local/bin:/usr/bin:/bin";
  int exec_error = 0;
  Result<std::string> executable =
      ResolveExecutable(config.command[0], path_env, &exec_error);
  if (!executable.ok()) {
    spdlog::critical("cannot run {}", executable.status().message());
    return ExitCodeForExecError(exec_error);
  }
  // A directory or a file the kernel cannot exec: say so before binding.
  Result<ExecutableInfo> program = InspectExecutable(*executable);
  if (!program.ok()) {
    spdlog::critical("cannot run {}", program.status().message());
    return ExitCodeForExecError(EACCES);
  }
  CompatPlan compat = PlanWorkerCompat(config, *executable, path_env);
  config.ready.mode = compat.ready_mode;

  ListenerSet listeners(config.listeners);
  s = listeners.Open(sizing.workers);
  for (const ListenerConfig& l : listeners.configs()) {
    if (!s.ok()) break;
    spdlog::info("listening on {}:{} ({}, {})", l.host, l.port, l.name,
                 l.mode == ShareMode::kReusePort ? "one socket per worker"
                                                 : "one shared socket");
    if (l.mode == ShareMode::kShared && sizing.workers > 1) {
      spdlog::info(
          "listener {}: in shared mode the kernel does not balance accept() "
          "across workers (one may take most connections); reuseport does",
          l.name);
    }
  }
  Result<RuntimePaths> paths = PrepareRuntimePaths(config.control.socket);
  if (s.ok() && !paths.ok()) s = paths.status();

  StateBoard board;
  Result<std::unique_ptr<CommandQueue>> queue = CommandQueue::Create();
  if (s.ok() && !queue.ok()) s = queue.status();
  CommandQueue* commands = queue.ok() ? queue->get() : nullptr;
  Metrics metrics(COREFORK_VERSION);
  metrics.SetLimits(cgroup.cpu_quota_cores, cgroup.memory_limit_bytes);
  std::unique_ptr<AppScraper> app_scraper;  // outlives the admin server
  if (!config.app_metrics.path.empty()) {
    app_scraper = std::make_unique<AppScraper>(config.app_metrics, &metrics);
  }
  std::unique_ptr<AdminServer> admin;
  std::unique_ptr<ControlServer> control;
  if (s.ok()) {
    Result<std::unique_ptr<AdminServer>> started =
        StartAdmin(config, &board, commands, &metrics, app_scraper.get());
    s = started.status();
    if (s.ok()) admin = std::move(started).value();
  }
  if (s.ok()) {
    Result<std::unique_ptr<ControlServer>> started =
        StartControl(config, paths->control_socket, commands);
    s = started.status();
    if (s.ok()) control = std::move(started).value();
  }
  if (!s.ok()) {
    spdlog::critical("{}", s.message());
    return ToInt(ExitCode::kStartup);
  }

  SupervisorContext context;
  context.executable = *executable;
  context.listeners = &listeners;
  context.cgroup = cgroup;
  context.sizing = sizing;
  context.board = &board;
  context.commands = commands;
  context.metrics = &metrics;
  context.notify_socket_path = paths->notify_socket;
  context.control_socket_path = paths->control_socket;
  context.job_concurrency =
      std::max(1, static_cast<int>(std::ceil(cgroup.effective_cpus)));
  context.compat = std::move(compat);
  context.cgroup_root = config.cgroup_root;
  context.cpu_request_millicores = CpuRequestMillicores();
  Supervisor supervisor(config, std::move(context));
  ReleaseStartupOnlyLibraries();
  ExitCode code = supervisor.Run();
  control->Stop();
  admin->Stop();
  spdlog::info("exiting with {}", ToInt(code));
  return ToInt(code);
}

int Main(int argc, char** argv) {
  Invocation invocation;
  std::vector<ConfigError> errors;
  if (!ParseCommandLine(argc, argv, &invocation, &errors)) {
    return PrintErrors(errors);
  }
  switch (invocation.mode) {
    case Invocation::Mode::kHelp:
      std::cout << UsageText();
      return 0;
    case Invocation::Mode::kVersion:
      std::cout << "corefork " << COREFORK_VERSION << "\n";
      return 0;
    case Invocation::Mode::kCheckConfig:
      return CheckConfig(invocation);
    case Invocation::Mode::kDetect:
    case Invocation::Mode::kRun:
    case Invocation::Mode::kClient:
      break;
  }

  Config config;
  // Only run mode requires a command; detect just needs the sizing keys and
  // the client commands the addresses.
  if (!LoadConfig(invocation, EnvironmentStrings(), &config, &errors)) {
    return PrintErrors(errors);
  }
  // A client finds corefork as the server would, from the same config.
  if (invocation.mode == Invocation::Mode::kClient) {
    return RunClientCommand(invocation, config);
  }
  Status s = SetupLogging(config.log.format, config.log.level);
  if (!s.ok()) {
    std::fprintf(stderr, "corefork: %s\n", s.message().c_str());
    return ToInt(ExitCode::kUsage);
  }
  if (invocation.mode == Invocation::Mode::kDetect) {
    return Detect(invocation, config);
  }
  return Run(config);
}

}  // namespace
}  // namespace corefork

int main(int argc, char** argv) { return corefork::Main(argc, argv); }
