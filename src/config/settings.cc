#include "config/settings.h"

#include <array>

#include "config/values.h"

namespace corefork {
namespace {

// `port` and `host` are shorthands for the first listener.
ListenerConfig& FirstListener(Config* config) {
  if (config->listeners.empty()) config->listeners.emplace_back();
  return config->listeners.front();
}

Status ApplyAdmin(std::string_view value, Config* config) {
  Result<HostPort> address = ParseHostPort(value);
  if (!address.ok()) return address.status();
  config->admin = std::string(value);
  return Status::Ok();
}

constexpr std::array<Setting, 12> kSettings = {{
    {"workers", "COREFORK_WORKERS", "--workers",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseWorkers(v), &c->workers.count);
     }},
    {"port", "COREFORK_PORT", "--port",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParsePort(v), &FirstListener(c).port);
     }},
    {"host", "COREFORK_HOST", "--host",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseHost(v), &FirstListener(c).host);
     }},
    {"admin", "COREFORK_ADMIN", "--admin", ApplyAdmin},
    {"log_format", "COREFORK_LOG_FORMAT", "--log-format",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseLogFormat(v), &c->log.format);
     }},
    {"log_level", "COREFORK_LOG_LEVEL", "--log-level",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseLogLevel(v), &c->log.level);
     }},
    {"logs_workers", "COREFORK_LOGS_WORKERS", "--logs-workers",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseWorkerLogMode(v), &c->log.workers);
     }},
    {"drain_delay", "COREFORK_DRAIN_DELAY", "--drain-delay",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseDuration(v), &c->shutdown.drain_delay);
     }},
    {"shutdown_timeout", "COREFORK_SHUTDOWN_TIMEOUT", "--shutdown-timeout",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseDuration(v), &c->shutdown.timeout);
     }},
    {"ready_mode", "COREFORK_READY_MODE", "--ready-mode",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseReadyMode(v), &c->ready.mode);
     }},
    {"compat_listen", "COREFORK_COMPAT_LISTEN", "--compat-listen",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseCompatListen(v), &c->compat.listen);
     }},
    {"compat_node_ipc", "COREFORK_COMPAT_NODE_IPC", "--compat-node-ipc",
     [](std::string_view v, Config* c) {
       return StoreParsed(ParseNodeIpc(v), &c->compat.node_ipc);
     }},
}};

template <typename Member>
const Setting* FindBy(Member member, std::string_view name) {
  for (const Setting& setting : kSettings) {
    if (setting.*member == name) return &setting;
  }
  return nullptr;
}

}  // namespace

std::span<const Setting> Settings() { return kSettings; }

const Setting* FindSettingByKey(std::string_view key) {
  return FindBy(&Setting::key, key);
}

const Setting* FindSettingByEnvVar(std::string_view env_var) {
  return FindBy(&Setting::env_var, env_var);
}

const Setting* FindSettingByFlag(std::string_view flag) {
  return FindBy(&Setting::flag, flag);
}

}  // namespace corefork
