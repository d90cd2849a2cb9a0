#include "config/yaml_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <climits>
#include <span>

#include "config/jobs_config.h"
#include "config/settings.h"
#include "config/values.h"
#include "config/yaml_reader.h"

namespace corefork {
namespace {

// The schema, one table per section. Top-level scalars (workers, admin,
// log_*, port, host) come from the shared Settings table instead.

Status ApplyListenerName(std::string_view v, ListenerConfig* l) {
  bool ok = !v.empty();
  for (char c : v) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                c == '.' || c == '-');
  }
  if (!ok) {
    return Status::InvalidArgument(fmt::format(
        "expected a name of letters, digits, '_', '.' or '-', got {}",
        Quote(v)));
  }
  l->name = std::string(v);
  return Status::Ok();
}

constexpr std::array<YamlField<ListenerConfig>, 5> kListenerFields = {{
    {"name", ApplyListenerName},
    {"host",
     [](std::string_view v, ListenerConfig* l) {
       return StoreParsed(ParseHost(v), &l->host);
     }},
    {"port",
     [](std::string_view v, ListenerConfig* l) {
       return StoreParsed(ParsePort(v), &l->port);
     }},
    {"backlog",
     [](std::string_view v, ListenerConfig* l) {
       return StoreParsed(ParseInt(v, 1, 65535), &l->backlog);
     }},
    {"mode",
     [](std::string_view v, ListenerConfig* l) {
       return StoreParsed(ParseShareMode(v), &l->mode);
     }},
}};

Status ApplyMemoryPerWorker(std::string_view v, SizingConfig* s) {
  Result<uint64_t> bytes = ParseSize(v);
  if (bytes.ok() && *bytes == 0) {
    return Status::InvalidArgument(fmt::format(
        "expected a size > 0 like 512Mi or 2G (or null), got {}", Quote(v)));
  }
  return StoreParsed(std::move(bytes), &s->memory_per_worker);
}

Status ApplyFollowInterval(std::string_view v, SizingConfig* s) {
  Result<Duration> d = ParseDuration(v);
  if (d.ok() && *d < Duration(100)) {
    return Status::InvalidArgument(
        fmt::format("expected a duration of at least 100ms, got {}", Quote(v)));
  }
  return StoreParsed(std::move(d), &s->follow_interval);
}

constexpr std::array<YamlField<SizingConfig>, 7> kSizingFields = {{
    {"per_cpu",
     [](std::string_view v, SizingConfig* s) {
       return StoreParsed(ParseNumber(v, 0, /*exclusive=*/true), &s->per_cpu);
     }},
    {"rounding",
     [](std::string_view v, SizingConfig* s) {
       return StoreParsed(ParseRounding(v), &s->rounding);
     }},
    {"min",
     [](std::string_view v, SizingConfig* s) {
       return StoreParsed(ParseInt(v, 1, INT_MAX), &s->min);
     }},
    {"max",
     [](std::string_view v, SizingConfig* s) {
       return StoreParsed(ParseInt(v, 1, INT_MAX), &s->max);
     }},
    {"memory_per_worker", ApplyMemoryPerWorker,
     [](SizingConfig* s) { s->memory_per_worker.reset(); }},
    {"follow",
     [](std::string_view v, SizingConfig* s) {
       return StoreParsed(ParseBool(v), &s->follow);
     }},
    {"follow_interval", ApplyFollowInterval},
}};

constexpr std::array<YamlField<RestartConfig>, 5> kRestartFields = {{
    {"initial_delay",
     [](std::string_view v, RestartConfig* r) {
       return StoreParsed(ParseDuration(v), &r->initial_delay);
     }},
    {"factor",
     [](std::string_view v, RestartConfig* r) {
       return StoreParsed(ParseNumber(v, 1, /*exclusive=*/false), &r->factor);
     }},
    {"max_delay",
     [](std::string_view v, RestartConfig* r) {
       return StoreParsed(ParseDuration(v), &r->max_delay);
     }},
    {"reset_after",
     [](std::string_view v, RestartConfig* r) {
       return StoreParsed(ParseDuration(v), &r->reset_after);
     }},
    {"max_failures",
     [](std::string_view v, RestartConfig* r) {
       return StoreParsed(ParseInt(v, 0, INT_MAX), &r->max_failures);
     }},
}};

constexpr std::array<YamlField<ShutdownConfig>, 4> kShutdownFields = {{
    {"drain_delay",
     [](std::string_view v, ShutdownConfig* s) {
       return StoreParsed(ParseDuration(v), &s->drain_delay);
     }},
    {"timeout",
     [](std::string_view v, ShutdownConfig* s) {
       return StoreParsed(ParseDuration(v), &s->timeout);
     }},
    {"stop_signal",
     [](std::string_view v, ShutdownConfig* s) {
       return StoreParsed(ParseSignal(v), &s->stop_signal);
     }},
    {"message",
     [](std::string_view v, ShutdownConfig* s) {
       return StoreParsed(ParseBool(v), &s->message);
     }},
}};

Status ApplyMinWorkers(std::string_view v, ReadyConfig* r) {
  Result<CountOrPercent> parsed = ParseCountOrPercent(v);
  if (!parsed.ok()) return parsed.status();
  r->min_workers = parsed->value;
  r->min_workers_percent = parsed->percent;
  return Status::Ok();
}

constexpr std::array<YamlField<ReadyConfig>, 3> kReadyFields = {{
    {"mode",
     [](std::string_view v, ReadyConfig* r) {
       return StoreParsed(ParseReadyMode(v), &r->mode);
     }},
    {"timeout",
     [](std::string_view v, ReadyConfig* r) {
       return StoreParsed(ParseDuration(v), &r->timeout);
     }},
    {"min_workers", ApplyMinWorkers},
}};

constexpr std::array<YamlField<WatchdogConfig>, 2> kWatchdogFields = {{
    {"timeout",
     [](std::string_view v, WatchdogConfig* w) {
       return StoreParsed(ParseDuration(v), &w->timeout);
     }},
    {"grace",
     [](std::string_view v, WatchdogConfig* w) {
       return StoreParsed(ParseDuration(v), &w->grace);
     }},
}};

Status ApplyControlSocket(std::string_view v, ControlConfig* c) {
  // sun_path holds 108 bytes including the terminating NUL.
  if (v.empty() || v.size() > 107 || v.front() != '/') {
    return Status::InvalidArgument(fmt::format(
        "expected an absolute path of at most 107 bytes, got {}", Quote(v)));
  }
  c->socket = std::string(v);
  return Status::Ok();
}

constexpr std::array<YamlField<ControlConfig>, 1> kControlFields = {{
    {"socket", ApplyControlSocket},
}};

constexpr std::array<YamlField<CompatConfig>, 2> kCompatFields = {{
    {"listen",
     [](std::string_view v, CompatConfig* c) {
       return StoreParsed(ParseCompatListen(v), &c->listen);
     }},
    {"node_ipc",
     [](std::string_view v, CompatConfig* c) {
       return StoreParsed(ParseNodeIpc(v), &c->node_ipc);
     }},
}};

constexpr std::array<YamlField<SteeringConfig>, 2> kSteeringFields = {{
    {"mode",
     [](std::string_view v, SteeringConfig* s) {
       return StoreParsed(ParseSteeringMode(v), &s->mode);
     }},
    {"line_ports",
     [](std::string_view v, SteeringConfig* s) {
       return StoreParsed(ParseInt(v, 1024, 65535 - 4 * 1024), &s->line_ports);
     }},
}};

constexpr std::array<YamlField<AppMetricsConfig>, 3> kAppMetricsFields = {{
    {"path",
     [](std::string_view v, AppMetricsConfig* m) {
       return StoreParsed(ParseRequestPath(v), &m->path);
     }},
    {"timeout",
     [](std::string_view v, AppMetricsConfig* m) {
       return StoreParsed(ParseDuration(v), &m->timeout);
     }},
    {"max_bytes",
     [](std::string_view v, AppMetricsConfig* m) {
       return StoreParsed(ParseSize(v), &m->max_bytes);
     }},
}};

constexpr std::array<YamlField<WorkerProbeConfig>, 4> kWorkerProbeFields = {{
    {"path",
     [](std::string_view v, WorkerProbeConfig* p) {
       return StoreParsed(ParseRequestPath(v), &p->path);
     }},
    {"interval",
     [](std::string_view v, WorkerProbeConfig* p) {
       return StoreParsed(ParseDuration(v), &p->interval);
     }},
    {"timeout",
     [](std::string_view v, WorkerProbeConfig* p) {
       return StoreParsed(ParseDuration(v), &p->timeout);
     }},
    {"failures",
     [](std::string_view v, WorkerProbeConfig* p) {
       return StoreParsed(ParseInt(v, 1, 1000), &p->failures);
     }},
}};

constexpr std::array<YamlField<LogConfig>, 1> kLogsFields = {{
    {"workers",
     [](std::string_view v, LogConfig* l) {
       return StoreParsed(ParseWorkerLogMode(v), &l->workers);
     }},
}};

Status ApplyMaxRss(std::string_view v, RecycleConfig* r) {
  return StoreParsed(ParseMaxRss(v), &r->max_rss);
}

Status ApplyMaxLifetime(std::string_view v, RecycleConfig* r) {
  Result<Duration> d = ParseDuration(v);
  if (d.ok() && d->count() != 0 && *d < Duration(1'000)) {
    return Status::InvalidArgument(fmt::format(
        "expected 0 (off) or a duration of at least 1s, got {}", Quote(v)));
  }
  return StoreParsed(std::move(d), &r->max_lifetime);
}

Status ApplyCheckInterval(std::string_view v, RecycleConfig* r) {
  Result<Duration> d = ParseDuration(v, std::chrono::hours(1));
  if (d.ok() && *d < Duration(100)) {
    return Status::InvalidArgument(
        fmt::format("expected a duration of at least 100ms, got {}", Quote(v)));
  }
  return StoreParsed(std::move(d), &r->check_interval);
}

constexpr std::array<YamlField<RecycleConfig>, 7> kRecycleFields = {{
    {"max_rss", ApplyMaxRss, [](RecycleConfig* r) { r->max_rss.reset(); }},
    {"max_lifetime", ApplyMaxLifetime},
    {"jitter",
     [](std::string_view v, RecycleConfig* r) {
       return StoreParsed(ParsePercent(v, 0, 90), &r->jitter);
     }},
    {"schedule",
     [](std::string_view v, RecycleConfig* r) {
       return StoreParsed(CronSchedule::Parse(v), &r->schedule);
     },
     [](RecycleConfig* r) { r->schedule.reset(); }},
    {"timezone",
     [](std::string_view v, RecycleConfig* r) {
       return StoreParsed(TimeZone::Load(v), &r->timezone);
     }},
    {"memory_pressure",
     [](std::string_view v, RecycleConfig* r) {
       return StoreParsed(ParsePercent(v, 1, 100), &r->memory_pressure);
     },
     [](RecycleConfig* r) { r->memory_pressure.reset(); }},
    {"check_interval", ApplyCheckInterval},
}};

// A section whose only key holds a map of fields: metrics.app, health.worker.
template <typename T>
void ApplyNested(YamlReader& r, const YamlEntry& e, std::string_view key,
                 std::span<const YamlField<T>> fields, T* target) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) return r.Expected(e, "a map");
  const std::vector<std::string_view> keys = {key};
  for (const YamlEntry& inner : r.Entries(e.value, e.path, &keys)) {
    r.ApplyFields<T>(inner, fields, target);
  }
}

const std::vector<std::string_view> kTopKeys = {
    "command",    "workers",   "port",     "host",  "admin",       "listeners",
    "sizing",     "restart",   "shutdown", "ready", "watchdog",    "control",
    "log_format", "log_level", "env",      "jobs",  "job_history", "compat",
    "steering",   "metrics",   "health",   "logs",  "recycle"};

// A key that belongs to a section, written at the top level.
template <typename T>
std::optional<std::string> FindInSection(std::string_view section,
                                         std::span<const YamlField<T>> fields,
                                         std::string_view key) {
  for (const YamlField<T>& field : fields) {
    if (field.key == key) return fmt::format("{}.{}", section, key);
  }
  return std::nullopt;
}

std::optional<std::string> TopLevelHint(std::string_view key) {
  if (key == "shutdown_timeout") return "shutdown.timeout";
  if (auto s = FindInSection<SizingConfig>("sizing", kSizingFields, key)) {
    return s;
  }
  if (auto s = FindInSection<RestartConfig>("restart", kRestartFields, key)) {
    return s;
  }
  return FindInSection<ShutdownConfig>("shutdown", kShutdownFields, key);
}

void ApplyCommand(YamlReader& r, const YamlEntry& e, Config* config,
                  Origins* origins) {
  if (e.value.IsNull()) return;
  origins->command = r.At(e);
  origins->command.path.clear();
  if (!e.value.IsSequence()) {
    r.Expected(e, "a list of strings (argv), e.g. [node, server.js]");
    return;
  }
  std::vector<std::string> argv;
  for (size_t i = 0; i < e.value.size(); ++i) {
    YamlEntry item{"", fmt::format("command[{}]", i), e.key_node, e.value[i]};
    if (!item.value.IsScalar()) {
      r.Expected(item, "a string");
    } else if (i == 0 && item.value.Scalar().empty()) {
      r.Expected(item, "a program name");
    } else {
      argv.push_back(item.value.Scalar());
    }
  }
  config->command = std::move(argv);
}

void ApplyListeners(YamlReader& r, const YamlEntry& e, Config* config,
                    Origins* origins) {
  constexpr std::string_view kWhat =
      "a list of listeners (maps of name, host, port, backlog, mode)";
  if (e.value.IsNull()) return;
  if (!e.value.IsSequence()) return r.Expected(e, kWhat);
  if (e.value.size() == 0) {
    return r.Error(r.At(e),
                   "expected at least one listener, got an empty list");
  }
  std::vector<ListenerConfig> listeners(e.value.size());
  std::vector<Origin> where;
  for (size_t i = 0; i < e.value.size(); ++i) {
    std::string path = fmt::format("listeners[{}]", i);
    // A null item ("-" alone) has no useful mark; point at `listeners:`.
    const YAML::Node& item = e.value[i];
    YamlEntry section{path, path, e.key_node, item};
    where.push_back(r.At(item.IsNull() ? e.key_node : item, path));
    if (!item.IsMap()) {
      r.Expected(section, "a map of name, host, port, backlog, mode");
      continue;
    }
    r.ApplyFields<ListenerConfig>(section, kListenerFields, &listeners[i]);
  }
  config->listeners = std::move(listeners);
  origins->listeners = std::move(where);
}

bool ValidEnvName(std::string_view name) {
  return !name.empty() && name.find('=') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// Variables that make up the worker contract: corefork sets them for each
// worker, so a value from `env:` would silently break the app's port or
// readiness.
bool ReservedEnvName(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "LISTEN_FDS",
      "LISTEN_PID",
      "LISTEN_FDNAMES",
      "NOTIFY_SOCKET",
      "PORT",
      "WATCHDOG_USEC",
      "WATCHDOG_PID",
      "NODE_CHANNEL_FD",
      "NODE_CHANNEL_SERIALIZATION_MODE"};
  for (std::string_view reserved : kReserved) {
    if (name == reserved) return true;
  }
  return name.starts_with("COREFORK_");
}

void ApplyEnv(YamlReader& r, const YamlEntry& e, Config* config) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) return r.Expected(e, "a map of NAME: value");
  for (const YamlEntry& var : r.Entries(e.value, e.path, nullptr)) {
    if (!ValidEnvName(var.key)) {
      r.Error(r.At(var.key_node, e.path),
              fmt::format("expected a variable name without '=', got {}",
                          Quote(var.key)));
    } else if (ReservedEnvName(var.key)) {
      r.Error(r.At(var.key_node, e.path),
              fmt::format("{} is set by corefork for every worker (LISTEN_*, "
                          "NOTIFY_SOCKET, PORT, WATCHDOG_*, NODE_CHANNEL_*, "
                          "COREFORK_* are reserved); use `port:`, `ready:` "
                          "or `compat:` instead",
                          var.key));
    } else if (var.value.IsNull()) {
      config->env[var.key] = "";
    } else if (!var.value.IsScalar()) {
      r.Expected(var, "a string");
    } else {
      config->env[var.key] = var.value.Scalar();
    }
  }
}

void ApplySizing(YamlReader& r, const YamlEntry& e, Config* config,
                 Origins* origins) {
  std::vector<YamlEntry> entries =
      r.ApplyFields<SizingConfig>(e, kSizingFields, &config->workers);
  // max < min is blamed on max when the file sets it, else on min.
  const YamlEntry* blame = nullptr;
  for (const YamlEntry& entry : entries) {
    if (entry.key == "max" || (entry.key == "min" && blame == nullptr)) {
      blame = &entry;
    }
  }
  if (blame != nullptr) origins->sizing_max = r.At(*blame);
}

// Top-level scalars share their parsers with COREFORK_* and the flags.
void ApplySetting(YamlReader& r, const YamlEntry& e, Config* config) {
  const Setting* setting = FindSettingByKey(e.key);
  if (setting == nullptr) return;
  r.ApplyScalar(e, YamlField<Config>{setting->key, setting->apply}, config);
}

void ApplyTopLevelEntry(YamlReader& r, const YamlEntry& e, Config* config,
                        Origins* origins) {
  if (e.key == "command") {
    ApplyCommand(r, e, config, origins);
  } else if (e.key == "listeners") {
    ApplyListeners(r, e, config, origins);
  } else if (e.key == "env") {
    ApplyEnv(r, e, config);
  } else if (e.key == "sizing") {
    ApplySizing(r, e, config, origins);
  } else if (e.key == "restart") {
    r.ApplyFields<RestartConfig>(e, kRestartFields, &config->restart);
  } else if (e.key == "shutdown") {
    r.ApplyFields<ShutdownConfig>(e, kShutdownFields, &config->shutdown);
  } else if (e.key == "ready") {
    r.ApplyFields<ReadyConfig>(e, kReadyFields, &config->ready);
  } else if (e.key == "watchdog") {
    r.ApplyFields<WatchdogConfig>(e, kWatchdogFields, &config->watchdog);
  } else if (e.key == "jobs") {
    ApplyJobs(r, e, config);
  } else if (e.key == "job_history") {
    ApplyJobHistory(r, e, config);
  } else if (e.key == "control") {
    r.ApplyFields<ControlConfig>(e, kControlFields, &config->control);
  } else if (e.key == "compat") {
    r.ApplyFields<CompatConfig>(e, kCompatFields, &config->compat);
  } else if (e.key == "steering") {
    r.ApplyFields<SteeringConfig>(e, kSteeringFields, &config->steering);
  } else if (e.key == "metrics") {
    ApplyNested<AppMetricsConfig>(r, e, "app", kAppMetricsFields,
                                  &config->app_metrics);
  } else if (e.key == "recycle") {
    r.ApplyFields<RecycleConfig>(e, kRecycleFields, &config->recycle);
  } else if (e.key == "logs") {
    r.ApplyFields<LogConfig>(e, kLogsFields, &config->log);
  } else if (e.key == "health") {
    ApplyNested<WorkerProbeConfig>(r, e, "worker", kWorkerProbeFields,
                                   &config->worker_probe);
  } else {
    ApplySetting(r, e, config);
    if (e.key == "admin") origins->admin = r.At(e);
  }
}

void ApplyDocument(YamlReader& r, const YAML::Node& doc, Config* config,
                   Origins* origins) {
  if (doc.IsNull()) return;  // an empty file: all defaults
  if (!doc.IsMap()) {
    r.Error(r.At(doc, ""),
            fmt::format("expected a map of settings (key: value) at the top "
                        "level, got {}",
                        DescribeNode(doc)));
    return;
  }
  std::vector<YamlEntry> entries = r.Entries(doc, "", &kTopKeys, TopLevelHint);
  for (const YamlEntry& e : entries) {
    if (e.key != "port" && e.key != "host") {
      ApplyTopLevelEntry(r, e, config, origins);
    }
  }
  // The shorthands refine listeners[0] wherever they appear in the file.
  for (const YamlEntry& e : entries) {
    if (e.key == "port" || e.key == "host") {
      ApplySetting(r, e, config);
      origins->listeners.resize(config->listeners.size());
      origins->listeners[0] = r.At(e);
    }
  }
}

}  // namespace

bool ParseYaml(const std::string& text, const std::string& file_name,
               Config* config, Origins* origins,
               std::vector<ConfigError>* errors) {
  YamlReader reader(file_name, errors);
  origins->command = Origin{file_name, 0, 0, ""};
  try {
    // Not YAML::LoadAll: it never returns on a stray "," (yaml-cpp 0.7).
    YamlDocuments docs = LoadYamlDocuments(text);
    if (docs.count > 1) {
      reader.Error(reader.At(docs.second, ""),
                   fmt::format("expected one YAML document, found {}{}",
                               docs.count, docs.count >= 16 ? " or more" : ""));
    }
    if (docs.count > 0) ApplyDocument(reader, docs.first, config, origins);
    return true;
  } catch (const YAML::Exception& e) {
    // ParserException and friends: a syntax error with yaml-cpp's mark.
    bool has_mark = e.mark.line >= 0 && e.mark.column >= 0;
    errors->push_back(ConfigError{file_name, has_mark ? e.mark.line + 1 : 0,
                                  has_mark ? e.mark.column + 1 : 0,
                                  "invalid YAML: " + e.msg});
  } catch (const std::exception& e) {
    errors->push_back(
        ConfigError{file_name, 0, 0, std::string("invalid YAML: ") + e.what()});
  }
  return false;
}

bool ApplyYaml(const std::string& text, const std::string& file_name,
               Config* config, std::vector<ConfigError>* errors) {
  const size_t errors_before = errors->size();
  Origins origins;
  origins.listeners.clear();
  for (size_t i = 0; i < config->listeners.size(); ++i) {
    origins.listeners.push_back(
        Origin{"defaults", 0, 0, fmt::format("listeners[{}]", i)});
  }
  ParseYaml(text, file_name, config, &origins, errors);
  if (errors->size() == errors_before) CheckClashes(*config, origins, errors);
  return errors->size() == errors_before;
}

}  // namespace corefork
